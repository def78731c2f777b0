# Heimdall — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

STACK        := deploy/stack.sh
STACK_ENV    := $(or $(HEIMDALL_STACK_DIR),$(CURDIR)/.stack)/env
CACHE_DIR    := $(or $(HEIMDALL_CACHE_DIR),$(HOME)/.cache/heimdall)
TOOLS        := $(CACHE_DIR)/tools
STATICCHECK  := $(TOOLS)/staticcheck
STATICCHECK_VERSION := v0.8.2
BIN          := bin/heimdall
GO_TEST_FLAGS ?= -count=1 -timeout 30m
FUZZTIME     ?= 5s
WITH_ENV      = set -a; . $(STACK_ENV); set +a;

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z][a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-14s %s\n",$$1,$$2}'

.PHONY: stack-up stack-down stack-status stack-logs
stack-up: ## start the development stack (Postgres+AGE+pgvector, Kafka, Keycloak, dev CA); idempotent
	@bash $(STACK) up
stack-down: ## stop the development stack (data is kept in .stack/)
	@bash $(STACK) down
stack-status: ## show what runs
	@bash $(STACK) status
stack-logs: ## tail the stack logs (C=postgres|kafka|keycloak)
	@bash $(STACK) logs $(C)

.PHONY: build
build: ## build bin/heimdall
	go build -o $(BIN) ./cmd/heimdall

.PHONY: run
run: stack-up build ## bring the stack up, run Heimdall, ingest the bundled sample, print how to query it
	@bash deploy/run.sh

.PHONY: test
test: stack-up ## every test against the real stack, plus a short fuzz pass
	$(WITH_ENV) go test $(GO_TEST_FLAGS) ./...
	@$(MAKE) --no-print-directory fuzz

.PHONY: test-chaos
test-chaos: stack-up ## only the test that kills a broker and a database (a private stack's) during peer sync
	$(WITH_ENV) go test $(GO_TEST_FLAGS) -run 'TestSyncSurvivesBrokerAndPostgresKill' -v ./internal/e2e/

.PHONY: test-short
test-short: ## unit tests only (no stack)
	go test -short -count=1 ./...

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME (default 5s)
	@bash deploy/fuzz.sh $(FUZZTIME)

.PHONY: bench
bench: stack-up ## benchmarks against the real stack (ingest, projection)
	$(WITH_ENV) go test -run='^$$' -bench=. -benchmem -benchtime=1x -count=1 -timeout 60m ./...

.PHONY: lint
lint: $(STATICCHECK) ## go vet, staticcheck, gofmt and the import rules
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1; }
	go vet ./...
	$(STATICCHECK) ./...
	go test -count=1 -run TestImportRules ./internal/architecture/

$(STATICCHECK):
	GOBIN=$(TOOLS) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

.PHONY: psql cypher
psql: ## open psql on the read-model database
	@$(WITH_ENV) psql "$$HEIMDALL_POSTGRES_URL"
cypher: ## run a read-only Cypher query on the active graph: make cypher Q='MATCH (n) RETURN count(n)'
	@$(WITH_ENV) bash deploy/cypher.sh "$(Q)"

.PHONY: clean
clean: ## remove build output (not the stack)
	rm -rf bin
