# vault-init: a static binary on an empty base image, run as a non-root user.

# The build image. On a machine without a registry, pass a local stand-in
# with --build-arg GO_IMAGE=... (see the README).
ARG GO_IMAGE=golang:1.26
FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY internal ./internal
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/aurora/vault-init/internal/cli.Version=${VERSION}" \
      -o /out/vault-init ./cmd/vault-init \
 && mkdir -m 0700 /out/data

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/vault-init /usr/local/bin/vault-init
# A fresh named volume mounted here takes this owner and mode: private to vault-init.
COPY --from=build --chown=65532:65532 /out/data /vault-init
USER 65532:65532
ENV VAULT_INIT_DATA_DIR=/vault-init
HEALTHCHECK --interval=5s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/vault-init", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/vault-init"]
CMD ["run"]
