package inventory

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

// Each file under testdata/invalid is the valid testdata/base.yaml wrong
// in one way; the table pins every diagnostic, position included.
func TestValidationRules(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"cidr-not-network", []string{
			`testdata/invalid/cidr-not-network.yaml:30:11: networks[0].cidr: 10.0.10.5/24 is not a network address; did you mean 10.0.10.0/24?`,
		}},
		{"duplicate-ip", []string{
			`testdata/invalid/duplicate-ip.yaml:41:75: guests[3].ip: 10.0.10.21 is already used by guests[2].ip on line 40`,
		}},
		{"duplicate-mac", []string{
			`testdata/invalid/duplicate-mac.yaml:39:88: guests[1].mac: MAC "02:00:00:00:00:01" is already used by guests[0].mac on line 38`,
		}},
		{"duplicate-name", []string{
			`testdata/invalid/duplicate-name.yaml:39:13: guests[1].name: guest name "lb-1" is already used by guests[0].name on line 38`,
		}},
		{"duplicate-vmid", []string{
			`testdata/invalid/duplicate-vmid.yaml:41:52: guests[3].vmid: vmid "111" is already used by guests[2].vmid on line 40`,
		}},
		{"endpoint-not-dns", []string{
			`testdata/invalid/endpoint-not-dns.yaml:51:13: kubernetes.endpoint: "https://k8s-api.test.example:6443" is not a DNS name: the endpoint must be a name that can move from master1 to the VIP`,
		}},
		{"frontend-unknown-vip", []string{
			`testdata/invalid/frontend-unknown-vip.yaml:48:36: loadbalancer.frontends[0].vip: unknown VIP "apl"`,
		}},
		{"ip-in-dhcp-pool", []string{
			`testdata/invalid/ip-in-dhcp-pool.yaml:41:75: guests[3].ip: 10.0.10.150 is inside the DHCP pool 10.0.10.100-10.0.10.199 of network "lab": static addresses must lie outside it`,
		}},
		{"ip-outside-cidr", []string{
			`testdata/invalid/ip-outside-cidr.yaml:41:75: guests[3].ip: 10.0.20.31 is outside network "lab" (10.0.10.0/24)`,
		}},
		{"lxc-with-vm-template", []string{
			`testdata/invalid/lxc-with-vm-template.yaml:42:43: guests[4].template: "debian" is a VM template; an lxc needs an LXC template`,
		}},
		{"lxc-cloud-init-upgrade", []string{
			`testdata/invalid/lxc-cloud-init-upgrade.yaml:42:53: guests[4].cloud_init_upgrade: a container does not run cloud-init: cloud_init_upgrade is for VMs`,
		}},
		{"no-control-plane", []string{
			`testdata/invalid/no-control-plane.yaml:48:81: loadbalancer.frontends[0].backend.role: no guest has the role "control-plane"`,
			`testdata/invalid/no-control-plane.yaml:50:3: kubernetes.control_plane_role: no guest has the role "control-plane": the cluster needs at least one control plane`,
		}},
		{"overlapping-cidrs", []string{
			`testdata/invalid/overlapping-cidrs.yaml:37:11: networks[1].cidr: 10.0.0.0/16 overlaps 10.0.10.0/24 of network "lab" (networks[0].cidr on line 30)`,
		}},
		{"pod-subnet-overlap", []string{
			`testdata/invalid/pod-subnet-overlap.yaml:53:15: kubernetes.pod_subnet: 10.0.0.0/16 overlaps network "lab" (10.0.10.0/24, networks[0].cidr on line 30)`,
		}},
		{"secret-literal", []string{
			`testdata/invalid/secret-literal.yaml:8:17: proxmox.token_secret: secrets are references (env:NAME or file:PATH), never values`,
		}},
		{"template-not-on-node", []string{
			`testdata/invalid/template-not-on-node.yaml:38:5: guests[1].template: template "debian" has no copy on node pve-2 and none on shared storage: add one (name, vmid, node) under proxmox.templates.vm`,
			`testdata/invalid/template-not-on-node.yaml:40:5: guests[3].template: template "debian" has no copy on node pve-2 and none on shared storage: add one (name, vmid, node) under proxmox.templates.vm`,
		}},
		{"tls-ca-and-fingerprint", []string{
			`testdata/invalid/tls-ca-and-fingerprint.yaml:6:5: proxmox.tls: set ca_file or fingerprint, not both`,
		}},
		{"type-mismatch", []string{
			`testdata/invalid/type-mismatch.yaml:39:48: guests[1].vmid: expected a whole number, got "one-o-two"`,
		}},
		{"unknown-key", []string{
			`testdata/invalid/unknown-key.yaml:38:53: guests[0].memroy: unknown field "memroy"; did you mean "memory"?`,
		}},
		{"unknown-network", []string{
			`testdata/invalid/unknown-network.yaml:41:66: guests[3].network: unknown network "dmz"`,
		}},
		{"unknown-node", []string{
			`testdata/invalid/unknown-node.yaml:41:39: guests[3].node: unknown node "pve-9" (nodes: pve-1, pve-2)`,
		}},
		{"unknown-template", []string{
			`testdata/invalid/unknown-template.yaml:41:43: guests[3].template: unknown template "ubuntu"`,
		}},
		{"vip-in-dhcp-pool", []string{
			`testdata/invalid/vip-in-dhcp-pool.yaml:46:29: loadbalancer.vips[0].address: 10.0.10.120 is inside the DHCP pool 10.0.10.100-10.0.10.199 of network "lab": static addresses must lie outside it`,
		}},
		{"vip-outside-cidr", []string{
			`testdata/invalid/vip-outside-cidr.yaml:46:29: loadbalancer.vips[0].address: 10.0.99.10 is outside network "lab" (10.0.10.0/24)`,
		}},
		{"kubernetes-version-unsupported", []string{
			`testdata/invalid/kubernetes-version-unsupported.yaml:51:12: kubernetes.version: Kubernetes 1.33.9 is not accepted: homelab accepts Kubernetes 1.35, 1.36 and 1.37 (supported upstream) and 1.34 (end of life since 2026-10-27, with a warning)`,
		}},
		{"kubernetes-version-syntax", []string{
			`testdata/invalid/kubernetes-version-syntax.yaml:51:12: kubernetes.version: "v1.35" is not a Kubernetes release such as 1.35.4 or v1.35.4`,
		}},
		{"vlan-out-of-range", []string{
			`testdata/invalid/vlan-out-of-range.yaml:28:11: networks[0].vlan: VLAN id 5000 is outside 1..4094`,
		}},
		// Strings that reach an option string, an API path, a URL or a
		// config file are checked against their destination's grammar.
		{"role-newline", []string{
			`testdata/invalid/role-newline.yaml:41:103: guests[3].roles[1]: "monitoring\n  server evil 10.6.6.6:22" is not ` + wantID,
		}},
		{"bridge-options", []string{
			`testdata/invalid/bridge-options.yaml:33:24: networks[0].proxmox.bridge: "vmbr0,tag=99,firewall=0" is not ` + wantBridge,
		}},
		{"storage-options", []string{
			`testdata/invalid/storage-options.yaml:12:12: proxmox.storage: "local-lvm,backup=0" is not ` + wantStorage,
		}},
		{"node-path", []string{
			`testdata/invalid/node-path.yaml:11:13: proxmox.nodes[1].name: "pve-2/qemu" is not ` + wantNode,
		}},
		{"cni-version-url", []string{
			`testdata/invalid/cni-version-url.yaml:55:33: kubernetes.cni.version: "v3.28.2/../../../attacker/calico/main" is not ` + wantCNI,
		}},
		// Mirrored and air-gapped labs, and the node options.
		{"packages-mirror-no-key", []string{
			`testdata/invalid/packages-mirror-no-key.yaml:58:5: kubernetes.packages.key_url: missing: this field is required`,
		}},
		{"packages-unknown-source", []string{
			`testdata/invalid/packages-unknown-source.yaml:57:23: kubernetes.packages.source: "debian": want pkgs.k8s.io, mirror or preinstalled`,
		}},
		{"packages-repository-upstream", []string{
			`testdata/invalid/packages-repository-upstream.yaml:57:27: kubernetes.packages.repository: only for source: mirror (source is pkgs.k8s.io)`,
		}},
		{"packages-repository-not-url", []string{
			`testdata/invalid/packages-repository-not-url.yaml:59:17: kubernetes.packages.repository: "mirror.test.example/apt/ /" contains a space, a quote, a bracket or a control character`,
			`testdata/invalid/packages-repository-not-url.yaml:60:14: kubernetes.packages.key_url: "ftp://mirror.test.example/apt/Release.key" is not an http:// or https:// URL`,
		}},
		{"image-repository-scheme", []string{
			`testdata/invalid/image-repository-scheme.yaml:57:21: kubernetes.image_repository: "https://registry.test.example" is not a registry and optional path such as registry.k8s.io or registry.lab.example:5000/k8s (lower case, no scheme)`,
		}},
		{"image-archive-name", []string{
			`testdata/invalid/image-archive-name.yaml:59:7: kubernetes.image_archives[1]: "kube-apiserver.tar" is not named <path>_<tag>.tar after the image it holds, with "_" for each "/" of the path (kube-apiserver_v1.34.2.tar, coredns_coredns_v1.12.1.tar)`,
			`testdata/invalid/image-archive-name.yaml:60:7: kubernetes.image_archives[2]: holds the image registry.k8s.io/kube-apiserver:v1.35.4, as kubernetes.image_archives[0] on line 58 does`,
		}},
		{"conntrack-negative", []string{
			`testdata/invalid/conntrack-negative.yaml:57:41: kubernetes.kube_proxy.conntrack_max_per_core: -1: want 0 (leave nf_conntrack_max alone) or more`,
		}},
		{"cni-bridge-version", []string{
			`testdata/invalid/cni-bridge-version.yaml:56:33: kubernetes.cni.version: the bridge CNI takes no version (it uses the node's containernetworking plugins)`,
		}},
		{"cni-unknown", []string{
			`testdata/invalid/cni-unknown.yaml:56:16: kubernetes.cni.name: "flannel": want calico or bridge`,
		}},
		{"cni-calico-no-version", []string{
			`testdata/invalid/cni-calico-no-version.yaml:56:8: kubernetes.cni.version: missing: this field is required`,
		}},
		{"vrrp-id-clash", []string{
			`testdata/invalid/vrrp-id-clash.yaml:47:69: loadbalancer.vips[1].router_id: VRRP router id 10 is already used on VLAN 10 by loadbalancer.vips[0].router_id on line 46: two VRRP instances with one id on one VLAN fight over the VIP`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, diags, err := Load("../../inventories/testdata/invalid/" + tt.file + ".yaml")
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("err = %v, want a *ValidationError", err)
			}
			var got []string
			for _, d := range diags.Errors() {
				got = append(got, strings.TrimPrefix(d.String(), "../../inventories/"))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if err.Error() != diagsString(verr.Diagnostics) {
				t.Errorf("the error does not list the diagnostics")
			}
		})
	}
}

