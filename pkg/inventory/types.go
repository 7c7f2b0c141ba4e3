package inventory

import (
	"net/netip"
)

// Inventory is the whole lab as one file describes it. Load fills defaults
// and derived values; fields marked "derived" are never read from the file.
type Inventory struct {
	// Name identifies the lab; it goes into ownership marks
	// (homelab:<name>:<id>), so it must stay stable once a lab is built.
	Name string `yaml:"name"`
	// Description is free text for people.
	Description  string        `yaml:"description"`
	Proxmox      Proxmox       `yaml:"proxmox"`
	Router       Router        `yaml:"router"`
	Networks     []Network     `yaml:"networks"`
	Defaults     Defaults      `yaml:"defaults"`
	Guests       []Guest       `yaml:"guests"`
	LoadBalancer *LoadBalancer `yaml:"loadbalancer"`
	Kubernetes   *Kubernetes   `yaml:"kubernetes"`
	// SSH is how homelab trusts the guests' SSH host keys.
	SSH SSHTrust `yaml:"ssh"`

	// Source is where the inventory was read from (derived).
	Source Source `yaml:"-"`
}

// SSHTrust says how homelab trusts guests' SSH host keys.
type SSHTrust struct {
	// HostKeys is "tofu" (the default): a guest's key is learned through
	// the Proxmox API where it can be (a container's create task log, a
	// VM's guest agent), else trusted on first use and said so in the
	// run's output; or "strict": nothing is trusted on first use.
	HostKeys string `yaml:"host_keys"`
}

// Host key trust modes (SSHTrust.HostKeys).
const (
	HostKeysTOFU   = "tofu"
	HostKeysStrict = "strict"
)

// TLS says how a client verifies a server's certificate: against a CA file,
// against a pinned SHA-256 fingerprint, or (only when said) not at all.
type TLS struct {
	CAFile      string `yaml:"ca_file"`
	Fingerprint string `yaml:"fingerprint"`
	Insecure    bool   `yaml:"insecure"`
}

// Proxmox is the Proxmox VE cluster the guests live on.
type Proxmox struct {
	// Endpoint is the API URL, e.g. https://pve-s1.lab.example:8006/api2/json.
	Endpoint string `yaml:"endpoint"`
	TLS      TLS    `yaml:"tls"`
	// TokenID is the API token's ID, user@realm!name; not a secret.
	TokenID string `yaml:"token_id"`
	// TokenSecret is a reference to the token's secret.
	TokenSecret SecretRef `yaml:"token_secret"`
	Nodes       []Node    `yaml:"nodes"`
	// Storage is where guest disks go unless a guest says otherwise.
	Storage string `yaml:"storage"`
	// ParallelPerNode is how many guest operations run at once on one node
	// (default 2).
	ParallelPerNode int       `yaml:"parallel_per_node"`
	Templates       Templates `yaml:"templates"`
}

// Node is one Proxmox VE node.
type Node struct {
	Name string `yaml:"name"`
}

// Templates are what guests are made from.
type Templates struct {
	VM  []VMTemplate  `yaml:"vm"`
	LXC []LXCTemplate `yaml:"lxc"`
}

// VMTemplate is one copy of a VM template that VMs are full-cloned from.
// With node-local storage each node keeps its own copy: list the same name
// once per node, each with its own vmid. A copy on shared storage (Shared)
// can be cloned onto any node.
type VMTemplate struct {
	Name   string `yaml:"name"`
	VMID   int    `yaml:"vmid"`
	Node   string `yaml:"node"`
	Shared bool   `yaml:"shared"`
	// Agent says the template's image runs qemu-guest-agent: its clones get
	// PVE's agent option (enabled=1). Default false: with the option set and
	// no agent in the guest, PVE's shutdown waits for the agent and ends in
	// a hard stop. With it, homelab also reads a new VM's SSH host key
	// through the agent.
	Agent bool `yaml:"agent"`
}

// LXCTemplate is a container template archive, by its volume ID.
type LXCTemplate struct {
	Name  string `yaml:"name"`
	VolID string `yaml:"volid"`
}

// Router is the MikroTik RouterOS router that holds VLANs, DHCP and DNS.
type Router struct {
	// Address is host:port of the RouterOS API (8728, or 8729 with TLS).
	Address  string    `yaml:"address"`
	TLS      *TLS      `yaml:"tls"`
	Username string    `yaml:"username"`
	Password SecretRef `yaml:"password"`
	// Domain is the DNS domain guests and services are named in.
	Domain string `yaml:"domain"`
	// VLANMode is "interfaces" (a VLAN interface per trunk port joined to a
	// bridge per network, the default) or "bridge-filtering" (one bridge with
	// VLAN filtering).
	VLANMode string `yaml:"vlan_mode"`
	// Bridge is the VLAN-filtering bridge in bridge-filtering mode.
	Bridge string `yaml:"bridge"`
	// DNS is what homelab may change in the router's DNS settings.
	DNS RouterDNS `yaml:"dns"`
}

