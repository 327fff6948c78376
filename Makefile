SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
STATICCHECK_VERSION := v0.8.2
GOSEC_VERSION := v2.30.0
GOSEC_FLAGS := -quiet -nosec-require-rules -nosec-require-justification

.PHONY: all build run test test-unit services-up services-down lint fmt schemas-check bench clean image dev-up dev-down helm-lint \
	stack-up sandbox-up sandbox-down kind-create kind-load helm-install kind-up kind-forward kind-forward-stop kind-ci kind-delete lint-shell \
	openapi

all: build

## build: compile bin/soma
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/soma ./cmd/soma

## run: start soma serve on the embedded store (no external services)
run: build
	./bin/soma serve

## test: start real Postgres, Redis and Kafka, run every test with -race, then the
## outage tests (they pause the broker, so they run alone), stop the services
test:
	@scripts/test-services.sh up
	@set -a; . $${SOMA_TEST_STATE_DIR:-.test-services}/env; set +a; \
	  SOMA_REQUIRE_SERVICES=1 $(GO) test -race -count=1 -timeout 30m ./... ; rc=$$?; \
	  SOMA_REQUIRE_SERVICES=1 $(GO) test -race -count=1 -timeout 10m -tags outage -run Outage ./... ; rc2=$$?; \
	  scripts/test-services.sh down; \
	  if [ $$rc -ne 0 ] || [ $$rc2 -ne 0 ]; then echo "make test: FAILED (go test exit $$rc, outage tests exit $$rc2)" >&2; exit 1; fi

## test-unit: go test without services (integration tests skip, loudly)
test-unit:
	$(GO) test -count=1 ./...

services-up:
	scripts/test-services.sh up

services-down:
	scripts/test-services.sh down

## schemas-check: every event schema version is backward-transitive compatible with the earlier ones
schemas-check:
	$(GO) run ./cmd/soma schemas check

## bench: Go microbenchmarks and the HTTP harness against soma serve (see scripts/bench.sh)
bench:
	scripts/bench.sh

IMAGE ?= somafractalmemory/soma

## image: build the container image $(IMAGE):$(VERSION) (needs a Docker engine)
image:
	docker build --build-arg VERSION=$(VERSION) -t $(IMAGE):$(VERSION) .

## dev-up: Redpanda, Apicurio, Postgres, Qdrant, Redis on 127.0.0.1 (for soma from source), then the topics
dev-up:
	scripts/start_stack.sh evented_enterprise

## dev-down: stop every soma-dev container, sandbox included (data stays in the soma-dev volumes)
dev-down:
	docker compose -f docker-compose.dev.yml --profile '*' down

STACK_MODE ?= development

## stack-up: the services MEMORY_MODE=$(STACK_MODE) needs (development|evented_enterprise|cloud_managed|test;
##           BROKER=1 adds Redpanda and Apicurio to development); see scripts/start_stack.sh --help
stack-up:
	scripts/start_stack.sh $(STACK_MODE) $(if $(BROKER),--with-broker)

## sandbox-up: soma serve in test mode on http://127.0.0.1:8888 (a throwaway store, never real data)
sandbox-up:
	docker compose -f docker-compose.dev.yml --profile sandbox up -d --build --wait sandbox

## sandbox-down: stop and remove the sandbox (its memories go with it)
sandbox-down:
	docker compose -f docker-compose.dev.yml --profile sandbox rm --stop --force sandbox

KIND ?= kind
HELM ?= helm
KIND_CLUSTER ?= soma
KUBE_CONTEXT ?= kind-$(KIND_CLUSTER)
HELM_RELEASE ?= soma
HELM_NAMESPACE ?= soma
# Extra helm arguments, e.g. HELM_ARGS='-f my-values.yaml'.
HELM_ARGS ?=

## kind-create: a local cluster from helm/kind-config.yaml (kept when it exists)
kind-create:
	@if $(KIND) get clusters | grep -qx '$(KIND_CLUSTER)'; then \
	  echo "kind cluster $(KIND_CLUSTER) exists"; \
	else \
	  $(KIND) create cluster --name $(KIND_CLUSTER) --config helm/kind-config.yaml --wait 120s; \
	fi

