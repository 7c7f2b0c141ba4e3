# homelab — the commands a newcomer and CI run. `make help` lists them.
GO        ?= go
BIN       := bin/homelab
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell c=$$(git rev-parse HEAD 2>/dev/null) && { git diff --quiet HEAD 2>/dev/null || c=$$c-dirty; echo $$c; })
LDFLAGS   := -X github.com/homelabctl/homelab/pkg/homelab.Version=$(VERSION) -X github.com/homelabctl/homelab/pkg/homelab.Commit=$(COMMIT)
INVENTORY ?= inventories/rachuna-net.yaml
# Recipes run in bash with pipefail: a failing go test or govulncheck fails
# its pipe into the report tools.
SHELL       := bash
.SHELLFLAGS := -o pipefail -ec

# Linters, pinned, run from the Go module proxy (no install step).
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOVULNCHECK := golang.org/x/vuln/cmd/govulncheck@v1.9.0
# govulncheck's database: vuln.go.dev is not reachable from this project's
# machines or CI (only the module proxy and Debian's packages are), so the
# database is built from a pinned snapshot of golang.org/x/vulndb (served by
# the module proxy) into a cache outside the repository. Bump VULNDB_VERSION
# for newer reports, or point VULNDB_URL at https://vuln.go.dev where it is
# reachable.
VULNDB_VERSION := v0.0.0-20261105234957-e22db6528018
VULNDB_CACHE   := $(HOME)/.cache/homelab/vulndb/$(VULNDB_VERSION)
VULNDB_URL     ?=
# make release: the platforms, and where the binaries and sums go.
PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
DIST      := dist

.PHONY: help build demo test lint vulncheck release bench fuzz golden clean e2e-tools e2e-lab e2e

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## build bin/homelab
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/homelab

# The demo validates the reference inventory, shows its full plan offline,
# then brings the whole lab up on the simulated lab: the router, the guests,
# HAProxy and keepalived, and the kubeadm cluster behind the VIP (simulators
# and simulated hosts on loopback: nothing outside this machine is
# contacted). It starts from a fresh simulated lab (sim reset), since
# --simulate keeps the last one in .homelab/; the second up finds nothing
# to change.
demo: build ## validate the reference lab, show its plan, bring it up on the simulated lab, twice
	$(BIN) validate -i $(INVENTORY) -p plans/full-stack.yaml
	$(BIN) plan -i $(INVENTORY) -p plans/full-stack.yaml --offline
	$(BIN) sim reset -i $(INVENTORY)
	$(BIN) up -i $(INVENTORY) -p plans/full-stack.yaml --simulate
	$(BIN) up -i $(INVENTORY) -p plans/full-stack.yaml --simulate

lint: ## gofmt, go vet, staticcheck and govulncheck (pinned, from the module proxy)
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@$(MAKE) --no-print-directory vulncheck

# govulncheck reports what homelab's code calls (internal/vulnreport): a
# vulnerability in a module fails; one in the standard library is the Go
# toolchain's, fixed by a newer Go than the machine's, and is printed
# without failing.
vulncheck: ## govulncheck against the pinned vulnerability database
	@db="$(VULNDB_URL)"; \
	if [ -z "$$db" ]; then \
	  if [ ! -f "$(VULNDB_CACHE)/index/db.json" ]; then \
	    echo "building the vulnerability database of golang.org/x/vulndb@$(VULNDB_VERSION) into $(VULNDB_CACHE)"; \
	    src="$$(cd / && $(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p')"; \
	    rm -rf "$(VULNDB_CACHE).tmp"; \
	    $(GO) run golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION) -vulns "$$src/data/osv" -out "$(VULNDB_CACHE).tmp"; \
	    rm -rf "$(VULNDB_CACHE)"; mv "$(VULNDB_CACHE).tmp" "$(VULNDB_CACHE)"; \
	  fi; \
	  db="file://$(VULNDB_CACHE)"; \
	fi; \
	echo "govulncheck ($(GOVULNCHECK)) with the database $$db"; \
	$(GO) run $(GOVULNCHECK) -db "$$db" -format json ./... | $(GO) run ./internal/vulnreport

# go test -json through internal/testsummary: each package's result, the
# output of what failed, then every skipped test grouped by its reason
# (root or not), and a closing count.
test: lint ## every test, with the race detector, and a summary of the skipped ones (lab tests need root on Linux)
	@if [ "$$(id -u)" != 0 ]; then echo "note: not root: the network-namespace lab tests (internal/lab and the phases' lab tests) will skip"; fi
	$(GO) test -race -count=1 -timeout 30m -json ./... | $(GO) run ./internal/testsummary

# Cross-built binaries (static, -trimpath) named homelab-VERSION-OS-ARCH,
# and SHA256SUMS beside them (check with: cd dist && sha256sum -c SHA256SUMS).
release: ## cross-build linux, darwin and windows for amd64 and arm64 into dist/ with SHA-256 sums
	rm -rf $(DIST) && mkdir -p $(DIST)
	for p in $(PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; ext=; if [ "$$os" = windows ]; then ext=.exe; fi; \
	  echo "$$os/$$arch"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(DIST)/homelab-$(VERSION)-$$os-$$arch$$ext ./cmd/homelab; \
	done
	cd $(DIST) && sha256sum homelab-* > SHA256SUMS && cat SHA256SUMS

bench: ## benchmarks (compile 1,000 guests on 30 nodes, engine)
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

fuzz: ## fuzz the inventory loader for 2 minutes
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 2m -fuzzminimizetime 5s ./pkg/inventory/

golden: ## rewrite golden files after an intended change; review the diff
	$(GO) test ./... -update

# Real Kubernetes for the end-to-end lab (tools/k8s/README.md): the binaries,
# image archives and signed apt repository of the pinned release, built from
# the Go module proxy into a cache outside the repository (minutes cold,
# instant when nothing changed), then tools/k8s's own tests. nice and -p 1
# keep it from crowding a shared machine.
e2e-tools: ## build (or reuse) real Kubernetes for the e2e lab, print its cache directory
	nice -n 19 tools/k8s/build.sh
	cd tools/k8s && $(GO) test -count=1 ./internal/... ./cmd/...

# The lab's foundation on real Kubernetes: one lab host installs containerd
# and the lab's packages and runs the real kubeadm init (root on Linux).
e2e-lab: e2e-tools ## kubeadm init on a lab host with the e2e-tools build (root)
	HOMELAB_REQUIRE_K8S=1 HOMELAB_REQUIRE_LAB=1 $(GO) test -count=1 -v -timeout 30m -run 'TestKubeadmInitOnLab' ./internal/lab/

# The whole sequence on real software (internal/e2e, root on Linux): a lab
# of 2 load balancers, 3 control planes and 2 workers on this machine; the
# unmodified loadbalancers and kubernetes phases over SSH, with the
# e2e-tools build served by a mirror host inside the lab; then the checks,
# and the lab torn down (also when the test fails).
e2e: e2e-tools ## the loadbalancers and kubernetes phases for real on a lab of 7 hosts (root)
	HOMELAB_E2E=1 HOMELAB_REQUIRE_K8S=1 HOMELAB_REQUIRE_LAB=1 $(GO) test -count=1 -v -timeout 45m -run 'TestE2E' ./internal/e2e/

clean:
	rm -rf bin $(DIST)
