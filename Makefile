# dueq: `make help` lists the targets.
GO ?= go

.PHONY: help build test test-race test-unit lint fmt-check vet bench

help: ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

# VERSION, when given (make build VERSION=v1.2.0), is what `dueq version`
# prints; without it, the version Go records from the git checkout.
VERSION ?=

build: ## Build the dueq binary (VERSION=v1.2.0 sets its version)
	$(GO) build $(if $(VERSION),-ldflags "-X github.com/dueq/dueq/cli.Version=$(VERSION)") -o dueq .

test: fmt-check vet test-race ## Everything CI checks: gofmt, go vet, all tests with -race

test-race: ## All tests (unit and end-to-end) with the race detector
	$(GO) test -race -count=1 ./...

test-unit: ## Unit tests only (no redis-server needed)
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /tests)

fmt-check: ## Fail if gofmt would change a file
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet: ## go vet
	$(GO) vet ./...

lint: fmt-check vet ## gofmt, go vet, and staticcheck when installed
	@command -v staticcheck >/dev/null && staticcheck ./... || echo "staticcheck not installed: go install honnef.co/go/tools/cmd/staticcheck@latest"

bench: ## Go benchmarks of the hot paths
	$(GO) test -run '^$$' -bench . -benchmem ./scheduler/ ./client/
