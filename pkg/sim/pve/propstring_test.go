package pve

import (
	"maps"
	"sort"
	"strings"
	"testing"
)

func TestPropertyString(t *testing.T) {
	for _, tc := range []struct {
		name, format, in string
		want             map[string]string
		err              string
	}{
		{"model alias", "net", "virtio=BC:24:11:2E:C5:4A,bridge=vmbr0,tag=10",
			map[string]string{"model": "virtio", "macaddr": "BC:24:11:2E:C5:4A", "bridge": "vmbr0", "tag": "10"}, ""},
		{"bare default key", "net", "virtio,bridge=vmbr0", map[string]string{"model": "virtio", "bridge": "vmbr0"}, ""},
		{"explicit keys", "net", "model=e1000,macaddr=BC:24:11:00:00:01", map[string]string{"model": "e1000", "macaddr": "BC:24:11:00:00:01"}, ""},
		{"boolean spelling", "net", "virtio,firewall=yes,link_down=off", map[string]string{"model": "virtio", "firewall": "1", "link_down": "0"}, ""},
		{"blank parts", "net", "virtio,,bridge=vmbr0,", map[string]string{"model": "virtio", "bridge": "vmbr0"}, ""},
		{"missing model", "net", "bridge=vmbr0", nil, "format error\nnet0.model: property is missing and it is not optional\n"},
		{"bad tag", "net", "virtio,tag=5000", nil, "format error\nnet0.tag: value must have a maximum value of 4094\n"},
		{"bad mac", "net", "virtio=01:00:00:00:00:00", nil, "format error\nnet0.macaddr: invalid format - value does not look like a valid unicast MAC address\n"},
		{"unknown key", "net", "virtio,colour=red", nil, "invalid key in comma-separated list property: colour"},
		{"duplicate", "net", "virtio,bridge=a,bridge=b", nil, "duplicate key in comma-separated list property: bridge"},
		{"two models", "net", "virtio,e1000=BC:24:11:00:00:01", nil, "duplicate key in comma-separated list property: model"},
		{"enum", "net", "tulip", nil, "format error\nnet0.model: value 'tulip' does not have a value in the enumeration '" + strings.Join(netModels, ", ") + "'\n"},
		{"empty value is bare", "net", "virtio,bridge=", nil, "duplicate key in comma-separated list property: model"},
		{"ct net", "ctnet", "name=eth0,bridge=vmbr0,ip=dhcp,tag=20", map[string]string{"name": "eth0", "bridge": "vmbr0", "ip": "dhcp", "tag": "20"}, ""},
		{"ct net needs name", "ctnet", "bridge=vmbr0", nil, "format error\nnet0.name: property is missing and it is not optional\n"},
		{"ct ip", "ctnet", "name=eth0,ip=10.0.0.1", nil, "format error\nnet0.ip: invalid format - value does not look like a valid ipv4 network configuration\n"},
		{"no default key", "ctnet", "eth0", nil, "value without key, but schema does not define a default key"},
		{"rootfs", "rootfs", "local-lvm:8,size=8G", map[string]string{"volume": "local-lvm:8", "size": "8G"}, ""},
		{"rootfs size", "rootfs", "local-lvm:8,size=8X", nil, "format error\nnet0.size: invalid format - value '8X' is not a valid disk size\n"},
		{"ipconfig", "ipconfig", "ip=10.0.30.11/24,gw=10.0.30.1", map[string]string{"ip": "10.0.30.11/24", "gw": "10.0.30.1"}, ""},
		{"ipconfig dhcp", "ipconfig", "ip=dhcp,ip6=auto", map[string]string{"ip": "dhcp", "ip6": "auto"}, ""},
		{"ipconfig gw", "ipconfig", "gw=10.0.0.1.2", nil, "format error\nnet0.gw: invalid format - value does not look like a valid IPv4 address\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePropertyString(testFormat(tc.format), tc.in, "net0")
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func testFormat(name string) map[string]*prop {
	switch name {
	case "net":
		return vmNetFormat()
	case "ctnet":
		return ctNetFormat()
	case "rootfs":
		return mountFormat()
	case "ipconfig":
		return ipconfigFormat()
	}
	panic(name)
}

// FuzzPropertyString: parsing never panics, and what parses re-parses to
// the same values once printed in canonical form.
func FuzzPropertyString(f *testing.F) {
	for _, seed := range []string{
		"virtio=BC:24:11:2E:C5:4A,bridge=vmbr0,tag=10", "virtio,bridge=vmbr0,firewall=1",
		"e1000=BC:24:11:00:00:01,mtu=1500,queues=4,rate=12.5", "model=virtio,trunks=10;20-30",
		",,=,==,virtio=", "virtio,tag=-1", "virtio,link_down=yes",
	} {
		f.Add(seed)
	}
	format := vmNetFormat()
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parsePropertyString(format, in, "net0")
		if err != nil {
			return
		}
		keys := make([]string, 0, len(got))
		for k := range got {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, k+"="+got[k])
		}
		again, err := parsePropertyString(format, strings.Join(parts, ","), "net0")
		if err != nil {
			t.Fatalf("%q parsed to %v, whose canonical form fails: %v", in, got, err)
		}
		if !maps.Equal(got, again) {
			t.Fatalf("%q: %v then %v", in, got, again)
		}
	})
}

func TestNormalizeTagsAndSizes(t *testing.T) {
	if got := normalizeTags("Web;homelab, web lb"); got != "homelab;lb;web" {
		t.Errorf("normalizeTags = %q", got)
	}
	for size, want := range map[uint64]string{2 << 30: "2G", 1536 << 20: "1536M", 1 << 40: "1T", 1000: "1000", 4 << 20: "4M"} {
		if got := formatSize(size); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", size, got, want)
		}
		if back, ok := parseSize(want); !ok || back != size {
			t.Errorf("parseSize(%q) = %d", want, back)
		}
	}
}
