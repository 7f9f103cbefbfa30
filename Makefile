# claudette-runner: build, test, lint, run.
SHELL := /bin/bash

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
VERSION_PKG := github.com/claudette-dev/claudette-runner/modules/version
LDFLAGS := -s -w -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Commit=$(COMMIT) -X $(VERSION_PKG).Date=$(DATE)
BIN     := bin/claudette-runner
GOBIN   := $(shell go env GOPATH)/bin
STATICCHECK_VERSION := v0.8.2

.PHONY: build test lint run deps clean demo

## build: the static binary in bin/ (CGO off, trimmed paths, version stamped)
build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/claudette-runner

## test: every test, Docker ones included, against the real engine
test: deps
	go test -count=1 -timeout 60m ./...

## lint: formatting, go vet and staticcheck
lint: $(GOBIN)/staticcheck
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	$(GOBIN)/staticcheck ./...

$(GOBIN)/staticcheck:
	go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## deps: what the tests need on a fresh machine of this kind (Debian's busybox-static for the offline sandbox image)
deps:
	@test -x /bin/busybox || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static; }

## run: build and start the daemon with the settings from the environment or a config file (-c)
run: build
	$(BIN) start

clean:
	rm -rf bin

## demo: the main job on a built-in default: start the runner with a demo configuration that points at
## nothing reachable; it starts, reports not ready with the reason on /readyz, and stops cleanly on Ctrl-C
DEMO_DIR ?= $(CURDIR)/data/demo
demo: build
	CLAUDETTE_RUNNER_TOKEN=demo-token $(BIN) start --runner-id demo \
		--data-dir $(DEMO_DIR) --workspace-dir $(DEMO_DIR)/workspaces \
		--electric-url http://127.0.0.1:1 --orchestrator-url http://127.0.0.1:1/rpc
