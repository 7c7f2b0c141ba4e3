package inventory

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
)

// validator collects every problem in a defaulted inventory.
type validator struct {
	inv   *Inventory
	diags Diagnostics
	// ips maps each static address to the field that claims it.
	ips map[netip.Addr]string
	// vmids maps each VMID (templates' and guests') to its field.
	vmids map[string]string
	// all checks every string against its grammar, not only those the
	// file wrote: for an inventory built or edited in memory.
	all bool
}

func (v *validator) errorf(field, format string, args ...any) {
	v.add(field, SeverityError, format, args...)
}

func (v *validator) warnf(field, format string, args ...any) {
	v.add(field, SeverityWarning, format, args...)
}

// add collects a diagnostic, up to MaxCollected; the last one says where
// validation stopped reporting.
func (v *validator) add(field string, sev Severity, format string, args ...any) {
	switch {
	case len(v.diags) >= MaxCollected:
		return
	case len(v.diags) == MaxCollected-1:
		v.diags = append(v.diags, Diagnostic{Pos: v.inv.Source.Pos(field), Field: "(document)", Message: fmt.Sprintf("%d problems so far: stopped looking here", MaxCollected)})
		return
	}
	v.diags = append(v.diags, Diagnostic{Pos: v.inv.Source.Pos(field), Field: field, Message: fmt.Sprintf(format, args...), Severity: sev})
}

// where names a field and its line (clashes are within one file), for
// messages about clashes.
func (v *validator) where(field string) string {
	p := v.inv.Source.Pos(field)
	if !p.Known() {
		return field
	}
	return fmt.Sprintf("%s on line %d", field, p.Line)
}

func (v *validator) required(field string, empty bool) bool {
	if empty {
		v.errorf(field, "missing: this field is required")
		return false
	}
	return true
}

// unique reports a second use of key within one namespace.
func (v *validator) unique(seen map[string]string, key, field, what string) {
	if key == "" {
		return
	}
	if first, dup := seen[key]; dup {
		v.errorf(field, "%s %q is already used by %s", what, key, v.where(first))
		return
	}
	seen[key] = field
}

// claimIP reserves a static address for field, reporting a clash.
func (v *validator) claimIP(a netip.Addr, field string) {
	if !a.IsValid() {
		return
	}
	if first, dup := v.ips[a]; dup {
		v.errorf(field, "%s is already used by %s", a, v.where(first))
		return
	}
	v.ips[a] = field
}

func validate(inv *Inventory) Diagnostics { return check(inv, false) }

// check validates inv; all checks every string, written in the file or
// not.
func check(inv *Inventory, all bool) Diagnostics {
	v := &validator{inv: inv, ips: map[netip.Addr]string{}, vmids: map[string]string{}, all: all}
	if v.required("name", inv.Name == "") && !dnsLabel.MatchString(inv.Name) {
		v.errorf("name", "%q: use lower-case letters, digits and dashes (it goes into ownership marks)", inv.Name)
	}
	v.proxmox()
	v.router()
	v.networks()
	v.guests()
	v.startups()
	v.loadBalancer()
	v.kubernetes()
	v.secretForms()
	if m := inv.SSH.HostKeys; m != "" && m != HostKeysTOFU && m != HostKeysStrict {
		v.errorf("ssh.host_keys", "%q: want %s or %s", m, HostKeysTOFU, HostKeysStrict)
	}
	v.syntax()
	return v.diags
}

var (
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	tokenID  = regexp.MustCompile(`^[^@!\s]+@[^@!\s]+![A-Za-z][A-Za-z0-9._-]*$`)
	// volID is a PVE volume ID (pve-volume-id): a storage ID, ":", and a
	// volume name without spaces, commas or control characters.
	volID      = regexp.MustCompile(`^[a-z][a-z0-9\-_.]*[a-z0-9]:[A-Za-z0-9][A-Za-z0-9_.+/-]*$`)
	k8sVersion = regexp.MustCompile(`^1\.(\d+)\.(\d+)$`)
)

// The Kubernetes minors homelab renders kubeadm configuration for
// (pkg/kubeadm): kubeadm.k8s.io/v1beta3 below 1.31, v1beta4 from it.
const (
	MinKubernetesMinor = 29
	MaxKubernetesMinor = 34
)

// isDNSName reports whether s is an RFC 1123 host name (not an address).
func isDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if !dnsLabel.MatchString(label) {
			return false
		}
	}
	return true
}

func (v *validator) tls(field string, t *TLS, need bool) {
	if t == nil {
		return
	}
	switch {
	case t.CAFile != "" && t.Fingerprint != "":
		v.errorf(field, "set ca_file or fingerprint, not both")
	case t.Insecure && (t.CAFile != "" || t.Fingerprint != ""):
		v.errorf(field+".insecure", "insecure: true turns off the verification that ca_file or fingerprint asks for: choose one")
	case need && !t.Insecure && t.CAFile == "" && t.Fingerprint == "":
		v.errorf(field, "set ca_file or fingerprint, or insecure: true")
	}
	if t.Fingerprint != "" {
		hexPart := strings.ReplaceAll(strings.TrimPrefix(strings.TrimPrefix(t.Fingerprint, "SHA256:"), "sha256:"), ":", "")
		if len(hexPart) != 64 || strings.Trim(strings.ToLower(hexPart), "0123456789abcdef") != "" {
			v.errorf(field+".fingerprint", "expected a SHA-256 fingerprint (64 hex digits, colons allowed)")
		}
	}
}