## kind-load: build the image $(IMAGE):$(VERSION) and load it into the kind nodes
kind-load: image
	$(KIND) load docker-image $(IMAGE):$(VERSION) --name $(KIND_CLUSTER)

## helm-install: install or upgrade the chart (development values) on the kind cluster, with the loaded image
helm-install:
	$(HELM) upgrade --install $(HELM_RELEASE) ./helm --kube-context $(KUBE_CONTEXT) \
	  --namespace $(HELM_NAMESPACE) --create-namespace \
	  --set image.tag=$(VERSION) --set image.pullPolicy=Never --wait --timeout 10m $(HELM_ARGS)

## kind-up: kind-create, kind-load and helm-install, in that order
kind-up:
	$(MAKE) kind-create
	$(MAKE) kind-load
	$(MAKE) helm-install

## kind-forward: the write API on localhost:9595 and the query API on :9596, in the background
kind-forward:
	scripts/port_forward_api.sh start --context $(KUBE_CONTEXT) --namespace $(HELM_NAMESPACE) --release $(HELM_RELEASE)

## kind-forward-stop: stop the port-forwards
kind-forward-stop:
	scripts/port_forward_api.sh stop

## kind-ci: wait for the pods, forward the ports, run the live end-to-end tests (names the failing component)
kind-ci:
	scripts/run_ci.sh --context $(KUBE_CONTEXT) --namespace $(HELM_NAMESPACE) --release $(HELM_RELEASE)

## kind-delete: stop the port-forwards and delete the cluster
kind-delete:
	scripts/port_forward_api.sh stop
	$(KIND) delete cluster --name $(KIND_CLUSTER)

## lint-shell: shellcheck every script (installs the Debian package shellcheck when missing)
lint-shell:
	@command -v shellcheck >/dev/null || { \
	  if [ "$$(id -u)" -ne 0 ]; then echo "shellcheck is missing: apt-get install shellcheck (needs root)" >&2; exit 1; fi; \
	  echo "installing shellcheck (apt-get)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends shellcheck >/dev/null; }
	shellcheck scripts/*.sh helm/files/*.sh

# make lint runs lint-shell first (this rule only adds the prerequisite).
lint: lint-shell

## helm-lint: lint and render the chart (default and production values) with the Helm SDK
helm-lint:
	$(GO) test -count=1 -run 'TestChart' ./internal/deploytest

## lint: gofmt, go vet, staticcheck, gosec and govulncheck, in that order (README: Static checks)
# gosec: every exception is a `// #nosec RULE -- reason` comment where it applies
# (-nosec-require-rules/-justification enforce both); no rule is disabled. Test
# files are not scanned (gosec's default): they never ship and only handle inputs
# the tests choose, and the rules flag test idioms (seeded math/rand, paths built
# from t.TempDir(), ignored Close errors in cleanups); go vet and staticcheck
# cover them. gosec type-checks a package's Go files without its assembly, so
# internal/vectorindex (an amd64 kernel) fails with "missing function body" on
# amd64 (securego/gosec#1116): it is scanned apart as arm64, its portable code.
# govulncheck: scripts/govulncheck.sh (offline database, allow-list
# .ci/govulncheck-allow; SOMA_VULNDB=online for the public database).
lint:
	@set -o pipefail; files=$$(git ls-files -z '*.go' | xargs -0 -r gofmt -l) || { echo "gofmt check: git ls-files or gofmt failed" >&2; exit 1; }; \
	  if [ -n "$$files" ]; then echo "gofmt: these files are not formatted (run make fmt):" >&2; echo "$$files" >&2; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	$(GO) run github.com/securego/gosec/v2/cmd/gosec@$(GOSEC_VERSION) $(GOSEC_FLAGS) -exclude-dir=internal/vectorindex ./...
	$(GO) run -exec 'env GOARCH=arm64' github.com/securego/gosec/v2/cmd/gosec@$(GOSEC_VERSION) $(GOSEC_FLAGS) ./internal/vectorindex/...
	GO=$(GO) scripts/govulncheck.sh

## openapi: regenerate openapi.json, the document soma serve publishes (a test compares them)
openapi:
	$(GO) run ./cmd/soma openapi > openapi.json.tmp && mv openapi.json.tmp openapi.json

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
