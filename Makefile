# homelab — the commands a newcomer and CI run. `make help` lists them.
GO        ?= go
BIN       := bin/homelab
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/homelabctl/homelab/pkg/homelab.Version=$(VERSION)
INVENTORY ?= inventories/rachuna-net.yaml

.PHONY: help build demo test lint bench fuzz golden clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

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

lint: ## gofmt and go vet
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

test: lint ## every test, with the race detector (lab tests need root on Linux)
	@if [ "$$(id -u)" != 0 ]; then echo "note: not root: the network-namespace lab tests (internal/lab and the phases' lab tests) will skip"; fi
	$(GO) test -race -count=1 ./...

bench: ## benchmarks (compile 1,000 guests on 30 nodes, engine)
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz: ## fuzz the inventory loader for 2 minutes
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 2m -fuzzminimizetime 5s ./pkg/inventory/

golden: ## rewrite golden files after an intended change; review the diff
	$(GO) test ./... -update

clean:
	rm -rf bin
