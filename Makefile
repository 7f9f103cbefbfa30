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

## test-runsc: the sandbox, relay and isolation tests under gVisor (root). The engine must have Debian's runsc
## registered as $(RUNSC_NAME) with --network=none --host-uds=open; if it has not, the target says how, and with
## RUNSC_REGISTER=1 does it: apt-get install runsc, add the runtime to $(DOCKER_DAEMON_JSON) and reload dockerd with
## SIGHUP (no restart: running containers are not touched)
RUNSC_NAME         ?= runsc
RUNSC_REGISTER     ?=
DOCKER_DAEMON_JSON ?= /etc/docker/daemon.json
.PHONY: test-runsc runsc-register
test-runsc: deps
	@if ! docker info --format '{{json .Runtimes}}' | jq -e 'has("$(RUNSC_NAME)")' >/dev/null; then \
	  if [ "$(RUNSC_REGISTER)" = 1 ]; then $(MAKE) --no-print-directory runsc-register; else \
	  echo "make test-runsc: the docker engine has no runtime $(RUNSC_NAME). Register Debian's runsc (root):" >&2; \
	  echo "  apt-get install runsc" >&2; \
	  echo "  add to $(DOCKER_DAEMON_JSON): \"runtimes\": {\"$(RUNSC_NAME)\": {\"path\": \"/usr/bin/runsc\", \"runtimeArgs\": [\"--network=none\", \"--host-uds=open\"]}}" >&2; \
	  echo "  kill -HUP \$$(pidof dockerd)   # reloads the runtimes; running containers are not touched" >&2; \
	  echo "or run: make test-runsc RUNSC_REGISTER=1" >&2; exit 1; fi; fi
	CLAUDETTE_TEST_RUNTIME=$(RUNSC_NAME) go test -count=1 -timeout 30m ./sandbox ./modules/relay

runsc-register:
	@test "$$(id -u)" = 0 || { echo "runsc-register: run as root" >&2; exit 1; }
	@test -x /usr/bin/runsc || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runsc; }
	@command -v jq >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq; }
	@mkdir -p $(dir $(DOCKER_DAEMON_JSON)); test -s $(DOCKER_DAEMON_JSON) || echo '{}' > $(DOCKER_DAEMON_JSON)
	@cp $(DOCKER_DAEMON_JSON) $(DOCKER_DAEMON_JSON).bak-runsc
	@jq '.runtimes["$(RUNSC_NAME)"] = {"path": "/usr/bin/runsc", "runtimeArgs": ["--network=none", "--host-uds=open"]}' \
	  $(DOCKER_DAEMON_JSON).bak-runsc > $(DOCKER_DAEMON_JSON).tmp && mv $(DOCKER_DAEMON_JSON).tmp $(DOCKER_DAEMON_JSON)
	@kill -HUP $$(pidof dockerd)
	@for i in $$(seq 1 30); do docker info --format '{{json .Runtimes}}' | jq -e 'has("$(RUNSC_NAME)")' >/dev/null && exit 0; sleep 1; done; \
	  echo "runsc-register: dockerd did not load runtime $(RUNSC_NAME); see its log ($(DOCKER_DAEMON_JSON).bak-runsc is the old file)" >&2; exit 1
	@echo "registered runtime $(RUNSC_NAME) with the docker engine"

## lint: formatting, go vet and staticcheck
lint: $(GOBIN)/staticcheck
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	$(GOBIN)/staticcheck ./...

$(GOBIN)/staticcheck:
	go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## deps: what the tests need on a fresh machine of this kind: what the demo needs (deps-demo), and docker-compose
## for the deploy test when neither compose v1 nor v2 is there, gcc for the cgo-built runner test, jq, btrfs-progs to
## make the loop-mounted btrfs the disk-limit tests run on (the runner itself uses ioctls)
deps: deps-demo
	@command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || $(call apt_install,docker-compose)
	@command -v gcc >/dev/null || $(call apt_install,gcc libc6-dev)
	@command -v jq >/dev/null || $(call apt_install,jq)
	@command -v mkfs.btrfs >/dev/null || $(call apt_install,btrfs-progs)
	@command -v mkfs.ext4 >/dev/null || $(call apt_install,e2fsprogs)

## deps-demo: what the offline demo image and `make demo` need: Debian's busybox-static (the image's shell and
## tools) and git (the demo's copy of this repository, and the git CLI the image carries)
.PHONY: deps-demo
BUSYBOX ?= /bin/busybox
deps-demo:
	@test -x $(BUSYBOX) || $(call apt_install,busybox-static)
	@command -v git >/dev/null || $(call apt_install,git)

# apt_install installs Debian packages (as root), or stops with the command to run.
apt_install = { [ "$$(id -u)" = 0 ] && echo "installing $(1) (apt-get)" && apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; } || \
	{ echo "make: this needs the Debian package(s) $(1): run 'sudo apt-get install $(1)', or make as root" >&2; exit 1; }

## run: build and start the daemon with the settings from the environment or a config file (-c)
run: build
	$(BIN) start

clean:
	rm -rf bin

## demo-image: the offline demo sandbox image (the fake Claude agent on busybox), built with no registry
DEMO_IMAGE ?= claudette/sandbox-demo:latest
demo-image: deps-demo
	go run ./images/demo/build -tag $(DEMO_IMAGE)

## demo: the main job on a built-in default: one sandboxed turn on a copy of this repository with exec. The agent
## writes DEMO.md, commits it and pushes it through the runner's git relay to the branch claudette/demo of
## data/demo/origin.git, a bare copy of this repository made afresh each run (never this clone itself); the
## transcript ends with the branch, the commit and how to look at it. Offline it runs the demo agent; with
## DEMO_IMAGE=claudette/sandbox:latest (make sandbox-image) and ANTHROPIC_API_KEY, the real Claude.
DEMO_DIR    ?= $(CURDIR)/data/demo
DEMO_ORIGIN := $(DEMO_DIR)/origin.git
DEMO_BRANCH ?= claudette/demo
DEMO_PROMPT ?= Look around this repository, leave a note in DEMO.md, commit it and push it to the branch $(DEMO_BRANCH).$(newline)PROBE report$(newline)PROBE sh printf 'Hello from a hardened sandbox, %s.\n' "$$(date -u)" > DEMO.md && git add DEMO.md && git commit -q -m 'Leave a note from the sandbox' && git log --oneline -1$(newline)PROBE sh git push origin HEAD:$(DEMO_BRANCH)
demo: build deps-demo $(if $(filter claudette/sandbox-demo:%,$(DEMO_IMAGE)),demo-image)
	@mkdir -p $(DEMO_DIR) && rm -rf $(DEMO_ORIGIN) && git clone --quiet --bare --no-local $(CURDIR) $(DEMO_ORIGIN)
	@echo "demo: $(DEMO_ORIGIN) is a fresh bare copy of this repository; the agent pushes to its branch $(DEMO_BRANCH)"
	$(BIN) exec --sandbox-image $(DEMO_IMAGE) --data-dir $(DEMO_DIR) --workspace-dir $(DEMO_DIR)/workspaces \
		--repo $(DEMO_ORIGIN) --branch $(DEMO_BRANCH) --workspace-id demo-origin "$$DEMO_PROMPT_TEXT"

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