func diagsString(ds Diagnostics) string {
	var lines []string
	for _, d := range ds {
		lines = append(lines, d.String())
	}
	return strings.Join(lines, "\n")
}

// Each string is checked against what its destination accepts: the table
// writes one bad value into the valid base and expects an error at that
// field.
func TestDestinationGrammars(t *testing.T) {
	base, err := os.ReadFile("../../inventories/testdata/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, old, new, field string
	}{
		{"node name with a space", "- name: pve-1\n", "- name: pve-1\n    - name: \"pve 3\"\n", "proxmox.nodes[1].name"},
		{"storage with upper case", "  storage: local-lvm\n", "  storage: Local\n", "proxmox.storage"},
		{"guest storage option", "vmid: 101,", "vmid: 101, storage: \"local-lvm:0,cache=unsafe\",", "guests[0].storage"},
		{"defaults storage option", "vm: { template: debian,", "vm: { storage: \"a,b\", template: debian,", "defaults.vm.storage"},
		{"bridge too long", "bridge: vmbr0", "bridge: vmbr0123456789abc", "networks[0].proxmox.bridge"},
		{"volid with an option", "volid: \"local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst\"", "volid: \"local:vztmpl/x.tar.zst,rootfs=evil\"", "proxmox.templates.lxc[0].volid"},
		{"VM template name with a newline", "{ name: debian, vmid: 9001", "{ name: \"debian\\nx\", vmid: 9001", "proxmox.templates.vm[0].name"},
		{"router username with a comma", "username: homelab", "username: \"homelab,admin\"", "router.username"},
		{"router bridge name with a space", "    vlan: 10\n", "    vlan: 10\n    router_bridge: \"br lab\"\n", "networks[0].router_bridge"},
		{"trunk port with a comma", "trunk_ports: [ether2, ether3]", "trunk_ports: [ether2, \"ether3,ether4\"]", "networks[0].trunk_ports[1]"},
		{"network name with a space", "  - name: lab\n", "  - name: \"lab x\"\n", "networks[0].name"},
		{"lease time", "dhcp: { start: 10.0.10.100,", "dhcp: { lease_time: \"1d comment=x\", start: 10.0.10.100,", "networks[0].dhcp.lease_time"},
		{"ssh user with a space", "vm: { template: debian,", "vm: { ssh: { user: \"debian sudo\" }, template: debian,", "defaults.vm.ssh.user"},
		{"guest ssh jump", "vmid: 101,", "vmid: 101, ssh: { jump: \"bastion;rm\" },", "guests[0].ssh.jump"},
		{"role with a space", "roles: [vault]", "roles: [\"vault x\"]", "guests[4].roles[0]"},
		{"VIP name with a brace", "{ name: api, address", "{ name: \"api}\", address", "loadbalancer.vips[0].name"},
		{"frontend name with a newline", "{ name: kube-apiserver,", "{ name: \"kube\\nlisten x\",", "loadbalancer.frontends[0].name"},
		{"frontend name reserved", "{ name: kube-apiserver,", "{ name: homelab-health,", "loadbalancer.frontends[0].name"},
		{"check path with a space", "path: /readyz", "path: \"/readyz http-check expect status 500\"", "loadbalancer.frontends[0].check.path"},
		{"check path with a comment", "path: /readyz", "path: \"/readyz#x\"", "loadbalancer.frontends[0].check.path"},
		{"stats socket with a space", "  vrrp_password: env:VRRP_PASSWORD\n", "  vrrp_password: env:VRRP_PASSWORD\n  stats: { socket: \"/run/x level admin\" }\n", "loadbalancer.stats.socket"},
		{"cni version with a query", "version: v3.28.2", "version: \"v3.28.2?x=1\"", "kubernetes.cni.version"},
		{"cni version without v", "version: v3.28.2", "version: 3.28.2", "kubernetes.cni.version"},
		{"kubeconfig with a newline", "  version: 1.35.4\n", "  version: 1.35.4\n  kubeconfig: \"a\\nb\"\n", "kubernetes.kubeconfig"},
		{"endpoint host", "endpoint: https://pve.test.example:8006", "endpoint: https://pve_test:8006", "proxmox.endpoint"},
		{"router address host", "address: 10.0.0.1:8729", "address: \"router;x:8729\"", "router.address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(string(base), tt.old) {
				t.Fatalf("base.yaml has no %q", tt.old)
			}
			data := strings.Replace(string(base), tt.old, tt.new, 1)
			_, diags, err := Parse("x.yaml", []byte(data))
			if err == nil {
				t.Fatal("no error")
			}
			// A renamed thing may also leave references to its old name
			// dangling; the grammar error is the one at the field.
			errs := diags.Errors()
			at := slices.IndexFunc(errs, func(d Diagnostic) bool { return d.Field == tt.field })
			if at < 0 || errs[at].Pos.Line < 2 || errs[0].Field != tt.field {
				t.Errorf("want an error at %s first, got:\n%s", tt.field, diagsString(errs))
			}
		})
	}
}

