package routeros

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// filtering lists the bridges that have VLAN filtering on.
func (r *Router) filtering() []string {
	var out []string
	for _, it := range r.menus["/interface/bridge"].items {
		if it.props["vlan-filtering"] == "true" {
			out = append(out, it.props["name"])
		}
	}
	return out
}

// ManagementCovered says whether an API client that reaches the router at
// mgmt still can with the current bridge VLAN configuration, the way a
// real router forwards it (research/routeros.md §4.3, pitfall 9):
//   - the address on a VLAN interface over a filtering bridge needs a
//     bridge VLAN row for that VLAN that tags the bridge itself;
//   - the address on a filtering bridge itself is reached untagged through
//     the ports' PVID (RouterOS adds the dynamic rows), unless the bridge
//     admits only tagged frames;
//   - anything else is not affected by filtering.
func (r *Router) ManagementCovered(mgmt netip.Addr) bool {
	iface := ""
	for _, it := range r.menus["/ip/address"].items {
		if p, err := netip.ParsePrefix(it.props["address"]); err == nil && p.Addr() == mgmt && it.props["disabled"] != "true" {
			iface = it.props["interface"]
		}
	}
	if iface == "" {
		return true // the client does not come in through a bridge we model
	}
	filtering := r.filtering()
	if slices.Contains(filtering, iface) {
		b := r.find("/interface/bridge", iface)
		return b.props["frame-types"] != "admit-only-vlan-tagged"
	}
	vlan := r.find("/interface/vlan", iface)
	if vlan == nil || !slices.Contains(filtering, vlan.props["interface"]) {
		return true
	}
	bridge, id := vlan.props["interface"], vlan.props["vlan-id"]
	for _, row := range r.menus["/interface/bridge/vlan"].items {
		if row.props["bridge"] == bridge && row.props["disabled"] != "true" &&
			vlanListHas(row.props["vlan-ids"], id) && slices.Contains(strings.Split(row.props["tagged"], ","), bridge) {
			return true
		}
	}
	return false
}

// find returns the item of menu path named name, or nil.
func (r *Router) find(path, name string) *item {
	for _, it := range r.menus[path].items {
		if it.props["name"] == name {
			return it
		}
	}
	return nil
}

// vlanListHas reports whether a vlan-ids list ("10,20,30-39") holds id.
func vlanListHas(list, id string) bool {
	n, err := strconv.Atoi(id)
	return err == nil && numberListHas(list, n)
}

// numberListHas reports whether a RouterOS number list ("10,20,30-39")
// holds n.
func numberListHas(list string, n int) bool {
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		if a <= n && n <= b {
			return true
		}
	}
	return false
}

// dynamicBridgeVLANs are the rows RouterOS adds on its own once a bridge
// filters VLANs: each bridge's PVID, untagged on the bridge and on every
// port with that PVID. Printed with dynamic=true; homelab must skip them.
func (r *Router) dynamicBridgeVLANs() []*item {
	var out []*item
	for i, name := range r.filtering() {
		b := r.find("/interface/bridge", name)
		pvid := b.props["pvid"]
		untagged := []string{name}
		for _, p := range r.menus["/interface/bridge/port"].items {
			if p.props["bridge"] == name && p.props["pvid"] == pvid {
				untagged = append(untagged, p.props["interface"])
			}
		}
		out = append(out, &item{id: fmt.Sprintf("*%X", 0x8000+i), props: map[string]string{
			"bridge": name, "vlan-ids": pvid, "untagged": strings.Join(untagged, ","), "tagged": "",
			"dynamic": "true", "disabled": "false",
		}})
	}
	return out
}
