package pve

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// agentGuest checks a VM's guest agent as qemu-server's Agent.pm does.
func (s *Server) agentGuest(c *call) (*guest, *apiError) {
	g, err := s.lookupGuest(c, KindVM)
	if err != nil {
		return nil, err
	}
	if _, ok := g.conf["agent"]; !ok {
		return nil, fail("No QEMU guest agent configured")
	}
	if !g.running {
		return nil, fail("VM %d is not running", g.vmid)
	}
	if !agentEnabled(g) {
		return nil, fail("QEMU guest agent is not enabled")
	}
	if c.now.Before(g.agentAt) {
		return nil, fail("QEMU guest agent is not running")
	}
	return g, nil
}

// nics lists a guest's network devices in index order.
func (g *guest) nics() []string {
	var keys []string
	for k := range g.conf {
		if rest, ok := strings.CutPrefix(k, "net"); ok {
			if _, err := strconv.Atoi(rest); err == nil {
				keys = append(keys, k)
			}
		}
	}
	slices.SortFunc(keys, func(a, b string) int {
		x, _ := strconv.Atoi(a[3:])
		y, _ := strconv.Atoi(b[3:])
		return x - y
	})
	return keys
}

// nicMAC is the MAC of a VM or container NIC.
func (g *guest) nicMAC(key string) string {
	v := g.conf[key]
	if g.kind == KindCT {
		return propGet(v, "hwaddr")
	}
	for _, it := range splitProps(v) {
		if slices.Contains(netModels, it.Key) || it.Key == "macaddr" {
			return it.Value
		}
	}
	return ""
}