// RouterDNS is what homelab may change in the router's /ip/dns, a
// router-wide setting homelab does not own.
type RouterDNS struct {
	// AllowRemoteRequests lets homelab set /ip/dns allow-remote-requests=yes
	// when a network's guests use the router as their DNS server and it is
	// off. Without it, homelab reports a conflict instead.
	AllowRemoteRequests bool `yaml:"allow_remote_requests"`
}

// Network is one VLAN with its router side and its Proxmox side.
type Network struct {
	Name string `yaml:"name"`
	VLAN int    `yaml:"vlan"`
	// RouterBridge is the router bridge the network's VLAN interfaces join
	// and its gateway address sits on (default "br-<name>").
	RouterBridge string `yaml:"router_bridge"`
	// TrunkPorts are the router ports that carry the VLAN tagged.
	TrunkPorts []string       `yaml:"trunk_ports"`
	CIDR       netip.Prefix   `yaml:"cidr"`
	Gateway    netip.Addr     `yaml:"gateway"`
	DNS        []netip.Addr   `yaml:"dns"`
	DHCP       *DHCP          `yaml:"dhcp"`
	Proxmox    ProxmoxNetwork `yaml:"proxmox"`
}

// DHCP is a network's dynamic pool. Static guest IPs and VIPs must lie
// outside it.
type DHCP struct {
	Start netip.Addr `yaml:"start"`
	End   netip.Addr `yaml:"end"`
	// LeaseTime is a RouterOS duration such as "1d" or "30m" (default "1d").
	LeaseTime string `yaml:"lease_time"`
}

// ProxmoxNetwork is how guests attach to the network on a Proxmox node.
type ProxmoxNetwork struct {
	// Bridge is the node's Linux bridge, e.g. vmbr0.
	Bridge string `yaml:"bridge"`
	// Tagged says guests' NICs carry the VLAN tag (default true).
	Tagged *bool `yaml:"tagged"`
}

// Defaults fill guest fields a guest leaves out, per kind.
type Defaults struct {
	VM  GuestDefaults `yaml:"vm"`
	LXC GuestDefaults `yaml:"lxc"`
}

// GuestDefaults are the fields a guest may inherit.
type GuestDefaults struct {
	Template string `yaml:"template"`
	Cores    int    `yaml:"cores"`
	// Memory in MiB, as Proxmox counts it.
	Memory int `yaml:"memory"`
	// Disk in GiB.
	Disk    int    `yaml:"disk"`
	Storage string `yaml:"storage"`
	SSH     *SSH   `yaml:"ssh"`
	// OnBoot and Startup are the guests' defaults for the fields of Guest.
	OnBoot  *bool    `yaml:"onboot"`
	Startup *Startup `yaml:"startup"`
}

// SSH is how homelab reaches a guest, and the keys the guest accepts.
type SSH struct {
	User string `yaml:"user"`
	// AuthorizedKeys are public keys put on the guest: each entry is one
	// key in authorized_keys form ("ssh-ed25519 AAAA... comment") or
	// file:PATH, a file of such keys (~/ is the home directory).
	AuthorizedKeys []string `yaml:"authorized_keys"`
	// Keys are AuthorizedKeys resolved by Load (derived): every literal
	// key and every key line of every file, each one authorized_keys line
	// (type, base64 key and the comment, if any), checked with
	// x/crypto/ssh. A file that cannot be read at load time is missing
	// here and reported by CheckKeys.
	Keys []string `yaml:"-"`
	// unresolved are the file: entries that could not be read (derived).
	unresolved []unresolvedKey
	// PrivateKey is a reference to the key homelab logs in with; empty means
	// the SSH agent.
	PrivateKey SecretRef `yaml:"private_key"`
	// Port defaults to 22.
	Port int `yaml:"port"`
	// Jump is an optional host:port that guests are reached through.
	Jump string `yaml:"jump"`
}

// Guest kinds.
const (
	KindVM  = "vm"
	KindLXC = "lxc"
)

