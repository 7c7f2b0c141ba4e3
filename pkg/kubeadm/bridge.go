package kubeadm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"strings"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/step"
)

// BridgeConfList is where kubernetes.cni.name: bridge writes each node's
// CNI configuration. containerd's CRI plugin loads the first
// configuration of /etc/cni/net.d by name, and runs the plugins from
// /opt/cni/bin (containerd 1.6's default bin_dir, where the
// kubernetes-cni package that kubelet depends on installs them).
const BridgeConfList = "/etc/cni/net.d/10-homelab-bridge.conflist"

// bridgeNetwork is the CNI network name of the bridge configuration.
const bridgeNetwork = "homelab-bridge"

func bridgeID(node string) step.ID { return step.ID("kube/cni/bridge/" + node) }

// bridgeConf is the conflist: the bridge plugin with host-local IPAM on
// the node's pod CIDR, then portmap for hostPort. Field order is the
// file's order.
type bridgeConf struct {
	// Mark is the top-level "homelab" key that marks the conflist as
	// homelab's: JSON has no comments, and libcni ignores top-level keys
	// it does not know (containernetworking/cni libcni/conf.go).
	Mark       string         `json:"homelab"`
	CNIVersion string         `json:"cniVersion"`
	Name       string         `json:"name"`
	Plugins    []bridgePlugin `json:"plugins"`
}

type bridgePlugin struct {
	Type         string          `json:"type"`
	Bridge       string          `json:"bridge,omitempty"`
	IsGateway    bool            `json:"isGateway,omitempty"`
	IPMasq       bool            `json:"ipMasq,omitempty"`
	HairpinMode  bool            `json:"hairpinMode,omitempty"`
	IPAM         *bridgeIPAM     `json:"ipam,omitempty"`
	Capabilities map[string]bool `json:"capabilities,omitempty"`
}

type bridgeIPAM struct {
	Type   string                `json:"type"`
	Ranges [][]map[string]string `json:"ranges"`
	Routes []map[string]string   `json:"routes"`
}

