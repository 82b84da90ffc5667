# dueq: `make help` lists the targets.
GO ?= go

.PHONY: help build test test-race test-unit test-topologies test-cluster test-sentinel lint fmt-check vet bench

help: ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

# VERSION, when given (make build VERSION=v1.2.0), is what `dueq version`
# prints; without it, the version Go records from the git checkout.
VERSION ?=

build: ## Build the dueq binary (VERSION=v1.2.0 sets its version)
	$(GO) build $(if $(VERSION),-ldflags "-X github.com/dueq/dueq/cli.Version=$(VERSION)") -o dueq .

test: fmt-check vet test-race test-topologies ## Everything CI checks: gofmt, go vet, all tests with -race, the end-to-end suite on a cluster and on Sentinel

# The topology suites run without the race detector: test-race runs the
# same code under it on one server, and these test what the Redis does.
test-topologies: ## test-cluster and test-sentinel, side by side
	$(MAKE) -j2 --output-sync=target test-cluster test-sentinel

# GORACE atexit_sleep_ms=0: a program built with the race detector sleeps
# a second as it exits, by default; the end-to-end tests run the CLI and
# the daemon hundreds of times.
test-race: ## All tests (unit and end-to-end) with the race detector
	GORACE=atexit_sleep_ms=0 $(GO) test -race -count=1 ./...

# The end-to-end tests that also run on a Redis Cluster and on Sentinel:
# those of the core, dependency, recurring-task and fault files, and the
# failover and node-check tests, which need replicas (they skip on one
# server).
E2E_SUITE = $(shell grep -ho '^func Test[A-Za-z0-9_]*' tests/core_test.go tests/deps_test.go tests/schedule_test.go tests/faults_test.go tests/failover_test.go tests/topology_checks_test.go | sed 's/^func //' | paste -sd'|')

test-cluster: ## The core, dependency, recurring and fault end-to-end tests on a local Redis Cluster (scripts/redis-cluster.sh)
	DUEQ_TEST_REDIS=cluster $(GO) test -count=1 ./tests -run '^($(E2E_SUITE))$$'

test-sentinel: ## The same tests on a local primary, replica and 3 sentinels (scripts/redis-sentinel.sh)
	DUEQ_TEST_REDIS=sentinel $(GO) test -count=1 ./tests -run '^($(E2E_SUITE))$$'

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
