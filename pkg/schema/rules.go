package schema

import (
	"fmt"

	"github.com/invopop/jsonschema"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/plan"
)

// rule is what the Go types do not say of one definition: the keys it
// must have and the values some keys are limited to. The validation in
// pkg/inventory says more (and every rule here is one of its rules); the
// schema holds what an editor can check as one types.
type rule struct {
	def      string
	required []string
	enums    map[string][]any
	consts   map[string]any
}

func inventoryRules() []rule {
	return []rule{
		{def: "Inventory", required: []string{"name", "proxmox", "router", "networks", "guests"}},
		{def: "Proxmox", required: []string{"endpoint", "token_id", "token_secret", "nodes"}},
		{def: "Node", required: []string{"name"}},
		{def: "VMTemplate", required: []string{"name", "vmid", "node"}},
		{def: "LXCTemplate", required: []string{"name", "volid"}},
		{def: "Router", required: []string{"address", "username", "password"},
			enums: map[string][]any{"vlan_mode": {"interfaces", "bridge-filtering"}}},
		{def: "Network", required: []string{"name", "trunk_ports", "cidr", "gateway", "proxmox"}},
		{def: "ProxmoxNetwork", required: []string{"bridge"}},
		{def: "SSHTrust", enums: map[string][]any{"host_keys": {inventory.HostKeysTOFU, inventory.HostKeysStrict}}},
		{def: "Guest", required: []string{"name", "node", "network", "ip"},
			enums: map[string][]any{"kind": {inventory.KindVM, inventory.KindLXC}}},
		{def: "LoadBalancer", required: []string{"vrrp_password"}},
		{def: "VIP", required: []string{"name", "network", "address"}},
		{def: "Frontend", required: []string{"name", "vip", "backend"},
			enums: map[string][]any{"mode": {inventory.ModeTCP, inventory.ModeHTTP}}},
		{def: "Backend", required: []string{"role"}},
		{def: "Check", enums: map[string][]any{"kind": {inventory.CheckTCP, inventory.CheckHTTP, inventory.CheckHTTPS}}},
		{def: "Kubernetes", required: []string{"endpoint"},
			enums: map[string][]any{"pin": {"hosts", "router-dns"}}},
		{def: "Packages", enums: map[string][]any{"source": {inventory.PackagesUpstream, inventory.PackagesMirror, inventory.PackagesPreinstalled}}},
		{def: "CNI", enums: map[string][]any{"name": {inventory.CNICalico, inventory.CNIBridge}}},
	}
}

func planRules() []rule {
	return []rule{
		{def: "Plan", consts: map[string]any{"format_version": plan.FormatVersion}},
	}
}

// refine writes the rules into the schema's definitions. A rule that
// names a definition or a key the types do not have is an error: the
// types changed and the rules must follow.
func refine(s *jsonschema.Schema, rules []rule) error {
	for _, r := range rules {
		def, ok := s.Definitions[r.def]
		if !ok {
			return fmt.Errorf("schema: no definition %s", r.def)
		}
		prop := func(key string) (*jsonschema.Schema, error) {
			p, ok := def.Properties.Get(key)
			if !ok {
				return nil, fmt.Errorf("schema: %s has no key %s", r.def, key)
			}
			return p, nil
		}
		for _, key := range r.required {
			if _, err := prop(key); err != nil {
				return err
			}
			def.Required = append(def.Required, key)
		}
		for _, key := range sortedKeys(r.enums) {
			p, err := prop(key)
			if err != nil {
				return err
			}
			p.Enum = r.enums[key]
		}
		for _, key := range sortedKeys(r.consts) {
			p, err := prop(key)
			if err != nil {
				return err
			}
			p.Const = r.consts[key]
		}
	}
	return nil
}
