# Smart Image Enhancement. `make run` and `make test` need nothing but Go;
# the client-example tests also use Python (requests) and Node (node-fetch)
# when present, and .ci/run installs them.

GO_TAGS   := nodynamic
GO        := go
BUF       := $(GO) run github.com/bufbuild/buf/cmd/buf@v1.75.0
DATA_DIR  ?= ./data
IMAGES    ?= ../shared/testdata/images

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: build ## Build and start the server with embedded defaults (SQLite, development TLS, a development key).
	exec ./bin/enhanced --dev-account --data-dir $(DATA_DIR)

.PHONY: build
build: ## Build bin/enhanced and bin/enhancectl.
	$(GO) build -tags $(GO_TAGS) -o bin/enhanced ./cmd/enhanced
	$(GO) build -tags $(GO_TAGS) -o bin/enhancectl ./cmd/enhancectl

# The image engine's tests are arithmetic on whole photos: under the race
# detector they take twenty times as long (about 200 s against 10 s on 2
# cores) and find nothing the server tests do not, since those drive every
# engine path, its parallel row workers included, through both doors with
# -race on. So the engine runs without it and everything else with it.
ENGINE_PKGS := ./internal/engine/...
RACE_PKGS    = $(shell $(GO) list ./... | grep -v '/internal/engine')

.PHONY: test
# A package may run for more than go test's default 10 minutes on a loaded
# 2-core machine (internal/app took 8.5 minutes beside a second run).
test: clients ## Run every test (real TLS servers on loopback, real SQLite).
	$(GO) test -tags $(GO_TAGS) -race -count=1 -timeout 30m $(RACE_PKGS)
	$(GO) test -tags $(GO_TAGS) -count=1 -timeout 30m $(ENGINE_PKGS)

.PHONY: clients
clients: ## Install node-fetch for the documented Node example, openapi-typescript for the generated client's test, @grpc/grpc-js for examples/node, and playwright-core and axe-core for the dashboard's browser tests (skipped without npm).
	@if command -v npm >/dev/null 2>&1; then \
		[ -d web/node_modules/playwright-core ] || npm ci --prefix web --no-audit --no-fund --loglevel=error; \
		[ -d testdata/clients/node_modules/node-fetch ] || npm ci --prefix testdata/clients --no-audit --no-fund --loglevel=error; \
		[ -d testdata/openapi-client/node_modules/openapi-typescript ] || npm ci --prefix testdata/openapi-client --no-audit --no-fund --loglevel=error; \
		[ -d examples/node/node_modules/@grpc/grpc-js ] || npm ci --prefix examples/node --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the Node client examples and generated OpenAPI client tests will be skipped"; fi

# The dashboard's pages and scripts are built from web/ (TypeScript by
# tsc, pinned in web/package-lock.json) into internal/dashboard/assets,
# committed and embedded, so that building the server needs only Go.
.PHONY: dashboard
dashboard: ## Rebuild the dashboard's assets (internal/dashboard/assets) from web/ (needs npm).
	@command -v npm >/dev/null 2>&1 || { echo "make dashboard: npm not found: install Node.js with npm (apt-get install nodejs npm)" >&2; exit 1; }
	@[ -d web/node_modules/typescript ] || npm ci --prefix web --no-audit --no-fund --loglevel=error
	node web/build.mjs

.PHONY: checkdashboard
checkdashboard: dashboard ## Fail if internal/dashboard/assets differs from what web/ builds.
	git diff --exit-code -- internal/dashboard/assets
	@test -z "$$(git status --porcelain -- internal/dashboard/assets)" || (git status --porcelain -- internal/dashboard/assets; exit 1)

# Screenshots of each dashboard page at desktop and phone widths, into
# docs/dashboard/ (the browser test's ENHANCE_SCREENSHOTS; needs chromium).
.PHONY: screenshots
screenshots: clients ## Save screenshots of the dashboard's pages into docs/dashboard/ (needs chromium and npm).
	ENHANCE_SCREENSHOTS=$(CURDIR)/docs/dashboard $(GO) test -tags $(GO_TAGS) -count=1 -run '^TestDashboardInBrowser$$' ./cmd/enhanced

.PHONY: bench
bench: ## Run the benchmarks.
	$(GO) test -tags $(GO_TAGS) -run '^$$' -bench . -benchmem ./...

.PHONY: harness
harness: ## Measure quality and speed against ImageMagick and libvips, and Kodak and camera photos apart (generalise); writes docs/quality.md, docs/speed.md, docs/generalisation.md and contact sheets (needs imagemagick and libvips-tools).
	$(GO) run -tags $(GO_TAGS) ./bench -images $(IMAGES) -out docs -only quality,speed,sheets,generalise

.PHONY: load
load: ## Load and latency through both doors with ghz and vegeta, and a 3-minute soak, against a real server on loopback; writes docs/benchmarks.md (about 13 minutes; bench/load/run.sh).
	bash bench/load/run.sh

