#!/usr/bin/env bash
# Runs every test of purgewatch on a fresh machine: installs what the tests need, then vet, format,
# the race-enabled test suite and a short fuzz run. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

# The real tools the tests drive (promtool, Chromium); a test that needs one fails under CI=true
# when it is missing, so install them first.
./scripts/install-test-tools.sh

echo "== go vet"
go vet ./...

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "not gofmt-clean: $unformatted" >&2
  exit 1
fi

echo "== staticcheck"
# Pinned, and run through go run so that it needs no install and does not enter go.mod.
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

echo "== go test -race"
go test -race -count=1 ./...

echo "== fuzz softDeletedTime parsing (10s)"
go test -run '^$' -fuzz '^FuzzParseTime$' -fuzztime 10s ./scanner/
