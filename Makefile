# vault-init: the Makefile is the front door. `make help` lists the targets.

SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/aurora/vault-init/internal/cli.Version=$(VERSION)

# The Vault server the tests run against: $VAULT_BIN, else `vault` on PATH,
# else bin/vault-$(VAULT_VERSION), built from the Go module proxy by
# `make vault` once per version (the version is tools/vault's dependency).
VAULT_VERSION := $(shell sed -n 's|^[[:space:]]*github.com/hashicorp/vault v\([^ ]*\).*|\1|p' tools/vault/go.mod)
VAULT_BIN ?= $(shell command -v vault 2>/dev/null)
ifeq ($(strip $(VAULT_BIN)),)
VAULT_BIN := $(CURDIR)/bin/vault-$(VAULT_VERSION)
endif
export VAULT_BIN

# The stack's container and volume names are the seed's (vault, vault-init,
# vault-data, ...) unless VAULT_NAME_PREFIX is set, in the environment or in
# .env (`make e2e` sets it, so that it never touches these).
ifndef VAULT_NAME_PREFIX
# As Compose reads it: surrounding quotes and a CR (a .env saved on Windows) dropped.
VAULT_NAME_PREFIX := $(shell sed -n 's/^VAULT_NAME_PREFIX=//p' .env 2>/dev/null | tail -n 1 | tr -d '\r' | sed -e "s/^'\(.*\)'$$/\1/" -e 's/^"\(.*\)"$$/\1/')
endif
export VAULT_NAME_PREFIX
VAULT_INIT_CONTAINER := $(VAULT_NAME_PREFIX)vault-init

# How long `make prod-local` waits for vault-init to report healthy.
READY_TIMEOUT ?= 180

# docker compose v2, else docker-compose v1.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)

.PHONY: help build vault k8s-bins k8s-node-bins k8s-up k8s-down test test-k8s test-faults fuzz bench lint e2e age-identity ha-up ha-down ha-clean prod-local down prod-local-clean logs status

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

build: ## Build bin/vault-init
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/vault-init ./cmd/vault-init

vault: $(VAULT_BIN) ## Build the test Vault server into bin/vault-VERSION (unless VAULT_BIN or PATH has one)

# bin/vault links to it, for a plain `go test` (internal/vaulttest looks there).
$(CURDIR)/bin/vault-$(VAULT_VERSION):
	@echo "building the test Vault server $(VAULT_VERSION) (first time: ~4 GB of modules, 15-25 min on 2 cores)"
	cd tools/vault && CGO_ENABLED=0 $(GO) build -o $@.tmp . && mv $@.tmp $@
	ln -sfn $(notdir $@) $(CURDIR)/bin/vault

# local-kms, an AWS KMS emulator, for the awskms auto-unseal tests
# (internal/vaulttest.StartLocalKMS) and the e2e's KMS stand-in: built from the
# Go module proxy into bin/local-kms-VERSION once per version (the version is
# tools/localkms's tool dependency). LOCALKMS_BIN naming another binary wins,
# as VAULT_BIN does.
LOCALKMS_VERSION := $(shell sed -n 's|^[[:space:]]*github.com/nsmithuk/local-kms v\([^ ]*\).*|\1|p' tools/localkms/go.mod)
LOCALKMS_BIN ?= $(CURDIR)/bin/local-kms-$(LOCALKMS_VERSION)
export LOCALKMS_BIN

.PHONY: local-kms
local-kms: $(LOCALKMS_BIN) ## Build the test AWS KMS emulator into bin/local-kms-VERSION (unless LOCALKMS_BIN names one; ~15 s, 19 MB)

$(CURDIR)/bin/local-kms-$(LOCALKMS_VERSION):
	@echo "building local-kms $(LOCALKMS_VERSION)"
	cd tools/localkms && CGO_ENABLED=0 $(GO) build -trimpath -o $@.tmp github.com/nsmithuk/local-kms && mv $@.tmp $@

# The Kubernetes test servers (issue "Kubernetes"): built from the Go module
# proxy into bin/, keyed by version, each once.
K8S_VERSION ?= 1.34.3
ETCD_VERSION := $(shell sed -n 's|^require go.etcd.io/etcd/server/v3 v\(.*\)|\1|p' tools/etcd/go.mod)
# The tests (internal/k8stest) run these; an env var naming another
# binary wins, as VAULT_BIN does.
ETCD_BIN ?= $(CURDIR)/bin/etcd-$(ETCD_VERSION)
KUBE_APISERVER_BIN ?= $(CURDIR)/bin/k8s-$(K8S_VERSION)/kube-apiserver
KUBECTL_BIN ?= $(CURDIR)/bin/k8s-$(K8S_VERSION)/kubectl
export ETCD_BIN KUBE_APISERVER_BIN KUBECTL_BIN
K8S_BINS := $(ETCD_BIN) $(KUBE_APISERVER_BIN) $(KUBECTL_BIN)