// Guest is one VM or LXC container.
type Guest struct {
	Name     string     `yaml:"name"`
	Kind     string     `yaml:"kind"`
	Node     string     `yaml:"node"`
	VMID     int        `yaml:"vmid"`
	Template string     `yaml:"template"`
	Cores    int        `yaml:"cores"`
	Memory   int        `yaml:"memory"`
	Disk     int        `yaml:"disk"`
	Storage  string     `yaml:"storage"`
	Network  string     `yaml:"network"`
	IP       netip.Addr `yaml:"ip"`
	// MAC is optional; when absent it is derived from the inventory and
	// guest names (locally administered, unicast).
	MAC   string   `yaml:"mac"`
	Roles []string `yaml:"roles"`
	SSH   *SSH     `yaml:"ssh"`
	// Nesting enables the LXC "nesting" feature, which systemd in an
	// unprivileged container wants: default true for containers.
	Nesting *bool `yaml:"nesting"`
	// CloudInitUpgrade lets cloud-init upgrade every package at a VM's
	// first boot (Proxmox's ciupgrade). Default false: ciupgrade=0, so no
	// upgrade holds apt's locks while homelab installs (VMs only).
	CloudInitUpgrade bool `yaml:"cloud_init_upgrade"`
	// Priority is this guest's VRRP priority on every VIP (load balancers
	// only; default: 150 for the first, 10 less for each next one).
	Priority int `yaml:"priority"`
	// OnBoot starts the guest when its Proxmox node boots (PVE's onboot;
	// default true, or defaults.<kind>.onboot).
	OnBoot *bool `yaml:"onboot"`
	// Startup is the guest's place in its node's boot sequence and its
	// delays; fields left out come from defaults.<kind>.startup, and the
	// order from the guest's roles (see StartupOrder).
	Startup *Startup `yaml:"startup"`

	// MACDerived is true when MAC was derived, not written (derived).
	MACDerived bool `yaml:"-"`
}

// LoadBalancer is the HAProxy + keepalived layer in front of the services.
type LoadBalancer struct {
	// Role is the guest role that runs HAProxy and keepalived (default
	// "loadbalancer").
	Role string `yaml:"role"`
	// VRRPPassword is a reference to keepalived's auth_pass (8 characters
	// at most: keepalived silently truncates longer ones).
	VRRPPassword SecretRef  `yaml:"vrrp_password"`
	VIPs         []VIP      `yaml:"vips"`
	Frontends    []Frontend `yaml:"frontends"`
	Stats        Stats      `yaml:"stats"`
}

// VIP is a virtual IP that keepalived moves between the load balancers.
type VIP struct {
	Name    string     `yaml:"name"`
	Address netip.Addr `yaml:"address"`
	Network string     `yaml:"network"`
	// RouterID is the VRRP virtual router ID (1..255), unique per VLAN.
	RouterID int `yaml:"router_id"`
	// DNS names (short, in the router's domain, or fully qualified) that
	// resolve to this VIP, e.g. vault, consul.
	DNS []string `yaml:"dns"`
}

// Frontend modes.
const (
	ModeTCP  = "tcp"
	ModeHTTP = "http"
)

// Health check kinds.
const (
	CheckTCP   = "tcp"
	CheckHTTP  = "http"
	CheckHTTPS = "https"
)

// Frontend is one port HAProxy listens on, on one VIP, and where it sends
// the traffic.
type Frontend struct {
	Name    string  `yaml:"name"`
	VIP     string  `yaml:"vip"`
	Port    int     `yaml:"port"`
	Mode    string  `yaml:"mode"`
	Backend Backend `yaml:"backend"`
	Check   Check   `yaml:"check"`
}

// Backend is the set of guests with a role, on a port.
type Backend struct {
	Role string `yaml:"role"`
	Port int    `yaml:"port"`
}

// Check is how HAProxy decides a backend server is up.
type Check struct {
	// Kind is tcp, http or https (default tcp).
	Kind string `yaml:"kind"`
	// Path is the HTTP path for http and https checks.
	Path string `yaml:"path"`
	// Expect is the HTTP status expected (default 200).
	Expect int `yaml:"expect"`
}

// Stats is HAProxy's stats page and admin socket.
type Stats struct {
	// Port of the stats page, bound on each load balancer's own IP
	// (default 8404; 0 keeps the default, -1 turns the page off).
	Port int `yaml:"port"`
	// Socket is the admin socket homelab reads backend states from
	// (default /run/haproxy/admin.sock).
	Socket string `yaml:"socket"`
}

