SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
STATICCHECK_VERSION := v0.8.2

.PHONY: all build run test test-unit services-up services-down lint fmt schemas-check bench clean image dev-up dev-down helm-lint

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
	docker compose -f docker-compose.dev.yml up -d --wait redpanda apicurio postgres qdrant redis
	docker compose -f docker-compose.dev.yml run --rm topic-init

## dev-down: stop them (data stays in the soma-dev volumes)
dev-down:
	docker compose -f docker-compose.dev.yml down

## helm-lint: lint and render the chart (default and production values) with the Helm SDK
helm-lint:
	$(GO) test -count=1 -run 'TestChart' ./internal/deploytest

## lint: go vet and staticcheck
lint:
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