.PHONY: fuzz
FUZZTIME ?= 60s
fuzz: ## Fuzz the key parser, the decoder, the JPEG encoder and REST requests, FUZZTIME each (crashers land in testdata/fuzz).
	$(GO) test -tags $(GO_TAGS) -run '^$$' -fuzz '^FuzzParseKey$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s ./internal/auth
	$(GO) test -tags $(GO_TAGS) -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s ./internal/engine
	$(GO) test -tags $(GO_TAGS) -run '^$$' -fuzz '^FuzzEncodeJPEG$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s ./internal/engine
	$(GO) test -tags $(GO_TAGS) -run '^$$' -fuzz '^FuzzRESTRequest$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s ./internal/app

# Go code comes from plugins that `go run` fetches (buf.gen.yaml). The
# Python stubs need Debian's protoc and grpc's Python plugin, and the
# TypeScript ones protoc-gen-es from npm, pinned in tools/node. The Python
# stubs are protoc's own output, so they are byte for byte those of the
# protoc that made them: PROTOC_VERSION, Debian 12's and 13's.
PROTOC_VERSION := 3.21.12
ES_PLUGIN      := tools/node/node_modules/.bin/protoc-gen-es

.PHONY: generate
generate: generate-tools ## Regenerate gen/ from proto/ (Go, gRPC, gateway, Python, TypeScript).
	rm -rf gen/smartimage gen/python gen/ts
	$(BUF) generate

.PHONY: generate-tools
generate-tools:
	@command -v protoc >/dev/null 2>&1 || { echo "make generate: protoc not found: install Debian's protobuf-compiler (apt-get install protobuf-compiler protobuf-compiler-grpc)" >&2; exit 1; }
	@v=$$(protoc --version | awk '{print $$2}'); [ "$$v" = "$(PROTOC_VERSION)" ] || { \
		echo "make generate: protoc is $$v; gen/python is made with protoc $(PROTOC_VERSION) (Debian's protobuf-compiler), and another version writes other Python stubs" >&2; exit 1; }
	@command -v grpc_python_plugin >/dev/null 2>&1 || { echo "make generate: grpc_python_plugin not found: install Debian's protobuf-compiler-grpc (apt-get install protobuf-compiler-grpc)" >&2; exit 1; }
	@command -v npm >/dev/null 2>&1 || { echo "make generate: npm not found: install Node.js with npm (apt-get install nodejs npm); it installs protoc-gen-es for the TypeScript stubs" >&2; exit 1; }
	@$(MAKE) --no-print-directory $(ES_PLUGIN)

# npm ci again whenever the lock file changes.
$(ES_PLUGIN): tools/node/package-lock.json
	npm ci --prefix tools/node --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: checkgenerate
checkgenerate: generate ## Fail if gen/ differs from what proto/ generates.
	git diff --exit-code -- gen
	@test -z "$$(git status --porcelain -- gen)" || (git status --porcelain -- gen; exit 1)

# The published v1 API only grows: fields, messages, RPCs and services may
# be added, never removed, renamed, renumbered or retyped, so that clients
# built against v1 keep working. `make breaking` holds proto/ to that
# under buf's FILE rules (buf.yaml), against the v1 protos as they were
# at BREAKING_BASELINE: the last landing of main before the check was
# added (it holds the whole v1 surface then published, and is in every
# clone of main). A change v1 cannot take belongs in v2.
BREAKING_BASELINE := 68061271585b4da8c46351d05e62944fd52e7900

.PHONY: breaking
breaking: ## Fail if proto/ breaks the published v1 API (buf breaking against BREAKING_BASELINE).
	@git rev-parse --git-dir >/dev/null 2>&1 || { echo "make breaking needs a git clone: it compares against commit $(BREAKING_BASELINE)" >&2; exit 1; }
	@git cat-file -e '$(BREAKING_BASELINE)^{commit}' 2>/dev/null || { \
		echo "breaking: baseline $(BREAKING_BASELINE) is not in this clone; fetching it from origin"; \
		if [ "$$(git rev-parse --is-shallow-repository)" = true ]; then depth=--depth=1; else depth=; fi; \
		git fetch --quiet --no-tags $$depth origin '$(BREAKING_BASELINE)' || true; \
		git cat-file -e '$(BREAKING_BASELINE)^{commit}' 2>/dev/null || { \
			echo "breaking: commit $(BREAKING_BASELINE) (the v1 baseline) is not in this clone and could not be fetched." >&2; \
			echo "  Clone with its history (git clone without --depth; actions/checkout with fetch-depth: 0)," >&2; \
			echo "  or run: git fetch origin $(BREAKING_BASELINE)" >&2; exit 1; }; }
	$(BUF) breaking --against '.git#ref=$(BREAKING_BASELINE)'

.PHONY: lint
lint: ## go vet, gofmt, buf lint and buf format.
	$(GO) vet -tags $(GO_TAGS) ./...
	@test -z "$$(gofmt -l cmd internal)" || (gofmt -l cmd internal; exit 1)
	$(BUF) lint
	$(BUF) format -d --exit-code --path proto/smartimage
