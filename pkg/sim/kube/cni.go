package kube

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/homelabctl/homelab/pkg/sim/host"
)

// cniConfDir is where containerd's CRI plugin loads CNI configurations
// from (conf_dir of containerd 1.6's default config).
const cniConfDir = "/etc/cni/net.d"

// NetworkNotReady is why kubelet keeps a node NotReady while containerd has
// loaded no CNI configuration (the Ready condition's message; kubelet's
// pkg/kubelet/kubelet.go and containerd's pkg/cri/server/status.go).
const NetworkNotReady = "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized"

// nodeCIDRMaskSize is kube-controller-manager's --node-cidr-mask-size for
// IPv4 (64 for IPv6) when kubeadm sets --allocate-node-cidrs for its
// podSubnet.
func nodeCIDRMaskSize(subnet netip.Prefix) int {
	if subnet.Addr().Is4() {
		return 24
	}
	return 64
}

// allocatePodCIDR is the pod CIDR the range allocator of
// kube-controller-manager gives a Node that registers (c held under
// s.mu): the one it had when a Node of that name is registered again,
// else the first free block of the pod subnet; "" without a podSubnet
// or when the subnet is exhausted (the real allocator's CIDRNotAvailable
// event). The real allocator walks on from the last block it handed out;
// on a cluster whose nodes are only added, that is the same order.
func (c *Cluster) allocatePodCIDR(node string) string {
	if i := slices.IndexFunc(c.Nodes, func(n Node) bool { return n.Name == node }); i >= 0 && c.Nodes[i].PodCIDR != "" {
		return c.Nodes[i].PodCIDR
	}
	subnet, err := netip.ParsePrefix(strings.Split(c.PodSubnet, ",")[0])
	if err != nil {
		return ""
	}
	subnet = subnet.Masked()
	size := nodeCIDRMaskSize(subnet)
	if subnet.Bits() > size || (subnet.Addr().Is6() && size-subnet.Bits() > 16) {
		return ""
	}
	used := map[string]bool{}
	for _, n := range c.Nodes {
		used[n.PodCIDR] = true
	}
	for i := 0; i < 1<<(size-subnet.Bits()); i++ {
		block := nthBlock(subnet, size, i)
		if !used[block.String()] {
			return block.String()
		}
	}
	return ""
}

// nthBlock is the i-th block of size bits in subnet.
func nthBlock(subnet netip.Prefix, size, i int) netip.Prefix {
	b := subnet.Addr().AsSlice()
	// Add i << (len(b)*8 - size) to the address, byte by byte.
	shift := len(b)*8 - size
	carry := uint64(i) << (shift % 8)
	for j := len(b) - 1 - shift/8; j >= 0 && carry > 0; j-- {
		sum := uint64(b[j]) + carry&0xff
		b[j] = byte(sum)
		carry = carry>>8 + sum>>8
	}
	a, _ := netip.AddrFromSlice(b)
	return netip.PrefixFrom(a, size)
}

// networkReady reports whether containerd on h has a CNI configuration
// to load: a file in /etc/cni/net.d that libcni parses (a .conflist with a
// name and a non-empty plugins list, each plugin with a type; or a
// .conf/.json with a type). Without one kubelet reports NetworkNotReady.
// Calico's install-cni writes its own conflist on every node; the
// simulator counts a running calico-node for it (see ready).
func networkReady(h *host.Host) bool {
	if h == nil {
		return false
	}
	dir := filepath.Join(h.Root(), cniConfDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		switch filepath.Ext(e.Name()) {
		case ".conflist":
			if validConfList(b) {
				return true
			}
		case ".conf", ".json":
			var p struct {
				Type string `json:"type"`
			}
			if json.Unmarshal(b, &p) == nil && p.Type != "" {
				return true
			}
		}
	}
	return false
}

// validConfList reports whether libcni's ConfListFromBytes accepts b
// (containernetworking/cni libcni/conf.go): a JSON object with a string
// name, a string cniVersion when given, and a non-empty plugins list
// whose every entry has a type. Other top-level keys are ignored.
func validConfList(b []byte) bool {
	var l struct {
		Name       *string           `json:"name"`
		CNIVersion *string           `json:"cniVersion"`
		Plugins    []json.RawMessage `json:"plugins"`
	}
	if json.Unmarshal(b, &l) != nil || l.Name == nil || len(l.Plugins) == 0 {
		return false
	}
	for _, raw := range l.Plugins {
		var p struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(raw, &p) != nil || p.Type == "" {
			return false
		}
	}
	return true
}
