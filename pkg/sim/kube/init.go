package kube

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/homelabctl/homelab/pkg/sim/host"
)

// nodePKI writes a control plane's PKI from the shared CAs: the CAs,
// apiserver and etcd serving certificates; it returns the admin client
// pair for kubeconfigs.
func nodePKI(fs files, cl *Cluster, node, ip string, now time.Time) (keyPair, error) {
	ca, etcdCA := keyPair{cl.CA, cl.CAKey}, keyPair{cl.EtcdCA, cl.EtcdCAKey}
	api, err := newLeaf(ca, "kube-apiserver", nil, apiserverNames(cl, node, ip), true, now)
	if err != nil {
		return keyPair{}, err
	}
	etcdServer, err := newLeaf(etcdCA, node, nil, []string{"localhost", node, ip, "127.0.0.1", "::1"}, true, now)
	if err != nil {
		return keyPair{}, err
	}
	admin, err := newLeaf(ca, "kubernetes-admin", []string{"kubeadm:cluster-admins"}, nil, false, now)
	if err != nil {
		return keyPair{}, err
	}
	for p, b := range map[string][]byte{
		"ca.crt": ca.cert, "ca.key": ca.key, "apiserver.crt": api.cert, "apiserver.key": api.key,
		"etcd/ca.crt": etcdCA.cert, "etcd/ca.key": etcdCA.key, "etcd/server.crt": etcdServer.cert, "etcd/server.key": etcdServer.key,
		"etcd/peer.crt": etcdServer.cert, "etcd/peer.key": etcdServer.key,
		"etcd/healthcheck-client.crt": admin.cert, "etcd/healthcheck-client.key": admin.key,
		"front-proxy-ca.crt": ca.cert, "front-proxy-ca.key": ca.key, "sa.key": ca.key, "sa.pub": ca.cert,
	} {
		if (strings.HasPrefix(p, "front-proxy-ca.") || strings.HasPrefix(p, "sa.")) && fs.exists(pkiDir+"/"+p) {
			continue // kubeadm keeps them (cmd/kubeadm/app/phases/certs/certs.go)
		}
		mode := 0o644
		if strings.HasSuffix(p, ".key") {
			mode = 0o600
		}
		if err := fs.write(pkiDir+"/"+p, b, os.FileMode(mode)); err != nil {
			return keyPair{}, err
		}
	}
	return admin, nil
}

// writeControlPlane writes kubeconfigs and static Pod manifests.
func writeControlPlane(fs files, cl *Cluster, node, ip string, admin keyPair, super bool) error {
	server := "https://" + cl.Endpoint
	local := "https://" + ip + ":6443"
	confs := map[string][]byte{
		"admin.conf":              kubeconfig(server, "kubernetes-admin", cl.CA, admin),
		"kubelet.conf":            kubeconfig(server, "system:node:"+node, cl.CA, admin),
		"controller-manager.conf": kubeconfig(local, "system:kube-controller-manager", cl.CA, admin),
		"scheduler.conf":          kubeconfig(local, "system:kube-scheduler", cl.CA, admin),
	}
	if super {
		confs["super-admin.conf"] = kubeconfig(server, "kubernetes-super-admin", cl.CA, admin)
	}
	for n, b := range confs {
		if err := fs.write(kubeDir+"/"+n, b, 0o600); err != nil {
			return err
		}
	}
	for _, m := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		manifest := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  labels:\n    component: %s\n    tier: control-plane\n  name: %s\n  namespace: kube-system\nspec:\n  containers:\n  - name: %s\n    image: registry.k8s.io/%s:%s\n  hostNetwork: true\n",
			m, m, m, m, cl.Version)
		if m == "kube-apiserver" {
			manifest += fmt.Sprintf("    command:\n    - kube-apiserver\n    - --advertise-address=%s\n    - --secure-port=6443\n", ip)
		}
		if err := fs.write(manifestsDir+"/"+m+".yaml", []byte(manifest), 0o600); err != nil {
			return err
		}
	}
	if fs.exists(etcdDataDir + "/member/snap/db") {
		return nil // restored by etcdutl: etcd starts on it
	}
	return fs.write(etcdDataDir+"/member/snap/db", []byte("simulated etcd data\n"), 0o600)
}

