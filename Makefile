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

.PHONY: build test lint run deps clean demo demo-image

## build: the static binary in bin/ (CGO off, trimmed paths, version stamped)
build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/claudette-runner

## test: every test, Docker ones included, against the real engine
test: deps
	go test -count=1 -timeout 60m ./...

## bench: the benchmark suite (bench/) on the real engine, against the binary `build` makes: prints the table and
## writes bench/results.json (about 5 minutes; a quiet machine gives steadier figures)
.PHONY: bench
bench: build deps
	go test ./bench -run '^$$' -bench . -benchtime 1x -timeout 30m -args -runner $(CURDIR)/$(BIN) -results $(CURDIR)/bench/results.json

## lint: formatting, go vet and staticcheck
lint: $(GOBIN)/staticcheck
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	$(GOBIN)/staticcheck ./...

$(GOBIN)/staticcheck:
	go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## deps: what the tests need on a fresh machine of this kind (Debian's busybox-static for the offline sandbox image,
## docker-compose for the deploy test when neither compose v1 nor v2 is there, btrfs-progs to make the loop-mounted
## btrfs the disk-limit tests run on: the runner itself uses ioctls)
deps:
	@command -v mkfs.btrfs >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq btrfs-progs; }
	@test -x /bin/busybox || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static; }
	@command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose; }

## run: build and start the daemon with the settings from the environment or a config file (-c)
run: build
	$(BIN) start

clean:
	rm -rf bin

## demo-image: the offline demo sandbox image (the fake Claude agent on busybox), built with no registry
DEMO_IMAGE ?= claudette/sandbox-demo:latest
demo-image:
	go run ./images/demo/build -tag $(DEMO_IMAGE)

## demo: the main job on a built-in default: one sandboxed turn on this repository with exec. Offline it runs
## the demo agent; with DEMO_IMAGE=claudette/sandbox:latest (make sandbox-image) and ANTHROPIC_API_KEY, the real Claude.
DEMO_DIR ?= $(CURDIR)/data/demo
DEMO_PROMPT ?= Look around this repository and leave a note in DEMO.md.$(newline)PROBE report$(newline)PROBE write /workspace/DEMO.md Hello from a hardened sandbox.
demo: build $(if $(filter claudette/sandbox-demo:%,$(DEMO_IMAGE)),demo-image)
	$(BIN) exec --sandbox-image $(DEMO_IMAGE) --data-dir $(DEMO_DIR) --workspace-dir $(DEMO_DIR)/workspaces \
		--repo . --workspace-id demo "$$DEMO_PROMPT_TEXT"

define newline


endef
export DEMO_PROMPT_TEXT = $(DEMO_PROMPT)

## image: the runner image claudette/runner:$(VERSION) and :latest, FROM scratch, built offline (no pull): the static
## binary from `build`, the host's CA certificates and a root passwd/group entry, copied from a prepared context dir
RUNNER_IMAGE  ?= claudette/runner
IMAGE_CONTEXT ?= bin/image
IMAGE_TAG     := $(subst +,-,$(VERSION))
IMAGE_LABELS  ?=
CA_CERTS      ?= /etc/ssl/certs/ca-certificates.crt
.PHONY: image sandbox-image
image: build
	@test -r $(CA_CERTS) || { echo "make image: no CA certificates at $(CA_CERTS) (apt-get install ca-certificates, or CA_CERTS=...)" >&2; exit 1; }
	rm -rf $(IMAGE_CONTEXT)
	mkdir -p $(IMAGE_CONTEXT)/rootfs/etc/ssl/certs $(IMAGE_CONTEXT)/rootfs/tmp $(IMAGE_CONTEXT)/rootfs/root
	cp $(BIN) $(IMAGE_CONTEXT)/claudette-runner
	cp $(CA_CERTS) $(IMAGE_CONTEXT)/rootfs/etc/ssl/certs/ca-certificates.crt
	printf 'root:x:0:0:root:/root:/sbin/nologin\n' > $(IMAGE_CONTEXT)/rootfs/etc/passwd
	printf 'root:x:0:\n' > $(IMAGE_CONTEXT)/rootfs/etc/group
	printf 'hosts: files dns\n' > $(IMAGE_CONTEXT)/rootfs/etc/nsswitch.conf
	chmod 1777 $(IMAGE_CONTEXT)/rootfs/tmp
	chmod 0700 $(IMAGE_CONTEXT)/rootfs/root
	docker build --pull=false -f Dockerfile \
		--build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) --build-arg CREATED=$(DATE) \
		$(foreach l,$(IMAGE_LABELS),--label $(l)) \
		-t $(RUNNER_IMAGE):$(IMAGE_TAG) -t $(RUNNER_IMAGE):latest $(IMAGE_CONTEXT)

## sandbox-image: the production sandbox (images/sandbox/Dockerfile, the real Claude Code CLI). Needs a container
## registry (the node base image) and the npm registry; where none is reachable it stops with what to do instead.
SANDBOX_IMAGE ?= claudette/sandbox:latest
NODE_IMAGE    ?= node:22-bookworm-slim
sandbox-image:
	@docker image inspect $(NODE_IMAGE) >/dev/null 2>&1 || docker pull $(NODE_IMAGE) || { \
		echo "make sandbox-image: the base image $(NODE_IMAGE) is not here and cannot be pulled (no container registry reachable?)." >&2; \
		echo "  Build it where a registry and npm are reachable, then copy it here:" >&2; \
		echo "    docker save $(SANDBOX_IMAGE) | ssh THIS-HOST docker load   # and run with --sandbox-pull never" >&2; \
		echo "  Offline, 'make demo-image' builds the demo sandbox (a fake Claude CLI) for trying the runner." >&2; \
		exit 1; }
	docker build --build-arg NODE_IMAGE=$(NODE_IMAGE) -t $(SANDBOX_IMAGE) images/sandbox