k8s-bins: ## Build etcd, kube-apiserver and kubectl into bin/ from the Go module proxy (first time: ~25 min on 2 cores)
	@test -x bin/etcd-$(ETCD_VERSION) || { echo "building etcd $(ETCD_VERSION)"; cd tools/etcd && CGO_ENABLED=0 $(GO) build -trimpath -o $(CURDIR)/bin/etcd-$(ETCD_VERSION).tmp . && mv $(CURDIR)/bin/etcd-$(ETCD_VERSION).tmp $(CURDIR)/bin/etcd-$(ETCD_VERSION); }
	K8S_VERSION=$(K8S_VERSION) scripts/build-k8s.sh kube-apiserver kubectl

# A missing one of bin/ is built by k8s-bins (all three, each once, in one
# run: a grouped target, so that make -j starts one build, not three); one
# that an env var names elsewhere must exist.
$(filter $(CURDIR)/bin/%,$(K8S_BINS)) &:
	$(MAKE) --no-print-directory k8s-bins

# The single-node test cluster of scripts/k8s-cluster.sh, which `make
# test-k8s` starts for itself (and `make k8s-up` for a look around): as root,
# with Debian's containernetworking-plugins. k8s-node-bins builds what it runs
# besides K8S_BINS, each once: the node's Kubernetes commands, CoreDNS (and
# helm, for installing the chart into it).
K8S_DIR ?= /tmp/vault-init-k8s
COREDNS_VERSION := $(shell sed -n 's|^require github.com/coredns/coredns v\(.*\)|\1|p' tools/coredns/go.mod)
HELM_VERSION := 3.22.0
# k8s-cluster.sh and test-k8s.sh take these; K8S_VERSION picks the node's
# commands (bin/k8s-VERSION) in both.
COREDNS_BIN := $(CURDIR)/bin/coredns-$(COREDNS_VERSION)/coredns
HELM_BIN := $(CURDIR)/bin/helm-$(HELM_VERSION)/helm
export COREDNS_BIN HELM_BIN K8S_VERSION

k8s-node-bins: $(K8S_BINS) ## Build kubelet, kube-scheduler, kube-controller-manager, kube-proxy, CoreDNS and helm into bin/ (each once)
	K8S_VERSION=$(K8S_VERSION) scripts/build-k8s.sh kubelet kube-scheduler kube-controller-manager kube-proxy
	@test -x $(COREDNS_BIN) || { cd tools/coredns && CGO_ENABLED=0 $(GO) build -trimpath -o $(COREDNS_BIN).tmp . && mv $(COREDNS_BIN).tmp $(COREDNS_BIN); }
	@test -x $(HELM_BIN) || GOBIN=$(dir $(HELM_BIN)) CGO_ENABLED=0 $(GO) install helm.sh/helm/v3/cmd/helm@v$(HELM_VERSION)

k8s-up: k8s-node-bins ## Start the single-node test Kubernetes in K8S_DIR (root) and wait until its node is Ready; prints its kubeconfig
	scripts/k8s-cluster.sh up $(K8S_DIR)

k8s-down: ## Stop the test Kubernetes of K8S_DIR and undo its network changes (cni0, iptables)
	scripts/k8s-cluster.sh down $(K8S_DIR)

test: vault local-kms $(K8S_BINS) ## Run every test: unit and integration (-race, against real Vault, local-kms, etcd and kube-apiserver), static deploy checks, short fault suite, short fuzzing
	$(GO) test -race -count=1 -timeout 30m ./...
	cd test/deploy && $(GO) test -count=1 ./...
	$(GO) test -tags faultinject -short -count=1 -timeout 10m ./test/faults/
	$(MAKE) --no-print-directory fuzz

test-k8s: vault k8s-node-bins ## The Helm chart in a real single-node Kubernetes (root): install, pod loss, rolling restart, upgrade, uninstall and reinstall (about 6 minutes); writes its figures to BENCHMARKS.md
	VERSION=$(VERSION) scripts/test-k8s.sh

test-faults: vault $(K8S_BINS) ## The whole fault-injection suite (crashes, disk faults, a misbehaving Vault; about 9 minutes); writes its figures to BENCHMARKS.md
	scripts/faults.sh

