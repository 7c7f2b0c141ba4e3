package kubeadm

import (
	"errors"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/step"
)

// TestStepsCarryFiles: the init and join steps show the files they write,
// rendered in full with the secrets redacted, mode 0600.
func TestStepsCarryFiles(t *testing.T) {
	for name := range inventories {
		inv := loadInventory(t, name)
		steps, err := Phase{}.Steps(inv)
		if err != nil {
			t.Fatal(err)
		}
		byID := map[step.ID]*step.Step{}
		for _, s := range steps {
			byID[s.ID] = s
		}
		masters, workers := inv.ControlPlanes(), inv.Workers()
		want := map[step.ID]step.File{}
		initFile, err := InitConfig(inv, masters[0], Secrets{}.Redacted())
		if err != nil {
			t.Fatal(err)
		}
		want[initID(masters[0].Name)] = step.File{Host: masters[0].Name, Path: InitConfigPath, Mode: "0600", Content: string(initFile)}
		joining := append(append([]*inventory.Guest{}, masters[1:]...), workers...)
		for i, g := range joining {
			join, err := JoinConfig(inv, g, i < len(masters)-1, Secrets{}.Redacted())
			if err != nil {
				t.Fatal(err)
			}
			want[joinID(g.Name)] = step.File{Host: g.Name, Path: JoinConfigPath, Mode: "0600", Content: string(join)}
		}
		for id, file := range want {
			s, ok := byID[id]
			if !ok {
				t.Errorf("%s: no step %s", name, id)
				continue
			}
			if len(s.Intent.Files) != 1 || s.Intent.Files[0] != file {
				t.Errorf("%s: step %s files = %+v, want %+v", name, id, s.Intent.Files, file)
				continue
			}
			content := s.Intent.Files[0].Content
			if !strings.Contains(content, `token: "`+step.Redacted+`"`) {
				t.Errorf("%s: step %s shows no redacted token:\n%s", name, id, content)
			}
			controlPlane := id == initID(masters[0].Name) || strings.Contains(content, "controlPlane:")
			if controlPlane != strings.Contains(content, `certificateKey: "`+step.Redacted+`"`) {
				t.Errorf("%s: step %s: certificate key shown wrongly:\n%s", name, id, content)
			}
		}
	}
}

// With a way to the hosts every step of the sequence has work; the
// router-dns pin's steps need the router too (without it the engine
// refuses the run instead of skipping the pin).
func TestStepsHaveWork(t *testing.T) {
	noHosts := func(string) (remote.Host, error) { return nil, errors.New("no hosts in this test") }
	for name := range inventories {
		inv := loadInventory(t, name)
		steps, err := Phase{Hosts: noHosts}.Steps(inv)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range steps {
			if s.Work == nil {
				t.Errorf("%s: step %s has no work", name, s.ID)
			}
		}
		inv.Kubernetes.Pin = PinRouterDNS
		steps, err = Phase{Hosts: noHosts}.Steps(inv)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range steps {
			router := s.ID == PinRouterRecord || s.ID == FlipRouterRecord
			if router != (s.Work == nil) {
				t.Errorf("%s, pin router-dns: step %s has work %v", name, s.ID, s.Work != nil)
			}
		}
		record := func(*inventory.Inventory, step.ID, string, string) step.Work { return pinRecordWork{} }
		steps, err = Phase{Hosts: noHosts, DNSRecord: record}.Steps(inv)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range steps {
			if s.Work == nil {
				t.Errorf("%s, pin router-dns with a router: step %s has no work", name, s.ID)
			}
		}
	}
}

// cni.name bridge: one conflist step per node, after master1's apiserver
// gate or the node's join, and the nodes-Ready gate needs each of them
// instead of a Calico manifest.
func TestStepsBridgeCNI(t *testing.T) {
	inv := loadInventory(t, "small")
	k := *inv.Kubernetes
	k.CNI = inventory.CNI{Name: inventory.CNIBridge}
	inv.Kubernetes = &k
	steps, err := (Phase{Hosts: func(string) (remote.Host, error) { return nil, errors.New("offline") }}).Steps(inv)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[step.ID]*step.Step{}
	for _, s := range steps {
		byID[s.ID] = s
	}
	if _, ok := byID["kube/cni/calico"]; ok {
		t.Error("bridge: a calico step is planned")
	}
	masters := inv.ControlPlanes()
	nodes := append(append([]*inventory.Guest{}, masters...), inv.Workers()...)
	gate := byID[GateNodesReady]
	for i, n := range nodes {
		s, ok := byID[bridgeID(n.Name)]
		if !ok {
			t.Errorf("no step %s", bridgeID(n.Name))
			continue
		}
		after := joinID(n.Name)
		if i == 0 {
			after = apiGateID(n.Name)
		}
		if len(s.Needs) != 1 || s.Needs[0] != after {
			t.Errorf("%s needs %v, want [%s]", s.ID, s.Needs, after)
		}
		if s.Work == nil {
			t.Errorf("%s has no work", s.ID)
		}
		if !slices.Contains(gate.Needs, s.ID) {
			t.Errorf("%s needs %v: not %s", GateNodesReady, gate.Needs, s.ID)
		}
	}
}

// The bridge conflist of a node, against its golden file; libcni's
// conflist parsing (name, plugins with a type) and homelab's marker read
// back.
func TestBridgeConfigGolden(t *testing.T) {
	inv := loadInventory(t, "small")
	got, err := BridgeConfig(inv, netip.MustParsePrefix("10.244.1.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join("testdata", "golden", "bridge", "10-homelab-bridge.conflist"), got)
	if owned, cidr := bridgeOwned(got); !owned || cidr != "10.244.1.0/24" {
		t.Errorf("bridgeOwned = %t, %q; want true, 10.244.1.0/24", owned, cidr)
	}
	if owned, _ := bridgeOwned([]byte(`{"cniVersion":"1.0.0","name":"homelab-bridge","plugins":[{"type":"bridge"}]}`)); owned {
		t.Error("a conflist without homelab's mark counts as homelab's")
	}
	if _, err := BridgeConfig(inv, netip.Prefix{}); err == nil {
		t.Error("BridgeConfig without a pod CIDR: no error")
	}
	v6, err := BridgeConfig(inv, netip.MustParsePrefix("fd00:10:244:1::/64"))
	if err != nil || !strings.Contains(string(v6), `"dst": "::/0"`) {
		t.Errorf("IPv6 pod CIDR: %v\n%s", err, v6)
	}
}
