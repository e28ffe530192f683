# mqttgame — `make run` plays the demo, `make test` runs every test.
# Both install what they miss on a Debian or Ubuntu machine first.

GO      ?= go
GOROOT  := $(shell $(GO) env GOROOT)
WASMEXEC := $(GOROOT)/lib/wasm/wasm_exec.js

.PHONY: all test vet unit wasm deps deps-go deps-build wasm_exec.js

all: test

# apt_install installs the Debian packages in $(1) that are missing.
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

# Ebitengine's cgo build needs these on Linux.
EBITEN_DEBS := gcc libc6-dev libgl1-mesa-dev libxcursor-dev libxi-dev libxinerama-dev \
	libxrandr-dev libxxf86vm-dev libasound2-dev pkg-config

deps-go:
	$(GO) mod download

deps-build:
	$(call apt_install,$(EBITEN_DEBS))

deps: deps-go deps-build

# wasm_exec.js comes from the Go toolchain that builds the browser version.
wasm_exec.js:
	@cmp -s $(WASMEXEC) wasm_exec.js || cp $(WASMEXEC) wasm_exec.js

vet: deps wasm_exec.js
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./mqttgame/...

wasm: deps
	GOOS=js GOARCH=wasm $(GO) build ./mqttgame/...

unit: deps
	$(GO) test -race -count=1 ./...

test: vet wasm unit