FUZZTIME ?= 10s
fuzz: ## Fuzz the keystore decoder, config parsing and Vault's replies (health, unseal, mounts, audit, tokens, generate-root), FUZZTIME each
	scripts/fuzz.sh $(FUZZTIME) ./internal/keystore:FuzzDecode ./internal/config:FuzzParse ./internal/vaultstate:FuzzObserve \
		./internal/unseal:FuzzUnsealReplies ./internal/kvmount:FuzzMountReplies ./internal/audit:FuzzAuditReplies \
		./internal/apptoken:FuzzTokenReplies ./internal/roottoken:FuzzGenerateRootReplies

e2e: vault local-kms ## The seed's flows end to end on Docker, under names of its own (stand-in images without a registry)
	VERSION=$(VERSION) test/e2e/e2e.sh

bench: vault ## Measure vault-init against real Vault servers; write the figures to BENCHMARKS.md
	scripts/bench.sh

lint: ## gofmt and go vet (also with -tags faultinject, which test/faults needs)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags faultinject ./...
	$(GO) vet -tags k8scluster ./test/k8s/
	cd test/deploy && $(GO) vet ./...

# Overlays of docker-compose.yml: AGE=1 adds docker-compose.age.yml (the
# keystore encrypted with age), KMS=aws docker-compose.kms.yml (Vault
# auto-unseals through AWS KMS). COMPOSE_OVERLAYS adds more files (the e2e's
# local KMS stand-in).
ifneq ($(filter-out aws,$(KMS)),)
$(error KMS=$(KMS): the one KMS is aws (KMS=aws))
endif
OVERLAYS := $(strip $(if $(AGE),docker-compose.age.yml) $(if $(KMS),docker-compose.kms.yml) $(COMPOSE_OVERLAYS))
PROD := $(COMPOSE)$(if $(OVERLAYS), -f docker-compose.yml $(addprefix -f ,$(OVERLAYS)))

prod-local: ## Build and start Vault and vault-init with Docker Compose, and wait until Vault is ready (AGE=1: encrypted keystore; KMS=aws: auto-unseal through AWS KMS)
	VERSION=$(VERSION) $(PROD) up -d --build
	@scripts/wait-healthy.sh $(VAULT_INIT_CONTAINER) $(READY_TIMEOUT)
	@echo
	@echo 'Vault is initialized, unsealed, and the aurora KV v2 mount is in place.'
	@echo 'Root token (first start only): docker logs $(VAULT_INIT_CONTAINER) 2>&1 | grep "Root Token:"'
	@echo 'Shown again at any time:       docker exec $(VAULT_INIT_CONTAINER) vault-init root-token'
	@echo 'Into .env, without copying:    make env-token'

# The seed's step 3 without copy and paste. The token is never printed.
.PHONY: env-token
env-token: ## Set VAULT_TOKEN in .env to the running stack's app token, else its root token (other lines kept; never printed)
	@scripts/env-token.sh $(VAULT_INIT_CONTAINER) .env

# The identity is yours (to back it up), group 65532 and mode 0440: vault-init's
# image runs as 65532:65532 and reads it through the group.
age-identity: ## Write secrets/vault-init-age.txt, an age identity for AGE=1, and print its recipient for .env
	@mkdir -p -m 0700 secrets
	VERSION=$(VERSION) $(COMPOSE) build vault-init
	@docker run --rm --user 0 -v "$(CURDIR)/secrets:/out" $(VAULT_NAME_PREFIX)vault-init:local age-identity /out/vault-init-age.txt --owner $$(id -u):65532

down: ## Stop and remove the containers; keep the vault-data and vault-init volumes
	$(COMPOSE) down

prod-local-clean: ## Remove the containers and both volumes (the keys and all secrets!)
	$(COMPOSE) down -v

HA := $(COMPOSE) -f docker-compose.ha.yml
ha-up: ## Start the three-node Raft cluster of docker-compose.ha.yml and wait until vault-init reports it ready
	VERSION=$(VERSION) $(HA) up -d --build
	@scripts/wait-healthy.sh $(VAULT_INIT_CONTAINER) $(READY_TIMEOUT)
	@echo 'Root token (first start only): docker logs $(VAULT_INIT_CONTAINER) 2>&1 | grep "Root Token:"'

ha-down: ## Stop the HA cluster; keep its volumes
	$(HA) down

ha-clean: ## Remove the HA cluster and its volumes
	$(HA) down -v

logs: ## Follow vault-init's logs
	docker logs -f $(VAULT_INIT_CONTAINER)

status: ## vault-init status, inside the container
	docker exec $(VAULT_INIT_CONTAINER) vault-init status

# docs/configuration.md's table of settings is generated from config.Options;
# a test (internal/config/gendoc) fails when it is out of date.
.PHONY: docs
docs: ## Regenerate the table of settings in docs/configuration.md from config.Options
	$(GO) generate ./internal/config
