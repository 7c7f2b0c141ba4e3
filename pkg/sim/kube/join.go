package kube

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/homelabctl/homelab/pkg/sim/host"
)

// dialError is the Go net words of a failed connection to endpoint.
func dialError(err error, addr string) string {
	switch {
	case errors.Is(err, host.ErrRefused):
		return "dial tcp " + addr + ": connect: connection refused"
	case errors.Is(err, host.ErrReset):
		return "read tcp " + addr + ": read: connection reset by peer"
	}
	return "dial tcp " + addr + ": connect: no route to host"
}

// reach connects from the host to endpoint (name:port) as a Go client
// would: the name through the host's /etc/hosts, then an HTTPS request of
// /readyz over the lab's network. It returns the serving certificate or
// the error's words (after `Get "URL": `).
func reach(ctx context.Context, h *host.Host, endpoint string) ([]byte, string) {
	name := hostName(endpoint)
	port, _ := strconv.Atoi(strings.TrimPrefix(endpoint, name+":"))
	if port == 0 {
		port = 6443
	}
	addr, ok := h.Resolve(name)
	if !ok {
		// The words of Go's resolver through systemd-resolved's stub.
		return nil, fmt.Sprintf("dial tcp: lookup %s on 127.0.0.53:53: no such host", name)
	}
	ap := netip.AddrPortFrom(addr, uint16(port))
	res, err := h.Request(ctx, ap, "GET", "/readyz", nil)
	if err != nil {
		return nil, dialError(err, ap.String())
	}
	return res.CertPEM, ""
}

// verify checks a serving certificate against the cluster's CA for name,
// with crypto/x509's words.
func verify(certPEM, caPEM []byte, name string) string {
	b, _ := pem.Decode(certPEM)
	if b == nil {
		return "tls: first record does not look like a TLS handshake"
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return err.Error()
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
		return "tls: failed to verify certificate: " + err.Error()
	}
	return ""
}

