# syntax=docker/dockerfile:1
# The agent image for users with Docker: a static Go binary on a distroless base (no shell, no libc,
# uid 65532).
#   docker build --build-arg VERSION=$(hack/version.sh | head -1) -t <registry>/calico-node-status-agent:<tag> .
# then point config/kustomization.yaml's image at it. Without Docker, `make image` builds the same image
# (same binary, user, entrypoint and ports; test/image checks they agree) as a multi-arch OCI layout.
# The DaemonSet adds group 0 at run time so the non-root agent can connect to BIRD's root:root 0660
# control sockets (see config/agent/daemonset.yaml).

ARG GO_VERSION=1.26

# Build on the builder's own platform and cross-compile: no emulation needed for multi-arch images.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first, in their own layer, so code changes do not re-download them.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY api/ api/
COPY internal/ internal/
COPY cmd/ cmd/
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=unknown
ARG COMMIT=unknown
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath \
      -ldflags="-s -w -X github.com/calico-node-status/calico-node-status/internal/version.Version=${VERSION} -X github.com/calico-node-status/calico-node-status/internal/version.Commit=${COMMIT}" \
      -o /out/calico-node-status-agent ./cmd/calico-node-status-agent

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/calico-node-status-agent /calico-node-status-agent
USER 65532:65532
# Metrics and health: the agent's defaults and the DaemonSet's ports (clear of Felix's 9099 and Typha's
# 9098 on the host network).
EXPOSE 9496/tcp 9497/tcp
ENTRYPOINT ["/calico-node-status-agent"]
