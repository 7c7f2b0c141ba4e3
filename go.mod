module github.com/homelabctl/homelab

// go-proxmox v0.8.1 (used from the Proxmox issue on) needs Go 1.25 or later.
go 1.25.0

require (
	// go-routeros v3.0.1: the RouterOS API client (pinned by the brief); the
	// RouterOS simulator is tested against it unmodified.
	github.com/go-routeros/routeros/v3 v3.0.1
	// cobra: the CLI's commands, flags, --help and shell completion (cmd/ only).
	github.com/spf13/cobra v1.10.1
	// yaml.v3: inventory and plan files, parsed as nodes so every value keeps its line and column.
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
)