// Kubernetes is the kubeadm cluster.
type Kubernetes struct {
	// Version is an exact Kubernetes release, 1.37.2 or v1.37.2 (the
	// same release; kubeversion.Parse reads it), of a minor homelab
	// accepts (kubeversion.Releases).
	Version string `yaml:"version"`
	// Endpoint is the DNS name clients reach the API at; it resolves to
	// the VIP named by EndpointVIP once the cluster is up.
	Endpoint    string `yaml:"endpoint"`
	EndpointVIP string `yaml:"endpoint_vip"`
	// Pin is where the endpoint name is pinned during bootstrap: "hosts"
	// (a managed /etc/hosts block, the default) or "router-dns".
	Pin              string       `yaml:"pin"`
	PodSubnet        netip.Prefix `yaml:"pod_subnet"`
	ServiceSubnet    netip.Prefix `yaml:"service_subnet"`
	CNI              CNI          `yaml:"cni"`
	ControlPlaneRole string       `yaml:"control_plane_role"`
	WorkerRole       string       `yaml:"worker_role"`
	Kubeconfig       string       `yaml:"kubeconfig"`
	// BackupDir is where `homelab backup` writes its backups (each in a
	// directory of its own, <endpoint>-<UTC time>) when no --dir is given.
	BackupDir string `yaml:"backup_dir"`
	// Packages is where kubelet, kubeadm and kubectl come from.
	Packages Packages `yaml:"packages"`
	// ImageRepository is kubeadm's ClusterConfiguration imageRepository,
	// the registry (and path) the control-plane images are pulled from;
	// empty leaves kubeadm's own default (registry.k8s.io).
	ImageRepository string `yaml:"image_repository"`
	// ImageArchives are URLs of docker-archive tarballs that node
	// preparation downloads and imports into containerd (namespace
	// k8s.io) before init and join. Each file is named
	// <path>_<tag>.tar after the image it holds (see ArchiveImage).
	ImageArchives []string   `yaml:"image_archives"`
	Containerd    Containerd `yaml:"containerd"`
	KubeProxy     KubeProxy  `yaml:"kube_proxy"`
	Kubelet       Kubelet    `yaml:"kubelet"`
}

// Sources of the Kubernetes packages (Packages.Source).
const (
	PackagesUpstream     = "pkgs.k8s.io"
	PackagesMirror       = "mirror"
	PackagesPreinstalled = "preinstalled"
)

// Packages is where the nodes get kubelet, kubeadm and kubectl.
type Packages struct {
	// Source is "pkgs.k8s.io" (the default: the minor's upstream
	// repository and key), "mirror" (Repository and KeyURL) or
	// "preinstalled" (nothing is installed; the binaries must be there at
	// the inventory's version).
	Source string `yaml:"source"`
	// Repository is a mirror's apt repository, laid out flat like
	// pkgs.k8s.io's ("deb [signed-by=KEYRING] URL /"), with the packages
	// named and versioned as pkgs.k8s.io's (mirror only).
	Repository string `yaml:"repository"`
	// KeyURL is the mirror's armored signing key (mirror only).
	KeyURL string `yaml:"key_url"`
}

// Containerd are the containerd settings node preparation writes.
type Containerd struct {
	// RestrictOOMScoreAdj is the CRI plugin's restrict_oom_score_adj:
	// needed where the machine lacks CAP_SYS_RESOURCE (nested containers).
	RestrictOOMScoreAdj bool `yaml:"restrict_oom_score_adj"`
}

// KubeProxy are the kube-proxy settings of the init configuration.
type KubeProxy struct {
	// ConntrackMaxPerCore is KubeProxyConfiguration conntrack.maxPerCore;
	// nil leaves kube-proxy's default, 0 leaves nf_conntrack_max alone.
	ConntrackMaxPerCore *int `yaml:"conntrack_max_per_core"`
}

// Kubelet are the kubelet settings of the init configuration.
type Kubelet struct {
	// FailCgroupV1 is KubeletConfiguration failCgroupV1; nil leaves the
	// kubelet's default (false up to 1.34, true from 1.35: such a kubelet
	// refuses a cgroup v1 node).
	FailCgroupV1 *bool `yaml:"fail_cgroup_v1"`
}

// CNI names of CNI.Name.
const (
	CNICalico = "calico"
	CNIBridge = "bridge"
)

// CNI is the cluster's network plugin.
type CNI struct {
	// Name is "calico" (the default) or "bridge" (the CNI bridge plugin
	// with each node's pod CIDR: pods on different nodes do not reach
	// each other; for labs and tests).
	Name string `yaml:"name"`
	// Version is Calico's release (calico only).
	Version string `yaml:"version"`
}