func (v *validator) proxmox() {
	p := &v.inv.Proxmox
	if v.required("proxmox.endpoint", p.Endpoint == "") {
		if u, err := url.Parse(p.Endpoint); err != nil || u.Scheme != "https" || u.Host == "" {
			v.errorf("proxmox.endpoint", "%q is not an https:// URL of the Proxmox VE API", p.Endpoint)
		}
	}
	v.tls("proxmox.tls", &p.TLS, true)
	if v.required("proxmox.token_id", p.TokenID == "") && !tokenID.MatchString(p.TokenID) {
		v.errorf("proxmox.token_id", "%q is not an API token ID (user@realm!name)", p.TokenID)
	}
	v.required("proxmox.token_secret", p.TokenSecret == "")
	if p.ParallelPerNode < 1 {
		v.errorf("proxmox.parallel_per_node", "must be at least 1")
	}
	if v.required("proxmox.nodes", len(p.Nodes) == 0) {
		seen := map[string]string{}
		for i, n := range p.Nodes {
			f := fmt.Sprintf("proxmox.nodes[%d].name", i)
			if v.required(f, n.Name == "") {
				v.unique(seen, n.Name, f, "node name")
			}
		}
	}
	copies := map[string]string{}
	vmNames := map[string]bool{}
	for i, t := range p.Templates.VM {
		f := fmt.Sprintf("proxmox.templates.vm[%d]", i)
		v.required(f+".name", t.Name == "")
		v.vmid(f+".vmid", t.VMID)
		vmNames[t.Name] = true
		if v.required(f+".node", t.Node == "") && !v.hasNode(t.Node) {
			v.errorf(f+".node", "unknown node %q (nodes: %s)", t.Node, strings.Join(v.nodeNames(), ", "))
		}
		v.unique(copies, t.Name+" on "+t.Node, f+".name", "template")
	}
	names := map[string]string{}
	for i, t := range p.Templates.LXC {
		f := fmt.Sprintf("proxmox.templates.lxc[%d]", i)
		if v.required(f+".name", t.Name == "") {
			v.unique(names, t.Name, f+".name", "template name")
			if vmNames[t.Name] {
				v.errorf(f+".name", "%q is also the name of a VM template: give them different names", t.Name)
			}
		}
		if v.required(f+".volid", t.VolID == "") && !volID.MatchString(t.VolID) {
			v.errorf(f+".volid", "%q is not a volume ID such as local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", t.VolID)
		}
	}
}

// vmid checks a VMID's range and that no template or guest has it already.
func (v *validator) vmid(field string, id int) {
	if id < 100 || id > 999999999 {
		v.errorf(field, "%d is outside 100..999999999, the VMIDs Proxmox VE accepts", id)
		return
	}
	v.unique(v.vmids, fmt.Sprint(id), field, "vmid")
}

func (v *validator) hasNode(name string) bool {
	for _, n := range v.inv.Proxmox.Nodes {
		if n.Name == name {
			return true
		}
	}
	return false
}

func (v *validator) nodeNames() []string {
	var out []string
	for _, n := range v.inv.Proxmox.Nodes {
		out = append(out, n.Name)
	}
	return out
}

func (v *validator) router() {
	r := &v.inv.Router
	if v.required("router.address", r.Address == "") {
		if host, port, err := net.SplitHostPort(r.Address); err != nil || host == "" || port == "" {
			v.errorf("router.address", "%q is not host:port (the RouterOS API listens on 8728, or 8729 with TLS)", r.Address)
		}
	}
	v.tls("router.tls", r.TLS, true)
	if r.TLS == nil {
		v.warnf("router.address", "no tls: the RouterOS API (8728) sends the password in clear; prefer api-ssl (8729) with tls")
	}
	v.required("router.username", r.Username == "")
	v.required("router.password", r.Password == "")
	if r.Domain != "" && !isDNSName(r.Domain) {
		v.errorf("router.domain", "%q is not a DNS name", r.Domain)
	}
	switch r.VLANMode {
	case "interfaces":
	case "bridge-filtering":
		v.required("router.bridge", r.Bridge == "")
	default:
		v.errorf("router.vlan_mode", "%q: want interfaces or bridge-filtering", r.VLANMode)
	}
}

func (v *validator) secretForms() {
	check := func(field string, r SecretRef) {
		if msg := r.check(); msg != "" {
			v.errorf(field, "%s", msg)
		}
	}
	check("proxmox.token_secret", v.inv.Proxmox.TokenSecret)
	check("router.password", v.inv.Router.Password)
	if lb := v.inv.LoadBalancer; lb != nil {
		check("loadbalancer.vrrp_password", lb.VRRPPassword)
	}
	for kind, d := range map[string]GuestDefaults{"vm": v.inv.Defaults.VM, "lxc": v.inv.Defaults.LXC} {
		if d.SSH != nil {
			check("defaults."+kind+".ssh.private_key", d.SSH.PrivateKey)
		}
	}
	for i, g := range v.inv.Guests {
		if g.SSH != nil {
			check(fmt.Sprintf("guests[%d].ssh.private_key", i), g.SSH.PrivateKey)
		}
	}
}