// existingCA is kubeadm's certs phase for one CA: the pair on disk when
// both files are there ("[certs] Using existing %s certificate
// authority", cmd/kubeadm/app/phases/certs/certs.go), a new one when
// neither is; a certificate without its key is an error (written here:
// kubeadm's external-CA mode then fails later, on the first certificate
// it cannot sign).
func existingCA(c *host.Call, fs files, base, cn string, now time.Time) (keyPair, int) {
	crt, key := pkiDir+"/"+base+".crt", pkiDir+"/"+base+".key"
	switch haveCrt, haveKey := fs.exists(crt), fs.exists(key); {
	case haveCrt && haveKey:
		p := keyPair{}
		p.cert, _ = fs.read(crt)
		p.key, _ = fs.read(key)
		if _, _, err := parsePair(p); err != nil {
			return keyPair{}, fatal(c, "certs/"+base, "failure loading %s certificate authority: %v", base, err)
		}
		fmt.Fprintf(c.Stdout, "[certs] Using existing %s certificate authority\n", base)
		return p, 0
	case haveCrt || haveKey:
		return keyPair{}, fatal(c, "certs/"+base, "failure loading %s certificate authority: couldn't load the certificate or its key from %s", base, pkiDir)
	}
	p, err := newCA(cn, now)
	if err != nil {
		return keyPair{}, fatal(c, "certs/"+base, "failure while creating CA: %v", err)
	}
	fmt.Fprintf(c.Stdout, "[certs] Generating \"%s\" certificate and key\n", base)
	return p, 0
}

// clusterConfiguration is the ClusterConfiguration kubeadm stores in
// kube-system/kubeadm-config (abridged: the fields the simulator reads).
func clusterConfiguration(cfg *kubeadmConfig, cl *Cluster) string {
	name := cfg.ClusterName
	if name == "" {
		name = "kubernetes"
	}
	return fmt.Sprintf("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nclusterName: %s\ncontrolPlaneEndpoint: %s\nkubernetesVersion: %s\nnetworking:\n  dnsDomain: %s\n  podSubnet: %s\n  serviceSubnet: %s\n",
		name, cl.Endpoint, cl.Version, cl.DNSDomain, cl.PodSubnet, cl.ServiceSubnet)
}

// writeKubelet writes the kubelet's configuration (the cluster's
// KubeletConfiguration) and starts it.
func writeKubelet(ctx context.Context, c *host.Call, nodeIP string, kc kubeletConfig) error {
	fs := files{c}
	config := "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: systemd\n"
	if kc.FailCgroupV1 != nil {
		config += fmt.Sprintf("failCgroupV1: %t\n", *kc.FailCgroupV1)
	}
	if err := fs.write(kubeletDir+"/config.yaml", []byte(config), 0o644); err != nil {
		return err
	}
	if err := fs.write(kubeletDir+"/kubeadm-flags.env", []byte(fmt.Sprintf("KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock --node-ip=%s --pod-infra-container-image=registry.k8s.io/pause:3.10\"\n", nodeIP)), 0o644); err != nil {
		return err
	}
	c.Run(ctx, io.Discard, io.Discard, "systemctl", "restart", "kubelet")
	return nil
}

