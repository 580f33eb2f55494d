#!/usr/bin/env bash
# Installs the real programs the tests drive: Prometheus and promtool (Debian's prometheus),
# Alertmanager (prometheus-alertmanager), Chromium and systemd-analyze from Debian's packages, and
# mailpit, helm and goreleaser (its `check` of .goreleaser.yaml) from the Go module proxy, and the
# Azure Storage emulator Azurite from the npm registry (linked into Go's bin directory, where the
# tests look). Idempotent: a tool already installed is left alone.
set -euo pipefail

MAILPIT_VERSION=v1.33.1
HELM_VERSION=v3.22.0
GORELEASER_VERSION=v2.17.0
AZURITE_VERSION=3.35.0

need=()
command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
command -v chromium >/dev/null || need+=(chromium)
command -v systemd-analyze >/dev/null || need+=(systemd)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-tools: need root to apt-get install ${need[*]}" >&2
    exit 1
  fi
  echo "== installing ${need[*]} from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d keeps the packages from starting their services on a machine without systemd.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

gobin="$(go env GOPATH)/bin"
if ! command -v mailpit >/dev/null && [ ! -x "$gobin/mailpit" ]; then
  echo "== installing mailpit $MAILPIT_VERSION with go install"
  go install "github.com/axllent/mailpit@$MAILPIT_VERSION"
fi
if ! command -v helm >/dev/null && [ ! -x "$gobin/helm" ]; then
  echo "== installing helm $HELM_VERSION with go install (a few minutes)"
  go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi
if ! command -v goreleaser >/dev/null && [ ! -x "$gobin/goreleaser" ]; then
  echo "== installing goreleaser $GORELEASER_VERSION with go install (a few minutes, once)"
  go install "github.com/goreleaser/goreleaser/v2@$GORELEASER_VERSION"
fi
if ! command -v azurite-blob >/dev/null && [ ! -x "$gobin/azurite-blob" ]; then
  echo "== installing azurite $AZURITE_VERSION with npm"
  prefix="${XDG_CACHE_HOME:-$HOME/.cache}/purgewatch/azurite-$AZURITE_VERSION"
  npm install --silent --no-audit --no-fund --prefix "$prefix" "azurite@$AZURITE_VERSION" >/dev/null
  mkdir -p "$gobin"
  ln -sf "$prefix/node_modules/.bin/azurite-blob" "$gobin/azurite-blob"
fi
