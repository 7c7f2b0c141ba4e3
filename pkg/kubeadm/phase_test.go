package kubeadm

import (
	"errors"
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

// The bridge CNI is accepted by the inventory but not built yet: the phase
// says so instead of applying a Calico manifest without a version.
func TestStepsRefuseBridgeCNI(t *testing.T) {
	inv := loadInventory(t, "small")
	k := *inv.Kubernetes
	k.CNI = inventory.CNI{Name: inventory.CNIBridge}
	inv.Kubernetes = &k
	if _, err := (Phase{}).Steps(inv); err == nil || !strings.Contains(err.Error(), `kubernetes.cni.name "bridge"`) {
		t.Fatalf("Steps: %v", err)
	}
}
