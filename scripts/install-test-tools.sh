#!/usr/bin/env bash
# Installs the real tools the tests drive, from Debian's packages: promtool (package prometheus)
# and headless Chromium. Idempotent: does nothing for a tool already on PATH.
set -euo pipefail

need=()
command -v promtool >/dev/null || need+=(prometheus)
command -v chromium >/dev/null || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-tools: need root to apt-get install ${need[*]}" >&2
  exit 1
fi
echo "== installing ${need[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d keeps the packages from trying to start their services on a machine without systemd.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