// BridgeConfig renders the bridge CNI configuration of a node whose pod
// CIDR is podCIDR (its Node's spec.podCIDR): bridge cni0 as the pods'
// gateway, masquerading what leaves the pod CIDR, hairpin mode, host-local
// addresses from podCIDR with a default route, and portmap. cniVersion
// 1.0.0 is read by containerd 1.6 (libcni 1.1) and the plugins of
// kubernetes-cni and Debian's containernetworking-plugins.
func BridgeConfig(inv *inventory.Inventory, podCIDR netip.Prefix) ([]byte, error) {
	if !podCIDR.IsValid() {
		return nil, errors.New("bridge CNI: no pod CIDR")
	}
	def := "0.0.0.0/0"
	if podCIDR.Addr().Is6() {
		def = "::/0"
	}
	conf := bridgeConf{
		Mark:       strings.TrimPrefix(header(inv), "# "),
		CNIVersion: "1.0.0",
		Name:       bridgeNetwork,
		Plugins: []bridgePlugin{
			{Type: "bridge", Bridge: "cni0", IsGateway: true, IPMasq: true, HairpinMode: true, IPAM: &bridgeIPAM{
				Type:   "host-local",
				Ranges: [][]map[string]string{{{"subnet": podCIDR.Masked().String()}}},
				Routes: []map[string]string{{"dst": def}},
			}},
			{Type: "portmap", Capabilities: map[string]bool{"portMappings": true}},
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("bridge CNI: %w", err)
	}
	return append(b, '\n'), nil
}

// bridgeOwned reports whether content is a conflist homelab wrote, and
// the pod CIDR it carries ("" when it has none).
func bridgeOwned(content []byte) (owned bool, podCIDR string) {
	var c bridgeConf
	if json.Unmarshal(content, &c) != nil || !strings.HasPrefix(c.Mark, strings.TrimPrefix(ManagedMark, "# ")) {
		return false, ""
	}
	for _, p := range c.Plugins {
		if p.IPAM != nil && len(p.IPAM.Ranges) > 0 && len(p.IPAM.Ranges[0]) > 0 {
			return true, p.IPAM.Ranges[0][0]["subnet"]
		}
	}
	return true, ""
}

// bridgeWork writes a node's bridge conflist with the pod CIDR the
// cluster allocated to its Node, once it differs from what the node has.
type bridgeWork struct {
	inv    *inventory.Inventory
	hosts  nodes
	master *inventory.Guest
	node   string
	intent step.Change
	// gate waits for kube-controller-manager to allocate the pod CIDR.
	gate step.Wait
}

// podCIDR asks the cluster (kubectl on master1) for the Node's
// spec.podCIDR: "" while it has none.
func (w bridgeWork) podCIDR(ctx context.Context) (string, error) {
	g, m1, err := w.hosts.manager(ctx)
	if err != nil {
		return "", err
	}
	out, err := run(ctx, m1, command{script: kubectl(g, "get node "+remote.Quote(w.node)+" -o jsonpath='{.spec.podCIDR}'")})
	return strings.TrimSpace(out), err
}

// change compares what the node has with the conflist for cidr.
func (w bridgeWork) change(have []byte, exists bool, cidr string) (step.Change, []byte, error) {
	if exists {
		if owned, _ := bridgeOwned(have); !owned {
			return step.Change{Action: step.Conflict, Reason: fmt.Sprintf("%s on %s was not written by homelab; move it away", BridgeConfList, w.node)}, nil, nil
		}
	}
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil {
		return step.Change{}, nil, fmt.Errorf("%s: spec.podCIDR %q: %w", w.node, cidr, err)
	}
	want, err := BridgeConfig(w.inv, prefix)
	if err != nil {
		return step.Change{}, nil, err
	}
	switch {
	case !exists:
		return step.Change{Action: step.Create, Fields: []step.Field{step.Set("file", BridgeConfList), step.Set("podCIDR", cidr)}}, want, nil
	case bytes.Equal(have, want):
		return step.Change{Action: step.None}, want, nil
	}
	_, old := bridgeOwned(have)
	fields := []step.Field{{Name: "podCIDR", Old: old, New: cidr}}
	if old == cidr {
		fields = []step.Field{{Name: BridgeConfList, Old: "differs", New: "rewritten"}}
	}
	return step.Change{Action: step.Update, Fields: fields}, want, nil
}

// read returns the node's conflist and whether it exists.
func readBridge(ctx context.Context, h remote.Host) ([]byte, bool, error) {
	have, err := h.Read(ctx, BridgeConfList)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	return have, true, nil
}

func (w bridgeWork) Observe(ctx context.Context) (step.Change, error) {
	return observeOn(ctx, w.hosts, w.node, w.intent, func(ctx context.Context, h remote.Host) (step.Change, error) {
		have, exists, err := readBridge(ctx, h)
		if err != nil {
			return step.Change{}, err
		}
		if exists {
			if owned, _ := bridgeOwned(have); !owned {
				c, _, err := w.change(have, exists, "")
				return c, err
			}
		}
		cidr, err := w.podCIDR(ctx)
		switch {
		case err != nil && notFound(err):
			return w.intent.Unread(w.node + " is not a node yet: it joins earlier in this run"), nil
		case err != nil && (exited(err) || noManager(err)):
			// No cluster yet, or none answering: what a new one needs.
			return noCluster(w.intent), nil
		case err != nil:
			return step.Change{}, err
		case cidr == "":
			return w.intent.Unread(w.node + " has no pod CIDR yet: planned with the one the cluster allocates"), nil
		}
		c, _, err := w.change(have, exists, cidr)
		return c, err
	})
}

func (w bridgeWork) Apply(ctx context.Context, _ step.Change, out io.Writer) error {
	h, err := w.hosts.dial(w.node)
	if err != nil {
		return err
	}
	var cidr string
	err = w.gate.Until(ctx, out, func(ctx context.Context) (bool, string, error) {
		got, err := w.podCIDR(ctx)
		switch {
		case err != nil && (exited(err) || noManager(err)):
			return false, err.Error(), nil
		case err != nil:
			return false, "", err
		case got == "":
			return false, w.node + " has no spec.podCIDR yet", nil
		}
		cidr = got
		return true, fmt.Sprintf("%s has the pod CIDR %s", w.node, got), nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", w.node, err)
	}
	have, exists, err := readBridge(ctx, h)
	if err != nil {
		return fmt.Errorf("%s: read %s: %w", w.node, BridgeConfList, err)
	}
	c, want, err := w.change(have, exists, cidr)
	switch {
	case err != nil:
		return err
	case c.Action == step.Conflict:
		return errors.New(c.Reason)
	case c.Action == step.None:
		return nil
	}
	if _, err := h.Sync(ctx, remote.File{Path: BridgeConfList, Content: want, Mode: 0o644, Owner: "root", Group: "root"}); err != nil {
		return fmt.Errorf("%s: write %s: %w", w.node, BridgeConfList, err)
	}
	fmt.Fprintf(out, "%s written on %s: bridge cni0, pods in %s\n", BridgeConfList, w.node, cidr)
	return nil
}