// The image an archive holds comes from its file name.
func TestArchiveImage(t *testing.T) {
	for _, tt := range []struct{ url, repo, want string }{
		{"http://m.example/images/kube-apiserver_v1.34.2.tar", "", "registry.k8s.io/kube-apiserver:v1.34.2"},
		{"http://m.example/images/coredns_coredns_v1.12.1.tar", "", "registry.k8s.io/coredns/coredns:v1.12.1"},
		{"http://m.example/images/etcd_3.6.5-0.tar", "", "registry.k8s.io/etcd:3.6.5-0"},
		{"https://m.example/pause_3.10.1.tar", "registry.lab.example:5000/k8s", "registry.lab.example:5000/k8s/pause:3.10.1"},
		{"http://m.example/images/pause.tar", "", ""},
		{"http://m.example/images/pause_3.10.tar.gz", "", ""},
		{"http://m.example/images/Pause_3.10.tar", "", ""},
		{"http://m.example/images/_3.10.tar", "", ""},
	} {
		got, err := ArchiveImage(tt.url, tt.repo)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("ArchiveImage(%s, %q) = %q, %v; want %q", tt.url, tt.repo, got, err, tt.want)
		}
	}
}

// A valid inventory with every new kubernetes field set loads.
func TestKubernetesSourcesValid(t *testing.T) {
	base, err := os.ReadFile("../../inventories/testdata/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data := strings.Replace(string(base), "  cni: { name: calico, version: v3.28.2 }\n", `  cni: { name: bridge }
  packages: { source: mirror, repository: "http://mirror.test.example/apt/", key_url: "http://mirror.test.example/apt/Release.key" }
  image_archives: ["http://mirror.test.example/images/kube-apiserver_v1.35.4.tar"]
  containerd: { restrict_oom_score_adj: true }
  kube_proxy: { conntrack_max_per_core: 0 }
  kubelet: { fail_cgroup_v1: false }
`, 1)
	inv, diags, err := Parse("x.yaml", []byte(data))
	if err != nil {
		t.Fatalf("%v\n%s", err, diagsString(diags))
	}
	k := inv.Kubernetes
	if k.Packages.Source != PackagesMirror || !k.Containerd.RestrictOOMScoreAdj || k.KubeProxy.ConntrackMaxPerCore == nil ||
		*k.KubeProxy.ConntrackMaxPerCore != 0 || k.Kubelet.FailCgroupV1 == nil || *k.Kubelet.FailCgroupV1 || k.CNI.Name != CNIBridge {
		t.Errorf("kubernetes = %+v", k)
	}
	inv, _, err = Parse("x.yaml", base)
	if err != nil || inv.Kubernetes.Packages.Source != PackagesUpstream || inv.Kubernetes.KubeProxy.ConntrackMaxPerCore != nil {
		t.Errorf("defaults: %v %+v", err, inv.Kubernetes)
	}
}
