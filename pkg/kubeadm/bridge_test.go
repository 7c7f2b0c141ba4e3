package kubeadm

import (
	"net/netip"
	"testing"

	"github.com/homelabctl/homelab/pkg/step"
)

// What a bridge step decides from the node's file and its Node's pod
// CIDR: create, nothing when equal, an update naming the old and new CIDR
// when the Node's changed, a conflict for a file homelab did not write.
func TestBridgeChange(t *testing.T) {
	inv := loadInventory(t, "small")
	w := bridgeWork{inv: inv, node: "worker-1"}
	render := func(cidr string) []byte {
		b, err := BridgeConfig(inv, netip.MustParsePrefix(cidr))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name   string
		have   []byte
		exists bool
		cidr   string
		action step.Action
		field  step.Field
	}{
		{"missing", nil, false, "10.244.1.0/24", step.Create, step.Set("file", BridgeConfList)},
		{"same", render("10.244.1.0/24"), true, "10.244.1.0/24", step.None, step.Field{}},
		{"new pod CIDR", render("10.244.1.0/24"), true, "10.244.3.0/24", step.Update, step.Field{Name: "podCIDR", Old: "10.244.1.0/24", New: "10.244.3.0/24"}},
		{"foreign", []byte(`{"cniVersion":"1.0.0","name":"mynet","plugins":[{"type":"bridge"}]}`), true, "10.244.1.0/24", step.Conflict, step.Field{}},
		{"not json", []byte("# mine\n"), true, "10.244.1.0/24", step.Conflict, step.Field{}},
	} {
		c, want, err := w.change(tc.have, tc.exists, tc.cidr)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if c.Action != tc.action {
			t.Errorf("%s: %s (%s), want %s", tc.name, c.Action, c.Reason, tc.action)
		}
		if tc.field.Name != "" && (len(c.Fields) == 0 || c.Fields[0] != tc.field) {
			t.Errorf("%s: fields %+v, want first %+v", tc.name, c.Fields, tc.field)
		}
		if c.Action != step.Conflict && string(want) != string(render(tc.cidr)) {
			t.Errorf("%s: would write\n%s", tc.name, want)
		}
	}
	if _, _, err := w.change(nil, false, "not-a-cidr"); err == nil {
		t.Error("an unparsable spec.podCIDR: no error")
	}
}
