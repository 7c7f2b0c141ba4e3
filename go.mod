module github.com/homelabctl/homelab

// go-proxmox v0.8.1 needs Go 1.25 or later; golang.org/x/crypto v0.56.0 and
// later (fixes for GO-2026-6354 and GO-2026-6355 in x/crypto/ssh) need 1.26.
go 1.26.0

require (
	// go-routeros v3.0.1: the RouterOS API client (pinned by the brief); the
	// RouterOS simulator is tested against it unmodified.
	github.com/go-routeros/routeros/v3 v3.0.1
	// invopop/jsonschema: the JSON Schemas of the inventory and of plan JSON
	// (homelab schema, docs/*.schema.json), made from the Go types and their
	// doc comments (pkg/schema only).
	github.com/invopop/jsonschema v0.14.0
	// go-proxmox v0.8.1: the Proxmox VE API client (pinned by the brief); the
	// PVE simulator is tested against it unmodified. Its retries stay off:
	// they re-send POSTs.
	github.com/luthermonson/go-proxmox v0.8.1
	// pkg/sftp: file sync on hosts (temp file + posix-rename), over x/crypto/ssh.
	github.com/pkg/sftp v1.13.10
	// go-difflib: the unified diffs plans show for files homelab changes on hosts.
	github.com/pmezard/go-difflib v1.0.0
	// santhosh-tekuri/jsonschema: a maintained JSON Schema (2020-12)
	// validator; the tests check the example inventories and the golden
	// plans against the schemas with it (tests only).
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3
	// cobra: the CLI's commands, flags, --help and shell completion (cmd/ only).
	github.com/spf13/cobra v1.10.1
	// go.yaml.in/yaml/v3 (the maintained successor of the archived
	// gopkg.in/yaml.v3, same API): inventory and plan files, parsed as nodes
	// so every value keeps its line and column.
	go.yaml.in/yaml/v3 v3.0.6
	// x/crypto/ssh: commands on hosts, known_hosts checks, the simulated SSH
	// hosts.
	golang.org/x/crypto v0.59.0
	// x/sync/errgroup: bounded fan-out of concurrent reads outside the engine
	// (observing a plan's steps), every failure kept. The version is what
	// x/crypto and the JSON Schema validator's x/text need.
	golang.org/x/sync v0.25.0
	// mvdan.cc/sh v3.13.1 (chosen when go.mod said Go 1.25): a real POSIX
	// shell (parser and interpreter) for the simulated hosts of pkg/sim/host,
	// which run homelab's scripts as dash and bash would.
	mvdan.cc/sh/v3 v3.13.1
)

require (
	github.com/bahlo/generic-list-go v0.2.0 // indirect
	github.com/buger/goterm v1.0.4 // indirect
	github.com/buger/jsonparser v1.1.2 // indirect
	github.com/diskfs/go-diskfs v1.9.3 // indirect
	github.com/djherbis/times v1.6.0 // indirect
	github.com/gorilla/websocket v1.4.2 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/jinzhu/copier v0.3.4 // indirect
	github.com/kr/fs v0.1.0 // indirect
	github.com/magefile/mage v1.14.0 // indirect
	github.com/pb33f/ordered-map/v2 v2.3.1 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	go.yaml.in/yaml/v4 v4.0.0-rc.2 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/term v0.48.0 // indirect
	golang.org/x/text v0.44.0 // indirect
)
