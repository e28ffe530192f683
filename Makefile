# mqttgame — `make run` plays the demo, `make test` runs every test,
# `make bench` writes BENCHMARKS.md.
# Both install what they miss on a Debian or Ubuntu machine first.
#
# Two modules: the library's (go.mod) and, in e2e/, the suites and the
# benchmark report with the dependencies a game must not inherit
# (e2e/go.mod, which uses this folder for the library). Every Go target
# runs in both.

GO      ?= go
GOROOT  := $(shell $(GO) env GOROOT)
WASMEXEC := $(GOROOT)/lib/wasm/wasm_exec.js

# make run ARGS="-name ann -room den" passes flags to the demo.
ARGS ?=

.PHONY: all test vet unit wasm web run demo matrix bench bench-smoke benchreport fuzz fuzz-short deps deps-go deps-build deps-test deps-peers wasm_exec.js

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

# The demo's smoke test opens real windows on a virtual X server, drawn by
# Mesa's software renderer; its browser test loads the web build in
# headless Chromium.
TEST_DEBS := xvfb libgl1-mesa-dri chromium

# The peers the tests play against: mosquitto and its command-line
# clients, and ejabberd for a two-node cluster (Debian), and MQTT.js
# (npm, pinned by package-lock.json). The
# MQTT.js peer and the WebAssembly tests also need Node.js 20 or later,
# newer than Debian's: it comes with the machine.
PEER_DEBS := mosquitto mosquitto-clients ejabberd

deps-go:
	$(GO) mod download
	cd e2e && $(GO) mod download

deps-build:
	$(call apt_install,$(EBITEN_DEBS))

deps-test:
	$(call apt_install,$(TEST_DEBS))

deps-peers: node_modules/.package-lock.json
	$(call apt_install,$(PEER_DEBS))

# npm ci writes node_modules/.package-lock.json: it runs again when the
# lockfile changes, or when node_modules is gone.
node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null || { echo "Node.js 20 or later, with npm, is needed: MQTT.js peers and WebAssembly tests run under it"; exit 1; }
	npm ci --no-audit --no-fund

deps: deps-go deps-build

# wasm_exec.js comes from the Go toolchain that builds the browser version.
wasm_exec.js:
	@cmp -s $(WASMEXEC) wasm_exec.js || cp $(WASMEXEC) wasm_exec.js