// initCmd is `kubeadm init --config F [--upload-certs]`.
func (s *Sim) initCmd(ctx context.Context, c *host.Call, f flags) int {
	cfg, code := readConfig(c, f)
	if cfg == nil {
		return code
	}
	have := kubeVersion(c.Host, "kubeadm")
	if cfg.KubernetesVersion == "" {
		cfg.KubernetesVersion = have
	}
	if !checkVersion(c, cfg.KubernetesVersion, have) {
		return 1
	}
	node := cfg.NodeRegistration.Name
	if node == "" {
		node = c.Host.Name()
	}
	ip := cfg.LocalAPIEndpoint.AdvertiseAddress
	if ip == "" {
		ip = c.Host.IP().String()
	}
	endpoint := cfg.ControlPlaneEndpoint
	if endpoint == "" {
		endpoint = ip + ":6443"
	} else if !strings.Contains(endpoint, ":") {
		endpoint += ":6443"
	}
	// initData validates the ignored checks before anything is printed
	// (cmd/kubeadm/app/cmd/init.go).
	ignored, ok := ignoredChecks(c, f, cfg)
	if !ok {
		return 1
	}
	fmt.Fprintf(c.Stdout, "[init] Using Kubernetes version: %s\n[preflight] Running pre-flight checks\n", cfg.KubernetesVersion)
	// The root check alone first, then InitNodeChecks
	// (cmd/kubeadm/app/cmd/phases/init/preflight.go).
	if !rootCheck(c) || !runChecks(c, ignoreChecks(c, ignored, controlPlaneChecks(c, c.Host.Serving(6443), true))) {
		return 1
	}
	if err := host.Pause(ctx, s.opts.Latency.Init); err != nil {
		return 130
	}
	fmt.Fprint(c.Stdout, pullingImages)
	if !runChecks(c, s.kubeadmPreflightImages(ctx, c, cfg.ImageRepository, cfg.KubernetesVersion)) {
		return 1
	}
	now := s.now()
	cl := &Cluster{ID: memberID(), Endpoint: endpoint, Version: cfg.KubernetesVersion, ImageRepository: cfg.ImageRepository, CertSANs: cfg.APIServer.CertSANs,
		DNSDomain: cfg.Networking.DNSDomain, ServiceSubnet: cfg.Networking.ServiceSubnet, PodSubnet: cfg.Networking.PodSubnet,
		DaemonSets: map[string]*DaemonSet{}, Created: now, Kubelet: cfg.Kubelet}
	fs := files{c}
	fmt.Fprint(c.Stdout, "[certs] Using certificateDir folder \"/etc/kubernetes/pki\"\n")
	ca, code := existingCA(c, fs, "ca", "kubernetes", now)
	if code != 0 {
		return code
	}
	etcdCA, code := existingCA(c, fs, "etcd/ca", "etcd-ca", now)
	if code != 0 {
		return code
	}
	cl.CA, cl.CAKey, cl.EtcdCA, cl.EtcdCAKey = ca.cert, ca.key, etcdCA.cert, etcdCA.key
	admin, err := nodePKI(fs, cl, node, ip, now)
	if err != nil {
		return fatal(c, "certs", "%v", err)
	}
	fmt.Fprintf(c.Stdout, "[certs] Generating \"apiserver\" certificate and key\n[certs] apiserver serving cert is signed for DNS names and IPs %v\n[certs] Generating \"etcd/server\" certificate and key\n", apiserverNames(cl, node, ip))
	if fs.exists(pkiDir + "/sa.key") {
		fmt.Fprint(c.Stdout, "[certs] Using the existing \"sa\" key\n") // cmd/kubeadm/app/phases/certs/certs.go CreateServiceAccountKeyAndPublicKeyFiles
	} else {
		fmt.Fprint(c.Stdout, "[certs] Generating \"sa\" key and public key\n")
	}
	restored, isRestored := restoredData(fs)
	if isRestored && restored.Member.PeerURL != peerURL(ip) {
		// etcd refuses to start a member whose data names other peer
		// URLs; the static Pod crash-loops and kubeadm times out (the
		// words of its wait are written here).
		return fatal(c, "wait-control-plane", "etcd on %s did not start: its data directory was restored for member %s at %s, not %s", node, restored.Member.Name, restored.Member.PeerURL, peerURL(ip))
	}
	if err := writeControlPlane(fs, cl, node, ip, admin, true); err != nil {
		return fatal(c, "kubeconfig", "%v", err)
	}
	fmt.Fprint(c.Stdout, "[kubeconfig] Using kubeconfig folder \"/etc/kubernetes\"\n[kubeconfig] Writing \"admin.conf\" kubeconfig file\n[kubeconfig] Writing \"super-admin.conf\" kubeconfig file\n[kubeconfig] Writing \"kubelet.conf\" kubeconfig file\n[kubeconfig] Writing \"controller-manager.conf\" kubeconfig file\n[kubeconfig] Writing \"scheduler.conf\" kubeconfig file\n[etcd] Creating static Pod manifest for local etcd in \"/etc/kubernetes/manifests\"\n[control-plane] Using manifest folder \"/etc/kubernetes/manifests\"\n[control-plane] Creating static Pod manifest for \"kube-apiserver\"\n[control-plane] Creating static Pod manifest for \"kube-controller-manager\"\n[control-plane] Creating static Pod manifest for \"kube-scheduler\"\n[kubelet-start] Writing kubelet environment file with flags to file \"/var/lib/kubelet/kubeadm-flags.env\"\n[kubelet-start] Writing kubelet configuration to file \"/var/lib/kubelet/config.yaml\"\n[kubelet-start] Starting the kubelet\n")
	writeKubelet(ctx, c, ip, cl.Kubelet)
	fmt.Fprint(c.Stdout, "[wait-control-plane] Waiting for the kubelet to boot up the control plane as static Pods from directory \"/etc/kubernetes/manifests\"\n[kubelet-check] Waiting for a healthy kubelet at http://127.0.0.1:10248/healthz. This can take up to 4m0s\n")
	if kubeletState(c.Host, "kubelet.service") != "" {
		// cmd/kubeadm/app/cmd/phases/init/waitcontrolplane.go and
		// cmd/kubeadm/app/util/apiclient/wait.go (the net/http cause is
		// written here: a kubelet that never listens).
		fmt.Fprintf(c.Stdout, "[kubelet-check] The kubelet is not healthy after 4m0.000446713s\n%s\n", kubeletFailMsg)
		return fatal(c, "wait-control-plane", "failed while waiting for the kubelet to start: The HTTP call equal to 'curl -sSL http://127.0.0.1:10248/healthz' returned error: Get \"http://127.0.0.1:10248/healthz\": dial tcp 127.0.0.1:10248: connect: connection refused\n")
	}
	if !s.podsRun(ctx, c.Host) {
		return controlPlaneNeverStarts(c, ip, cfg.NodeRegistration.CRISocket)
	}
	var tokens []Token
	for _, t := range cfg.Tokens {
		id, secret, _ := strings.Cut(t.Token, ".")
		ttl, err := time.ParseDuration(t.TTL)
		if t.TTL == "" || err != nil {
			ttl = 24 * time.Hour
		}
		tokens = append(tokens, Token{ID: id, Secret: secret, Expires: now.Add(ttl)})
	}
	if len(tokens) == 0 {
		tok := randomToken()
		tokens = append(tokens, Token{ID: tok[:6], Secret: tok[7:], Expires: now.Add(24 * time.Hour)})
	}
	key := cfg.CertificateKey
	if key == "" {
		key = randomHex(32)
	}
	self := Node{Name: node, Host: c.Host.Name(), IP: ip, ControlPlane: true, Version: kubeVersion(c.Host, "kubelet"), Joined: now}
	if isRestored {
		// etcd starts on the restored data: the objects of the old
		// cluster (its Nodes, no longer posting status, until nodes of
		// their names join), and one member, the one etcdutl wrote.
		// kubeadm's own objects are updated in place.
		m := *restored.Member
		m.ClientURL, m.Started = clientURL(ip), true
		cl.Members = []Member{m}
		cl.Nodes, cl.Tokens, cl.DaemonSets, cl.ConfigMaps = restored.Nodes, append(restored.Tokens, tokens...), restored.DaemonSets, restored.ConfigMaps
		cl.Created = restored.Created
		if cl.DaemonSets == nil {
			cl.DaemonSets = map[string]*DaemonSet{}
		}
		for i := range cl.Nodes {
			// A node whose machine still runs its kubelet (with its
			// kubelet.conf: the same CA, still valid) posts status
			// again; the others are gone, but their Nodes say what the
			// snapshot recorded (Ready, mostly) until the new node
			// lifecycle controller has heard nothing from them for
			// NodeMonitorGracePeriod.
			n := &cl.Nodes[i]
			n.Lost, n.ReadyUntil = !s.kubeletRuns(n.Host), time.Time{}
			if n.Lost && n.Ready {
				n.ReadyUntil = now.Add(NodeMonitorGracePeriod)
			}
		}
		if i := slices.IndexFunc(cl.Nodes, func(n Node) bool { return n.Name == node }); i >= 0 {
			self.PodCIDR = cl.Nodes[i].PodCIDR
		}
		cl.Nodes = removeNode(cl.Nodes, node)
	} else {
		cl.Tokens = tokens
		cl.Members = []Member{{ID: memberID(), Name: node, PeerURL: peerURL(ip), ClientURL: clientURL(ip), Started: true}}
	}
	if self.PodCIDR == "" {
		self.PodCIDR = cl.allocatePodCIDR(node)
	}
	cl.Nodes = append(cl.Nodes, self)
	if cl.DaemonSets["kube-proxy"] == nil {
		cl.DaemonSets["kube-proxy"] = &DaemonSet{Image: controlPlaneImages(cfg.ImageRepository, cfg.KubernetesVersion, have)[3], Created: now}
	}
	if cl.ConfigMaps == nil {
		cl.ConfigMaps = map[string]map[string]string{}
	}
	cl.ConfigMaps["kube-system/kubeadm-config"] = map[string]string{"ClusterConfiguration": clusterConfiguration(cfg, cl)}
	if f.has("upload-certs") {
		cl.Certs = &UploadedCerts{Uploaded: now, KeyDigest: digest(key)}
	}
	s.mu.Lock()
	if s.cluster != nil {
		// Written here: the simulator holds one cluster per lab, and a
		// second init (a new machine while other control planes still run
		// the first) would start a second cluster beside it.
		other := s.cluster.Nodes[0].Name
		s.mu.Unlock()
		return fatal(c, "", "the simulated lab holds one cluster and %s's still runs: the simulator cannot start a second one", other)
	}
	s.cluster = cl
	s.hosts[c.Host.Name()] = c.Host
	s.mu.Unlock()
	s.serveAPI(c.Host)
	// cmd/kubeadm/app/util/apiclient/wait.go, phases/uploadconfig, phases/kubelet
	fmt.Fprint(c.Stdout, "[kubelet-check] The kubelet is healthy after 501.810011ms\n[control-plane-check] Waiting for healthy control plane components. This can take up to 4m0s\n[control-plane-check] Checking kube-apiserver at https://"+ip+":6443/livez\n[control-plane-check] Checking kube-controller-manager at https://127.0.0.1:10257/healthz\n[control-plane-check] Checking kube-scheduler at https://127.0.0.1:10259/livez\n[control-plane-check] kube-controller-manager is healthy after 1.503581401s\n[control-plane-check] kube-scheduler is healthy after 2.251018613s\n[control-plane-check] kube-apiserver is healthy after 4.501919213s\n[upload-config] Storing the configuration used in ConfigMap \"kubeadm-config\" in the \"kube-system\" Namespace\n[kubelet] Creating a ConfigMap \"kubelet-config\" in namespace kube-system with the configuration for the kubelets in the cluster\n")
	if f.has("upload-certs") {
		fmt.Fprintf(c.Stdout, "[upload-certs] Storing the certificates in Secret \"kubeadm-certs\" in the \"kube-system\" Namespace\n[upload-certs] Using certificate key:\n%s\n", key)
	} else {
		fmt.Fprint(c.Stdout, "[upload-certs] Skipping phase. Please see --upload-certs\n")
	}
	tok := tokens[0].ID + "." + tokens[0].Secret
	fmt.Fprintf(c.Stdout, `[mark-control-plane] Marking the node %[1]s as control-plane by adding the labels: [node-role.kubernetes.io/control-plane node.kubernetes.io/exclude-from-external-load-balancers]
[mark-control-plane] Marking the node %[1]s as control-plane by adding the taints [node-role.kubernetes.io/control-plane:NoSchedule]
[bootstrap-token] Using token: %[2]s
[bootstrap-token] Configuring bootstrap tokens, cluster-info ConfigMap, RBAC Roles
[bootstrap-token] Configured RBAC rules to allow Node Bootstrap tokens to get nodes
[bootstrap-token] Configured RBAC rules to allow Node Bootstrap tokens to post CSRs in order for nodes to get long term certificate credentials
[bootstrap-token] Configured RBAC rules to allow the csrapprover controller automatically approve CSRs from a Node Bootstrap Token
[bootstrap-token] Configured RBAC rules to allow certificate rotation for all node client certificates in the cluster
[bootstrap-token] Creating the "cluster-info" ConfigMap in the "kube-public" namespace
[kubelet-finalize] Updating "/etc/kubernetes/kubelet.conf" to point to a rotatable kubelet client certificate and key
[addons] Applied essential addon: CoreDNS
[addons] Applied essential addon: kube-proxy

Your Kubernetes control-plane has initialized successfully!

To start using your cluster, you need to run the following as a regular user:

  mkdir -p $HOME/.kube
  sudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config
  sudo chown $(id -u):$(id -g) $HOME/.kube/config

Alternatively, if you are the root user, you can run:

  export KUBECONFIG=/etc/kubernetes/admin.conf

You should now deploy a pod network to the cluster.
Run "kubectl apply -f [podnetwork].yaml" with one of the options listed at:
  https://kubernetes.io/docs/concepts/cluster-administration/addons/

You can now join any number of control-plane nodes running the following command on each as root:

  kubeadm join %[3]s --token %[2]s \
	--discovery-token-ca-cert-hash %[4]s \
	--control-plane --certificate-key %[5]s

Please note that the certificate-key gives access to cluster sensitive data, keep it secret!
As a safeguard, uploaded-certs will be deleted in two hours; If necessary, you can use
"kubeadm init phase upload-certs --upload-certs" to reload certs afterward.

Then you can join any number of worker nodes by running the following on each as root:

kubeadm join %[3]s --token %[2]s \
	--discovery-token-ca-cert-hash %[4]s 
`, node, tok, endpoint, pin(cl.CA), key)
	return 0
}

