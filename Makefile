# The targets people type. The version comes from VERSION, the rest from git, and is stamped as
# github.com/prometheus/common/version reads it (purgewatch version, purgewatch_build_info).

VERSION  ?= $(shell cat VERSION)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH   ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
BUILD_USER ?= $(shell whoami)@$(shell hostname)
BUILD_DATE ?= $(shell date -u +%Y%m%d-%H:%M:%S)
IMAGE    ?= ghcr.io/purgewatch/purgewatch
VERSION_PKG := github.com/prometheus/common/version
LDFLAGS  := -s -w -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Revision=$(REVISION) \
	-X $(VERSION_PKG).Branch=$(BRANCH) -X $(VERSION_PKG).BuildUser=$(BUILD_USER) -X $(VERSION_PKG).BuildDate=$(BUILD_DATE)

.PHONY: build test lint image release-check clean

build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o purgewatch ./cmd/purgewatch

test:
	./scripts/test.sh

lint:
	go vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

image:
	docker build -f deploy/Dockerfile --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) \
		--build-arg BRANCH=$(BRANCH) --build-arg BUILD_DATE=$(BUILD_DATE) -t $(IMAGE):$(VERSION) .

# The release configuration (.goreleaser.yaml), checked as goreleaser checks it.
release-check:
	goreleaser check

clean:
	rm -f purgewatch armsim
