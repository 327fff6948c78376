# syntax=docker/dockerfile:1
#
# One image for every soma process (serve, api, query, projector, migrate,
# schemas): the subcommand is the container's command.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t somafractalmemory/soma .
#
# The binary is static (CGO_ENABLED=0, pure-Go SQLite), so the final stage is
# distroless: no shell, no package manager, user 65532. Health checks run the
# binary itself: `soma healthcheck URL` exits 0 on a 2xx answer.

# A patch release at least as new as the fixes govulncheck knows of
# (.ci/govulncheck-allow lists the standard-library findings of older ones).
ARG GO_VERSION=1.26.10

FROM golang:${GO_VERSION} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /soma ./cmd/soma
# The embedded store's directory, owned by the runtime user (distroless has
# no shell to create it later).
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="soma" \
      org.opencontainers.image.description="SomaFractalMemory: event-sourced memory service for AI agents" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/somafractalmemory/soma"
COPY --from=build /soma /soma
COPY --from=build --chown=65532:65532 /out/data /data
ENV SOMA_DATA_DIR=/data
WORKDIR /data
USER 65532:65532
VOLUME ["/data"]
# 9595 write API (and every route under `soma serve`), 9596 query API,
# 8001 projector health and metrics.
EXPOSE 9595 9596 8001
# Checks the default command (serve, :9595); `soma query` and `soma projector`
# containers override it with their own port (compose and the chart do).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["/soma", "healthcheck", "http://127.0.0.1:9595/healthz"]
ENTRYPOINT ["/soma"]
CMD ["serve"]