// reset is `kubeadm reset -f`.
func (s *Sim) reset(ctx context.Context, c *host.Call, f flags) int {
	fs := files{c}
	if fs.exists(kubeDir + "/admin.conf") {
		// cmd/kubeadm/app/util/config/cluster.go, called by cmd/kubeadm/app/cmd/reset.go
		fmt.Fprint(c.Stdout, "[reset] Reading configuration from the \"kubeadm-config\" ConfigMap in namespace \"kube-system\"...\n[reset] Use 'kubeadm init phase upload-config kubeadm --config your-config-file' to re-upload it.\n")
	}
	if !f.has("f") && !f.has("force") {
		// klog's warning on stderr (its header left out), the question on
		// stdout (cmd/kubeadm/app/cmd/phases/reset/preflight.go,
		// cmd/kubeadm/app/cmd/util/cmdutil.go).
		fmt.Fprintln(c.Stderr, "[reset] WARNING: Changes made to this host by 'kubeadm init' or 'kubeadm join' will be reverted.")
		fmt.Fprint(c.Stdout, "[reset] Are you sure you want to proceed? [y/N]: ")
		return fatal(c, "preflight", "won't proceed; the user didn't answer (Y|y) in order to continue")
	}
	fmt.Fprintln(c.Stdout, "[preflight] Running pre-flight checks") // cmd/kubeadm/app/cmd/phases/reset/preflight.go
	if !rootCheck(c) {
		return 1
	}
	ip := c.Host.IP().String()
	if fs.exists(manifestsDir + "/etcd.yaml") {
		s.with(func(cl *Cluster, _ time.Time) {
			if cl == nil {
				return
			}
			others := 0
			for _, m := range cl.Members {
				if m.PeerURL != peerURL(ip) && m.Started && !m.Learner {
					others++
				}
			}
			if others == 0 {
				s.cluster = nil // the last member: the cluster's data goes with it
				return
			}
			if cl.quorum() {
				for i, m := range cl.Members {
					if m.PeerURL == peerURL(ip) {
						cl.Members = append(cl.Members[:i], cl.Members[i+1:]...)
						break
					}
				}
			}
		})
	}
	// The kubelet stops: the node's Node stays, NotReady (kubeadm reset
	// does not delete it).
	s.with(func(cl *Cluster, _ time.Time) {
		if cl == nil {
			return
		}
		for i := range cl.Nodes {
			if cl.Nodes[i].Host == c.Host.Name() {
				cl.Nodes[i].Lost = true
			}
		}
	})
	c.Host.Serve(6443, nil)
	fs.clear(etcdDataDir)
	c.Run(ctx, io.Discard, io.Discard, "systemctl", "stop", "kubelet")
	for _, d := range []string{manifestsDir, kubeletDir, pkiDir} {
		fs.clear(d)
	}
	confs := []string{"admin.conf", "super-admin.conf", "kubelet.conf", "bootstrap-kubelet.conf", "controller-manager.conf", "scheduler.conf"}
	for _, n := range confs {
		fs.remove(kubeDir + "/" + n)
	}
	// cmd/kubeadm/app/cmd/phases/reset/removeetcdmember.go,
	// cmd/kubeadm/app/cmd/phases/reset/cleanupnode.go, cmd/kubeadm/app/cmd/reset.go
	fmt.Fprint(c.Stdout, `[reset] Deleted contents of the etcd data directory: /var/lib/etcd
[reset] Stopping the kubelet service
[reset] Unmounting mounted directories in "/var/lib/kubelet"
[reset] Deleting contents of directories: [/etc/kubernetes/manifests /var/lib/kubelet /etc/kubernetes/pki]
[reset] Deleting files: [/etc/kubernetes/admin.conf /etc/kubernetes/super-admin.conf /etc/kubernetes/kubelet.conf /etc/kubernetes/bootstrap-kubelet.conf /etc/kubernetes/controller-manager.conf /etc/kubernetes/scheduler.conf]

The reset process does not perform cleanup of CNI plugin configuration,
network filtering rules and kubeconfig files.

For information on how to perform this cleanup manually, please see:
    https://k8s.io/docs/reference/setup-tools/kubeadm/kubeadm-reset/

`)
	return 0
}