// nicAddresses are the CIDRs a NIC has inside the guest: what the test
// set, or the static address cloud-init (ipconfigN) or the container
// config (ip=) gives it.
func (g *guest) nicAddresses(key string, index int) []string {
	if index == 0 && g.agentIPs != nil {
		return g.agentIPs
	}
	var ip, ip6 string
	if g.kind == KindCT {
		ip, ip6 = propGet(g.conf[key], "ip"), propGet(g.conf[key], "ip6")
	} else {
		cfg := g.conf["ipconfig"+strconv.Itoa(index)]
		ip, ip6 = propGet(cfg, "ip"), propGet(cfg, "ip6")
	}
	var out []string
	for _, a := range []string{ip, ip6} {
		if _, err := netip.ParsePrefix(a); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// linkLocal is the EUI-64 IPv6 link-local address of a MAC.
func linkLocal(mac string) string {
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 {
		return "fe80::1/64"
	}
	b := [16]byte{0xfe, 0x80}
	b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15] = hw[0]^2, hw[1], hw[2], 0xff, 0xfe, hw[3], hw[4], hw[5]
	return netip.PrefixFrom(netip.AddrFrom16(b), 64).String()
}

func agentAddress(cidr string) map[string]any {
	p := netip.MustParsePrefix(cidr)
	typ := "ipv4"
	if p.Addr().Is6() {
		typ = "ipv6"
	}
	return map[string]any{"ip-address": p.Addr().String(), "ip-address-type": typ, "prefix": p.Bits()}
}

// handleAgentInterfaces is GET .../agent/network-get-interfaces: QGA's
// answer wrapped in {"result": ...}.
func (s *Server) handleAgentInterfaces(c *call) (any, *apiError) {
	g, err := s.agentGuest(c)
	if err != nil {
		return nil, err
	}
	stats := map[string]any{"rx-bytes": 0, "rx-packets": 0, "rx-errs": 0, "rx-dropped": 0, "tx-bytes": 0, "tx-packets": 0, "tx-errs": 0, "tx-dropped": 0}
	ifaces := []map[string]any{{
		"name": "lo", "hardware-address": "00:00:00:00:00:00", "statistics": stats,
		"ip-addresses": []map[string]any{agentAddress("127.0.0.1/8"), agentAddress("::1/128")},
	}}
	for i, key := range g.nics() {
		mac := strings.ToLower(g.nicMAC(key))
		addrs := []map[string]any{}
		for _, a := range g.nicAddresses(key, i) {
			addrs = append(addrs, agentAddress(a))
		}
		addrs = append(addrs, agentAddress(linkLocal(mac)))
		ifaces = append(ifaces, map[string]any{
			"name": fmt.Sprintf("eth%d", i), "hardware-address": mac,
			"ip-addresses": addrs, "statistics": maps.Clone(stats),
		})
	}
	return map[string]any{"result": ifaces}, nil
}

func (s *Server) handleAgentOSInfo(c *call) (any, *apiError) {
	if _, err := s.agentGuest(c); err != nil {
		return nil, err
	}
	return map[string]any{"result": map[string]any{
		"id": "debian", "name": "Debian GNU/Linux", "pretty-name": "Debian GNU/Linux 12 (bookworm)",
		"version": "12 (bookworm)", "version-id": "12", "kernel-release": "6.1.0-40-cloud-amd64",
		"kernel-version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.153-1 (2025-09-20)", "machine": "x86_64",
	}}, nil
}

var cloudInitKeys = []string{"cicustom", "cipassword", "citype", "ciupgrade", "ciuser", "nameserver", "searchdomain", "sshkeys"}

// handleCloudInitPending is GET .../cloudinit: the cloud-init keys, none
// pending (the simulator regenerates the drive on every change).
func (s *Server) handleCloudInitPending(c *call) (any, *apiError) {
	g, err := s.lookupGuest(c, KindVM)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, k := range slices.Sorted(maps.Keys(g.conf)) {
		if slices.Contains(cloudInitKeys, k) || strings.HasPrefix(k, "ipconfig") {
			v := g.conf[k]
			if k == "cipassword" {
				v = "**********"
			}
			out = append(out, map[string]any{"key": k, "value": v})
		}
	}
	return out, nil
}

func (s *Server) handleCloudInitRegenerate(c *call) (any, *apiError) {
	if _, err := s.lookupGuest(c, KindVM); err != nil {
		return nil, err
	}
	return nil, nil
}

// handleCloudInitDump is GET .../cloudinit/dump: the generated NoCloud
// document.
func (s *Server) handleCloudInitDump(c *call) (any, *apiError) {
	g, err := s.lookupGuest(c, KindVM)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	switch c.params["type"] {
	case "meta":
		sum := sha1.Sum([]byte(g.digest()))
		fmt.Fprintf(&b, "instance-id: %s\n", hex.EncodeToString(sum[:]))
	case "network":
		b.WriteString("version: 1\nconfig:\n")
		for i, key := range g.nics() {
			fmt.Fprintf(&b, "    - type: physical\n      name: eth%d\n      mac_address: '%s'\n      subnets:\n", i, strings.ToLower(g.nicMAC(key)))
			cfg := g.conf["ipconfig"+strconv.Itoa(i)]
			ip := propGet(cfg, "ip")
			if p, err := netip.ParsePrefix(ip); err == nil {
				mask := net.CIDRMask(p.Bits(), 32)
				fmt.Fprintf(&b, "      - type: static\n        address: '%s'\n        netmask: '%s'\n", p.Addr(), net.IP(mask).String())
				if gw := propGet(cfg, "gw"); gw != "" {
					fmt.Fprintf(&b, "        gateway: '%s'\n", gw)
				}
			} else {
				b.WriteString("      - type: dhcp4\n")
			}
		}
	default:
		fmt.Fprintf(&b, "#cloud-config\nhostname: %s\nmanage_etc_hosts: true\nfqdn: %s\n", g.name(), g.name())
		if u := g.conf["ciuser"]; u != "" {
			fmt.Fprintf(&b, "user: %s\n", u)
		}
		if keys := g.conf["sshkeys"]; keys != "" {
			b.WriteString("ssh_authorized_keys:\n")
			for _, k := range strings.Split(urlDecode(keys), "\n") {
				if k = strings.TrimSpace(k); k != "" {
					fmt.Fprintf(&b, "  - %s\n", k)
				}
			}
		}
		b.WriteString("chpasswd:\n  expire: False\nusers:\n  - default\npackage_upgrade: true\n")
	}
	return b.String(), nil
}
