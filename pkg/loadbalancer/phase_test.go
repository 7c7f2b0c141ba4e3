package loadbalancer

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/step"
)

// The step IDs and needs are a contract with other phases and the plan
// goldens: they must not move.
func TestStepIDsAndNeeds(t *testing.T) {
	inv := loadInventory(t, "small")
	steps, err := Phase{}.Steps(inv)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range steps {
		var needs []string
		for _, n := range s.Needs {
			needs = append(needs, string(n))
		}
		got = append(got, fmt.Sprintf("%s <- %s", s.ID, strings.Join(needs, " ")))
	}
	want := []string{
		"lb/packages/lb-1 <- guest/lb-1/boot",
		"lb/sysctl/lb-1 <- guest/lb-1/boot",
		"lb/haproxy/lb-1 <- lb/packages/lb-1 lb/sysctl/lb-1",
		"lb/keepalived/lb-1 <- lb/haproxy/lb-1",
		"lb/packages/lb-2 <- guest/lb-2/boot",
		"lb/sysctl/lb-2 <- guest/lb-2/boot",
		"lb/haproxy/lb-2 <- lb/packages/lb-2 lb/sysctl/lb-2",
		"lb/keepalived/lb-2 <- lb/haproxy/lb-2",
		"lb/gate/vip/main <- lb/keepalived/lb-1 lb/keepalived/lb-2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Each file step's intent carries its files rendered in full; the plan's
// keepalived.conf shows auth_pass redacted.
func TestIntentFiles(t *testing.T) {
	inv := loadInventory(t, "rachuna-net")
	steps, err := Phase{}.Steps(inv)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[step.ID]*step.Step{}
	for _, s := range steps {
		byID[s.ID] = s
	}
	sysctl, _ := RenderSysctl(inv)
	dropIn, _ := RenderKeepalivedDropIn(inv)
	for _, g := range inv.LoadBalancers() {
		haproxy, err := RenderHAProxy(inv, g)
		if err != nil {
			t.Fatal(err)
		}
		keepalived, err := RenderKeepalived(inv, g, step.Redacted)
		if err != nil {
			t.Fatal(err)
		}
		want := map[step.ID][]step.File{
			step.ID("lb/sysctl/" + g.Name): {{Host: g.Name, Path: SysctlFile, Mode: "0644", Content: string(sysctl)}},
			step.HAProxyID(g.Name):         {{Host: g.Name, Path: HAProxyConfig, Mode: "0644", Content: string(haproxy)}},
			step.KeepalivedID(g.Name): {
				{Host: g.Name, Path: KeepalivedConfig, Mode: "0640", Content: string(keepalived)},
				{Host: g.Name, Path: KeepalivedDropIn, Mode: "0644", Content: string(dropIn)},
			},
		}
		for id, files := range want {
			s, ok := byID[id]
			if !ok {
				t.Fatalf("no step %s", id)
			}
			if fmt.Sprint(s.Intent.Files) != fmt.Sprint(files) {
				t.Errorf("%s files:\n%v\nwant:\n%v", id, s.Intent.Files, files)
			}
		}
		k := byID[step.KeepalivedID(g.Name)].Intent.Files[0].Content
		if strings.Count(k, "auth_pass "+step.Redacted+"\n") != len(inv.LoadBalancer.VIPs) {
			t.Errorf("%s keepalived.conf does not show every auth_pass redacted", g.Name)
		}
	}
}

// The plan never holds the secret: it is not even an input of Steps.
// Rendering with a value and redacting gives the plan's content.
func TestPlanHasNoSecret(t *testing.T) {
	inv := loadInventory(t, "small")
	steps, err := Phase{}.Steps(inv)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(steps)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `auth_pass (sensitive)`) {
		t.Error("the plan has no redacted auth_pass")
	}
	for _, s := range steps {
		for _, f := range s.Intent.Files {
			if f.Path == KeepalivedConfig {
				lb, _ := inv.Guest(f.Host)
				real, err := RenderKeepalived(inv, lb, testAuthPass)
				if err != nil {
					t.Fatal(err)
				}
				if string(RedactAuthPass(real)) != f.Content {
					t.Errorf("%s: the planned keepalived.conf is not the redacted real one", f.Host)
				}
			}
		}
	}
}