// kubeletFailMsg is kubeadm's help after the kubelet's health check
// failed (cmd/kubeadm/app/util/apiclient/wait.go).
const kubeletFailMsg = `
Unfortunately, an error has occurred, likely caused by:
	- The kubelet is not running
	- The kubelet is unhealthy due to a misconfiguration of the node in some way (required cgroups disabled)

If you are on a systemd-powered system, you can try to troubleshoot the error with the following commands:
	- 'systemctl status kubelet'
	- 'journalctl -xeu kubelet'
`

// pullingImages is what kubeadm prints before its ImagePull check
// (cmd/kubeadm/app/cmd/phases/init/preflight.go, join/preflight.go).
const pullingImages = "[preflight] Pulling images required for setting up a Kubernetes cluster\n[preflight] This might take a minute or two, depending on the speed of your internet connection\n[preflight] You can also perform this action beforehand using 'kubeadm config images pull'\n"

// controlPlaneNeverStarts is init's end when the kubelet runs but
// containerd cannot start a pod sandbox: no static pod starts, every
// control-plane check times out after 4m0s
// (cmd/kubeadm/app/util/apiclient/wait.go WaitForControlPlaneComponents,
// PrintControlPlaneErrorHelpScreen; cmd/phases/init/waitcontrolplane.go).
// The apiserver's words are what the e2e lab printed; the others are Go's
// net/http of a port nothing listens on. The durations are written here.
func controlPlaneNeverStarts(c *host.Call, ip, socket string) int {
	if socket == "" {
		socket = "unix:///var/run/containerd/containerd.sock" // kubeadm's constants.DefaultCRISocket
	}
	fmt.Fprintf(c.Stdout, `[kubelet-check] The kubelet is healthy after 501.810011ms
[control-plane-check] Waiting for healthy control plane components. This can take up to 4m0s
[control-plane-check] Checking kube-apiserver at https://%[1]s:6443/livez
[control-plane-check] Checking kube-controller-manager at https://127.0.0.1:10257/healthz
[control-plane-check] Checking kube-scheduler at https://127.0.0.1:10259/livez
[control-plane-check] kube-apiserver is not healthy after 4m0.00056272s
[control-plane-check] kube-controller-manager is not healthy after 4m0.000610391s
[control-plane-check] kube-scheduler is not healthy after 4m0.000637012s

A control plane component may have crashed or exited when started by the container runtime.
To troubleshoot, list all containers using your preferred container runtimes CLI.
Here is one example how you may list all running Kubernetes containers by using crictl:
	- 'crictl --runtime-endpoint %[2]s ps -a | grep kube | grep -v pause'
	Once you have found the failing container, you can inspect its logs with:
	- 'crictl --runtime-endpoint %[2]s logs CONTAINERID'

`, ip, socket)
	return fatal(c, "wait-control-plane", "failed while waiting for the control plane to start: [kube-apiserver check failed at https://%[1]s:6443/livez: client rate limiter Wait returned an error: rate: Wait(n=1) would exceed context deadline, kube-controller-manager check failed at https://127.0.0.1:10257/healthz: Get \"https://127.0.0.1:10257/healthz\": dial tcp 127.0.0.1:10257: connect: connection refused, kube-scheduler check failed at https://127.0.0.1:10259/livez: Get \"https://127.0.0.1:10259/livez\": dial tcp 127.0.0.1:10259: connect: connection refused]", ip)
}