vet: deps wasm_exec.js
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	cd e2e && $(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./mqttgame/... ./demo/...
	cd e2e && GOOS=js GOARCH=wasm $(GO) vet ./...

wasm: deps
	GOOS=js GOARCH=wasm $(GO) build ./mqttgame/... ./demo/...
	cd e2e && GOOS=js GOARCH=wasm $(GO) build ./...

# The browser version: web/ holds the page, the game and the toolchain's
# wasm_exec.js, ready for any static server.
# The host serves the compressed copies (.br, .gz) to browsers that take
# them; a static host can do the same with its own rules. Brotli's
# level 5 takes seconds; BROTLI_LEVEL=11 makes game.wasm.br about a sixth
# smaller and takes minutes, for a release.
BROTLI_LEVEL ?= 5
web: deps-go wasm_exec.js
	$(call apt_install,brotli gzip)
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags="-s -w" -o web/game.wasm ./demo
	cp wasm_exec.js web/wasm_exec.js
	@for f in web/game.wasm web/wasm_exec.js; do \
	  gzip -6 -k -f -n $$f && brotli -q $(BROTLI_LEVEL) -f -o $$f.br $$f || exit 1; \
	done
	@printf 'web/game.wasm: %s bytes, %s gzipped, %s with brotli\n' \
	  "$$(wc -c < web/game.wasm)" "$$(wc -c < web/game.wasm.gz)" "$$(wc -c < web/game.wasm.br)"

demo: deps
	$(GO) build -o bin/demo ./demo

# Hosts the broker and the browser version (or joins the copy that does)
# and opens the game; mosquitto-clients gives the mosquitto_sub it
# suggests for watching the traffic.
run: demo web
	$(call apt_install,mosquitto-clients)
	./bin/demo $(ARGS)

# Where the conformance suite writes its matrix and deviation table.
ARTIFACTS := $(CURDIR)/testdata/artifacts

# Most tests wait on the network; -parallel lets the conformance cases
# wait together. A package's tests may take much longer than go test's
# 10-minute default on a machine busy with other work (the fault runs fail
# by themselves when stuck), hence -timeout. e2e's suites run beside the
# library's packages, one at a time (-p 1): the library's own package
# takes longest, and two runs of go test side by side keep both cores
# busy as one run over a single module did. e2e's output follows the
# library's. The whole output is kept in $(ARTIFACTS)/unit.log; when a test fails,
# the failures and any data race reports are repeated at the end, where a
# long log's tail shows them.
UNIT := MQTTGAME_ARTIFACTS=$(ARTIFACTS) $(GO) test -race -count=1 -parallel 8 -timeout 40m
unit: deps deps-test deps-peers
	@mkdir -p $(ARTIFACTS)
	@{ (cd e2e && $(UNIT) -p 1 ./... > $(ARTIFACTS)/unit-e2e.log 2>&1; echo $$? > $(ARTIFACTS)/unit-e2e.status) & \
	  $(UNIT) ./... 2>&1; status=$$?; \
	  wait; cat $(ARTIFACTS)/unit-e2e.log; \
	  [ "$$(cat $(ARTIFACTS)/unit-e2e.status)" = 0 ] || status=1; \
	  echo $$status > $(ARTIFACTS)/unit.status; } | tee $(ARTIFACTS)/unit.log
	@if [ "$$(cat $(ARTIFACTS)/unit.status)" != 0 ]; then \
	  echo "=== the failures again (the whole output: $(ARTIFACTS)/unit.log)"; \
	  grep -E -- '^(\s*--- FAIL|FAIL|panic:)' $(ARTIFACTS)/unit.log; \
	  awk '/^WARNING: DATA RACE/{on=1} on{print} /^==================$$/{on=0}' $(ARTIFACTS)/unit.log | head -200; \
	  exit 1; \
	fi
	@echo "Deviations the conformance suite met (see README.md):"; cat $(ARTIFACTS)/conformance-deviations.txt
	@echo "What the multi-broker beds cannot do (see README.md):"; cat $(ARTIFACTS)/cluster-deviations.txt
	@echo "Failover:"; cat $(ARTIFACTS)/cluster-failover.txt

# matrix runs the conformance suite and the multi-broker cases and, if
# every case passed, rewrites the compatibility matrix and the cluster
# table in README.md from their outcome.
matrix: deps deps-peers
	cd e2e && MQTTGAME_ARTIFACTS=$(ARTIFACTS) MQTTGAME_README=$(CURDIR)/README.md \
		$(GO) test -count=1 -parallel 8 -run 'TestConformance$$' ./conformance/
	cd e2e && MQTTGAME_ARTIFACTS=$(ARTIFACTS) MQTTGAME_README=$(CURDIR)/README.md \
		$(GO) test -count=1 -parallel 8 -run 'TestCluster$$|TestFailover$$' ./cluster/

# bench runs every benchmark natively and compiled to WebAssembly under
# Node, in BENCH_ROUNDS interleaved rounds (benchstat reads the raw
# output it keeps in docs/bench/), and writes BENCHMARKS.md. Run it on
# an idle machine: the figures move with the load. The report is built
# in e2e and runs here, where it builds the library's benchmarks.
BENCH_ROUNDS ?= 6
BENCH_TIME   ?= 1s
bench: deps deps-peers wasm_exec.js benchreport
	./bin/benchreport -rounds $(BENCH_ROUNDS) -benchtime $(BENCH_TIME) -o BENCHMARKS.md -dir docs/bench

# bench-smoke runs every benchmark once, natively and in WebAssembly, and
# the report over them, so that none of it rots; its figures mean nothing.
bench-smoke: deps deps-peers wasm_exec.js benchreport
	./bin/benchreport -rounds 1 -benchtime 1x -profile 100x -o $(ARTIFACTS)/bench-smoke/BENCHMARKS.md -dir $(ARTIFACTS)/bench-smoke

benchreport: deps-go
	cd e2e && $(GO) build -o $(CURDIR)/bin/benchreport ./benchreport

# Fuzz targets, as package:target. Their seed corpora are in the
# packages' testdata/fuzz; `make test` runs each for 20,000 inputs, `make fuzz`
# longer (FUZZTIME=10m make fuzz for longer still).
FUZZ := ./mqttgame:FuzzValidateTopic ./mqttgame:FuzzValidateFilter ./mqttgame:FuzzMatch \
	./mqttgame:FuzzInbox ./mqttgame:FuzzFramingGuard ./mqttgame:FuzzProtocolCheck ./mqttgame/segment:FuzzEscape
FUZZTIME ?= 2m

fuzz: deps-go
	@for t in $(FUZZ); do \
	  echo "fuzzing $${t#*:} for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) $${t%%:*} || exit 1; \
	done

fuzz-short: deps-go
	@$(MAKE) --no-print-directory fuzz FUZZTIME=20000x

test: vet wasm unit fuzz-short bench-smoke