// join is `kubeadm join --config F`.
func (s *Sim) join(ctx context.Context, c *host.Call, f flags) int {
	cfg, code := readConfig(c, f)
	if cfg == nil {
		return code
	}
	ignored, valid := ignoredChecks(c, f, cfg)
	if !valid {
		return 1
	}
	bt := cfg.Discovery.BootstrapToken
	node := cfg.NodeRegistration.Name
	if node == "" {
		node = c.Host.Name()
	}
	cp := cfg.ControlPlane != nil
	ip := c.Host.IP().String()
	if cp && cfg.ControlPlane.LocalAPIEndpoint.AdvertiseAddress != "" {
		ip = cfg.ControlPlane.LocalAPIEndpoint.AdvertiseAddress
	}
	fmt.Fprintln(c.Stdout, "[preflight] Running pre-flight checks")
	// The root check alone, then JoinNodeChecks; a control plane's
	// InitNodeChecks come after discovery
	// (cmd/kubeadm/app/cmd/phases/join/preflight.go).
	if !rootCheck(c) {
		return 1
	}
	errs := append(fileChecks(c, []string{kubeDir + "/kubelet.conf", kubeDir + "/bootstrap-kubelet.conf"}), commonChecks(c)...)
	if !cp {
		errs = append(errs, fileChecks(c, []string{pkiDir + "/ca.crt"})...)
	}
	if _, err := netip.ParseAddr(hostName(bt.APIServerEndpoint)); err == nil {
		errs = append(errs, ipv4Checks(c)...) // only for an IP endpoint, as kubeadm's JoinNodeChecks
	}
	if !runChecks(c, ignoreChecks(c, ignored, errs)) {
		return 1
	}
	// Discovery: cluster-info through the endpoint, its JWS signature for
	// the token, the CA pin, then a verified connection.
	url := "https://" + bt.APIServerEndpoint + "/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s"
	cert, why := reach(ctx, c.Host, bt.APIServerEndpoint)
	if why != "" {
		return fatal(c, "preflight", "couldn't validate the identity of the API Server: failed to request the cluster-info ConfigMap: Get %q: %s", url, why)
	}
	var cl Cluster
	var ok, tokenOK bool
	s.with(func(live *Cluster, now time.Time) {
		if live == nil {
			return
		}
		ok, cl = true, *live
		id, secret, _ := strings.Cut(bt.Token, ".")
		for _, t := range live.Tokens {
			tokenOK = tokenOK || (t.ID == id && t.Secret == secret)
		}
	})
	id, _, _ := strings.Cut(bt.Token, ".")
	switch {
	case !ok:
		return fatal(c, "preflight", "couldn't validate the identity of the API Server: failed to request the cluster-info ConfigMap: Get %q: EOF", url)
	case !tokenOK:
		return fatal(c, "preflight", "couldn't validate the identity of the API Server: could not find a JWS signature in the cluster-info ConfigMap for token ID %q", id)
	case !contains(bt.CACertHashes, pin(cl.CA)):
		return fatal(c, "preflight", "couldn't validate the identity of the API Server: cluster CA found in cluster-info ConfigMap is invalid: none of the public keys %q are pinned", pin(cl.CA))
	}
	if why := verify(cert, cl.CA, hostName(bt.APIServerEndpoint)); why != "" {
		return fatal(c, "preflight", "couldn't validate the identity of the API Server: Get %q: %s", url, why)
	}
	// cmd/kubeadm/app/util/config/cluster.go
	fmt.Fprint(c.Stdout, "[preflight] Reading configuration from the \"kubeadm-config\" ConfigMap in namespace \"kube-system\"...\n[preflight] Use 'kubeadm init phase upload-config kubeadm --config your-config-file' to re-upload it.\n")
	if cp {
		// cmd/kubeadm/app/cmd/phases/join/preflight.go
		fmt.Fprintln(c.Stdout, "[preflight] Running pre-flight checks before initializing the new control plane instance")
		if !runChecks(c, ignoreChecks(c, ignored, controlPlaneChecks(c, false, false))) {
			return 1
		}
		fmt.Fprint(c.Stdout, pullingImages)
		if !runChecks(c, s.kubeadmPreflightImages(ctx, c, cl.ImageRepository, cl.Version)) {
			return 1
		}
	}
	if err := host.Pause(ctx, s.opts.Latency.Join); err != nil {
		return 130
	}
	fs := files{c}
	now := s.now()
	fault := s.fault(node)
	if cp && fault == "" && !s.podsRun(ctx, c.Host) {
		// No pod sandbox starts: the new etcd member's static pod never
		// runs, the learner never catches up and is never promoted.
		fault = "etcd"
	}
	if cp {
		var certs *UploadedCerts
		s.with(func(live *Cluster, _ time.Time) {
			if live != nil && live.Certs != nil {
				cc := *live.Certs
				certs = &cc
			}
		})
		// cmd/kubeadm/app/phases/copycerts/copycerts.go
		fmt.Fprint(c.Stdout, "[download-certs] Downloading the certificates in Secret \"kubeadm-certs\" in the \"kube-system\" Namespace\n")
		// cmd/kubeadm/app/phases/copycerts/copycerts.go, wrapped by
		// cmd/kubeadm/app/cmd/phases/join/controlplaneprepare.go; the key is
		// decoded before the Secret is read.
		rawKey, keyErr := hex.DecodeString(cfg.ControlPlane.CertificateKey)
		switch {
		case keyErr != nil:
			return fatal(c, "control-plane-prepare/download-certs", "error downloading certs: error decoding certificate key: %v", keyErr)
		case certs == nil:
			return fatal(c, "control-plane-prepare/download-certs", "error downloading certs: error downloading the secret: Secret \"kubeadm-certs\" was not found in the \"kube-system\" Namespace. This Secret might have expired. Please, run `kubeadm init phase upload-certs --upload-certs` on a control plane to generate a new one")
		case len(rawKey) != 32:
			return fatal(c, "control-plane-prepare/download-certs", "error downloading certs: error decoding secret data with provided key: crypto/aes: invalid key size %d", len(rawKey))
		case certs.KeyDigest != digest(cfg.ControlPlane.CertificateKey):
			return fatal(c, "control-plane-prepare/download-certs", "error downloading certs: error decoding secret data with provided key: cipher: message authentication failed")
		}
		fmt.Fprint(c.Stdout, "[download-certs] Saving the certificates to the folder: \"/etc/kubernetes/pki\"\n[certs] Using certificateDir folder \"/etc/kubernetes/pki\"\n")
		admin, err := nodePKI(fs, &cl, node, ip, now)
		if err == nil {
			err = writeControlPlane(fs, &cl, node, ip, admin, false)
		}
		if err != nil {
			return fatal(c, "control-plane-prepare/certs", "%v", err)
		}
		fmt.Fprint(c.Stdout, "[kubeconfig] Writing \"admin.conf\" kubeconfig file\n[kubeconfig] Writing \"controller-manager.conf\" kubeconfig file\n[kubeconfig] Writing \"scheduler.conf\" kubeconfig file\n[control-plane] Using manifest folder \"/etc/kubernetes/manifests\"\n[control-plane] Creating static Pod manifest for \"kube-apiserver\"\n[control-plane] Creating static Pod manifest for \"kube-controller-manager\"\n[control-plane] Creating static Pod manifest for \"kube-scheduler\"\n[check-etcd] Checking that the etcd cluster is healthy\n")
	}
	if code := s.readyNodeExists(c, node); code != 0 {
		return code
	}
	if !cp {
		client, err := newLeaf(keyPair{cl.CA, cl.CAKey}, "system:node:"+node, []string{"system:nodes"}, nil, false, now)
		if err == nil {
			err = fs.write(kubeDir+"/kubelet.conf", kubeconfig("https://"+cl.Endpoint, "system:node:"+node, cl.CA, client), 0o600)
		}
		if err == nil {
			err = fs.write(pkiDir+"/ca.crt", cl.CA, 0o644)
		}
		if err != nil {
			return fatal(c, "kubelet-start", "%v", err)
		}
	}
	fmt.Fprint(c.Stdout, "[kubelet-start] Writing kubelet configuration to file \"/var/lib/kubelet/config.yaml\"\n[kubelet-start] Writing kubelet environment file with flags to file \"/var/lib/kubelet/kubeadm-flags.env\"\n[kubelet-start] Starting the kubelet\n[kubelet-check] Waiting for a healthy kubelet at http://127.0.0.1:10248/healthz. This can take up to 4m0s\n")
	writeKubelet(ctx, c, ip, cl.Kubelet)
	if kubeletState(c.Host, "kubelet.service") != "" || fault == "kubelet-start" {
		// cmd/kubeadm/app/cmd/phases/join/kubelet.go and
		// cmd/kubeadm/app/util/apiclient/wait.go (the net/http cause is
		// written here: a kubelet that never listens).
		fmt.Fprintf(c.Stdout, "[kubelet-check] The kubelet is not healthy after 4m0.000446713s\n%s\n", kubeletFailMsg)
		return fatal(c, "kubelet-wait-bootstrap", "failed while waiting for the kubelet to start: The HTTP call equal to 'curl -sSL http://127.0.0.1:10248/healthz' returned error: Get \"http://127.0.0.1:10248/healthz\": dial tcp 127.0.0.1:10248: connect: connection refused\n")
	}
	fmt.Fprint(c.Stdout, "[kubelet-check] The kubelet is healthy after 1.001356914s\n[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap\n")
	version := kubeVersion(c.Host, "kubelet")
	code = 0
	s.with(func(live *Cluster, now time.Time) {
		if live == nil {
			code = fatal(c, "kubelet-wait-bootstrap", "timed out waiting for the condition") // written here
			return
		}
		cidr := live.allocatePodCIDR(node)
		live.Nodes = append(removeNode(live.Nodes, node), Node{Name: node, Host: c.Host.Name(), IP: ip, ControlPlane: cp, Version: version, Joined: now, PodCIDR: cidr})
		s.hosts[c.Host.Name()] = c.Host
		if !cp {
			return
		}
		if _, exists := live.member(ip); exists {
			// The phase is etcd-join: ControlPlaneKubeletLocalMode is on by
			// default (cmd/kubeadm/app/features/features.go); the words are
			// cmd/kubeadm/app/cmd/phases/join/controlplanejoin.go and etcd's
			// api/v3rpc/rpctypes/error.go.
			code = fatal(c, "etcd-join", "error creating local etcd static pod manifest file: etcdserver: Peer URLs already exists")
			return
		}
		m := Member{ID: memberID(), PeerURL: peerURL(ip), Learner: true}
		if fault == "etcd" {
			live.Members = append(live.Members, m)
			code = fatal(c, "etcd-join", "error creating local etcd static pod manifest file: etcdserver: can only promote a learner member which is in sync with leader")
			return
		}
		m.Name, m.ClientURL, m.Learner, m.Started = node, clientURL(ip), false, true
		live.Members = append(live.Members, m)
	})
	if code != 0 {
		return code
	}
	if !cp {
		fmt.Fprint(c.Stdout, "\nThis node has joined the cluster:\n* Certificate signing request was sent to apiserver and a response was received.\n* The Kubelet was informed of the new secure connection details.\n\nRun 'kubectl get nodes' on the control-plane to see this node join the cluster.\n\n")
		return 0
	}
	s.serveAPI(c.Host)
	fmt.Fprintf(c.Stdout, `[etcd] Announced new etcd member joining to the existing etcd cluster
[etcd] Creating static Pod manifest for "etcd"
[etcd] Waiting for the new etcd member to join the cluster. This can take up to 40s
[mark-control-plane] Marking the node %[1]s as control-plane by adding the labels: [node-role.kubernetes.io/control-plane node.kubernetes.io/exclude-from-external-load-balancers]
[mark-control-plane] Marking the node %[1]s as control-plane by adding the taints [node-role.kubernetes.io/control-plane:NoSchedule]

This node has joined the cluster and a new control plane instance was created:

* Certificate signing request was sent to apiserver and approval was received.
* The Kubelet was informed of the new secure connection details.
* Control plane label and taint were applied to the new node.
* The Kubernetes control plane instances scaled up.
* A new etcd member was added to the local/stacked etcd cluster.

To start administering your cluster from this node, you need to run the following as a regular user:

	mkdir -p $HOME/.kube
	sudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config
	sudo chown $(id -u):$(id -g) $HOME/.kube/config

Run 'kubectl get nodes' to see this node join the cluster.

`, node)
	return 0
}

// readyNodeExists fails the join when a Ready Node of the joining node's
// name is registered: kubeadm's kubelet-start phase looks for one before
// anything else (cmd/kubeadm/app/cmd/phases/join/kubelet.go). A NotReady
// one (its machine gone, see Wiped) is taken over by the new kubelet.
func (s *Sim) readyNodeExists(c *host.Call, node string) int {
	ready := false
	s.with(func(live *Cluster, now time.Time) {
		if live == nil {
			return
		}
		for _, n := range live.Nodes {
			ready = ready || (n.Name == node && s.ready(n, now))
		}
	})
	if ready {
		return fatal(c, "kubelet-start", "a Node with name %q and status %q already exists in the cluster. You must delete the existing Node or change the name of this new joining Node", node, "Ready")
	}
	return 0
}

func removeNode(nodes []Node, name string) []Node {
	var out []Node
	for _, n := range nodes {
		if n.Name != name {
			out = append(out, n)
		}
	}
	return out
}
