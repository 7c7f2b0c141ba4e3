package kube_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/homelabctl/homelab/pkg/sim/host"
	"github.com/homelabctl/homelab/pkg/sim/kube"
)

// kubeLab is two load balancers holding the VIP 10.0.0.10 (HAProxy to
// the three control planes' :6443, checking /readyz), three control
// planes and a worker, with a clock tests move.
type kubeLab struct {
	t      *testing.T
	lab    *host.Lab
	sim    *kube.Sim
	signer ssh.Signer
	mu     sync.Mutex
	conns  map[string]*ssh.Client
}

const (
	vip      = "10.0.0.10"
	endpoint = "k8s-api.lab.example"
	token    = "abcdef.0123456789abcdef"
	certKey  = "3f2a0c9e8d7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa998877"
)

var addrs = map[string]string{"lb-1": "10.0.0.11", "lb-2": "10.0.0.12", "master-1": "10.0.0.21",
	"master-2": "10.0.0.22", "master-3": "10.0.0.23", "worker-1": "10.0.0.31"}

func newKubeLab(t *testing.T, o kube.Options, names ...string) *kubeLab {
	t.Helper()
	return newKubeLabWith(t, o, nil, nil, names...)
}

// newKubeLabWith is newKubeLab whose Internet editInternet changes first
// and whose hosts' specs editSpec changes (nil: none).
func newKubeLabWith(t *testing.T, o kube.Options, editInternet func(internet map[string]http.Handler), editSpec func(*host.Spec), names ...string) *kubeLab {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(key)
	s := kube.New(o)
	internet := s.Internet()
	if editInternet != nil {
		editInternet(internet)
	}
	lab, err := host.NewLab(host.LabOptions{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}, VRRPScale: 0.02,
		StrictBackends: true, Programs: s.Programs(), Packages: s.Packages(), Internet: internet})
	if err != nil {
		t.Fatal(err)
	}
	l := &kubeLab{t: t, lab: lab, sim: s, signer: signer, conns: map[string]*ssh.Client{}}
	t.Cleanup(func() {
		for _, c := range l.conns {
			c.Close()
		}
		lab.Close()
	})
	for _, n := range names {
		spec := host.Spec{Name: n, Address: netip.MustParsePrefix(addrs[n] + "/24"), Users: []string{"debian"}}
		if strings.HasPrefix(n, "lb-") {
			spec.Packages = []string{"haproxy", "keepalived", "curl", "socat"}
		}
		if editSpec != nil {
			editSpec(&spec)
		}
		if _, err := lab.Add(spec); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(n, "lb-") {
			l.setupLB(n)
		}
	}
	return l
}

// ssh runs cmd on the host over real SSH as debian, under sudo.
func (l *kubeLab) ssh(name, cmd string) (int, string, string) {
	l.t.Helper()
	h, ok := l.lab.Host(name)
	if !ok {
		l.t.Fatalf("no host %s", name)
	}
	l.mu.Lock()
	c := l.conns[name]
	if c == nil {
		var err error
		c, err = ssh.Dial("tcp", h.Addr(), &ssh.ClientConfig{User: "debian", Auth: []ssh.AuthMethod{ssh.PublicKeys(l.signer)},
			HostKeyCallback: ssh.FixedHostKey(h.HostKey()), Timeout: 5 * time.Second})
		if err != nil {
			l.mu.Unlock()
			l.t.Fatalf("ssh %s: %v", name, err)
		}
		l.conns[name] = c
	}
	l.mu.Unlock()
	sess, err := c.NewSession()
	if err != nil {
		l.t.Fatalf("ssh %s: %v", name, err)
	}
	defer sess.Close()
	var out, errb bytes.Buffer
	sess.Stdout, sess.Stderr = &out, &errb
	status := 0
	if err := sess.Run("sudo -n sh -c '" + strings.ReplaceAll(cmd, "'", `'\''`) + "'"); err != nil {
		if ee, ok := err.(*ssh.ExitError); ok {
			status = ee.ExitStatus()
		} else {
			l.t.Fatalf("ssh %s %q: %v", name, cmd, err)
		}
	}
	return status, out.String(), errb.String()
}

// must runs cmd and fails the test unless it exits 0; it returns stdout.
func (l *kubeLab) must(name, cmd string) string {
	l.t.Helper()
	st, out, errs := l.ssh(name, cmd)
	if st != 0 {
		l.t.Fatalf("%s$ %s\nexit %d\nstdout: %s\nstderr: %s", name, cmd, st, out, errs)
	}
	return out
}

// fails runs cmd and wants status and stderr (or stdout) containing want.
func (l *kubeLab) fails(name, cmd string, status int, want string) {
	l.t.Helper()
	st, out, errs := l.ssh(name, cmd)
	if st != status || !strings.Contains(errs+out, want) {
		l.t.Errorf("%s$ %s\ngot exit %d\nstdout: %s\nstderr: %s\nwant exit %d and %q", name, cmd, st, out, errs, status, want)
	}
}

func (l *kubeLab) put(name, path, content string) {
	l.t.Helper()
	h, _ := l.lab.Host(name)
	p := filepath.Join(h.Root(), path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		l.t.Fatal(err)
	}
}

func (l *kubeLab) setupLB(name string) {
	prio := map[string]int{"lb-1": 150, "lb-2": 100}[name]
	l.put(name, "/etc/haproxy/haproxy.cfg", `global
    log /dev/log local0
    stats socket /run/haproxy/admin.sock mode 660 level admin
    user haproxy
    group haproxy
    daemon

defaults
    log global
    mode tcp
    timeout connect 5s
    timeout client 1m
    timeout server 1m

frontend kube-apiserver
    mode tcp
    bind `+vip+`:6443
    default_backend kube-apiserver

backend kube-apiserver
    mode tcp
    option httpchk
    http-check send meth GET uri /readyz
    http-check expect status 200
    server master-1 10.0.0.21:6443 check check-ssl verify none
    server master-2 10.0.0.22:6443 check check-ssl verify none
    server master-3 10.0.0.23:6443 check check-ssl verify none
`)
	l.put(name, "/etc/keepalived/keepalived.conf", fmt.Sprintf(`vrrp_instance kube {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %d
    nopreempt
    authentication {
        auth_type PASS
        auth_pass s1m
    }
    virtual_ipaddress {
        %s/24
    }
}
`, prio, vip))
	l.put(name, "/etc/sysctl.d/90-lb.conf", "net.ipv4.ip_nonlocal_bind = 1\n")
	l.must(name, "sysctl -q -p /etc/sysctl.d/90-lb.conf && systemctl reload haproxy && systemctl restart keepalived")
}

// pin writes the managed /etc/hosts line for the endpoint.
func (l *kubeLab) pin(name, addr string) {
	l.must(name, `sed -i '/`+endpoint+`/d' /etc/hosts && echo "`+addr+` `+endpoint+`" >> /etc/hosts`)
}

// prepare runs homelab's node preparation for 1.31.4.
func (l *kubeLab) prepare(name string) {
	l.t.Helper()
	l.prepareAt(name, "1.31.4")
}

// prepareAt runs homelab's node preparation for a release (1.35.4).
func (l *kubeLab) prepareAt(name, version string) {
	l.t.Helper()
	minor := version[:strings.LastIndex(version, ".")]
	for _, cmd := range []string{
		"swapoff -a",
		"sed -i '/ swap /s/^/#/' /etc/fstab",
		"printf 'overlay\\nbr_netfilter\\n' > /etc/modules-load.d/k8s.conf",
		"modprobe -a overlay br_netfilter",
		"printf 'net.ipv4.ip_forward = 1\\nnet.bridge.bridge-nf-call-iptables = 1\\nnet.bridge.bridge-nf-call-ip6tables = 1\\n' > /etc/sysctl.d/99-kubernetes.conf",
		"sysctl --system",
		"DEBIAN_FRONTEND=noninteractive apt-get install -y containerd curl gnupg",
		"mkdir -p /etc/containerd && containerd config default | sed 's/SystemdCgroup = false/SystemdCgroup = true/' > /etc/containerd/config.toml",
		"systemctl restart containerd",
		"install -d -m 0755 /etc/apt/keyrings",
		"curl -fsSL https://pkgs.k8s.io/core:/stable:/v" + minor + "/deb/Release.key | gpg --dearmor --batch --yes -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg",
		"echo 'deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v" + minor + "/deb/ /' > /etc/apt/sources.list.d/kubernetes.list",
		"apt-get update -q",
		"DEBIAN_FRONTEND=noninteractive apt-get install -y --allow-change-held-packages kubelet=" + version + "-1.1 kubeadm=" + version + "-1.1 kubectl=" + version + "-1.1",
		"apt-mark hold kubelet kubeadm kubectl",
	} {
		l.must(name, cmd)
	}
}

func initConfig(node string) string { return initConfigAt(node, "1.31.4", "") }

// initConfigAt is master1's init configuration for a release (1.35.4),
// with kubelet's lines appended to its KubeletConfiguration.
func initConfigAt(node, version, kubelet string) string {
	return fmt.Sprintf(`apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
  - token: %q
    ttl: 2h0m0s
certificateKey: %q
localAPIEndpoint:
  advertiseAddress: %q
  bindPort: 6443
nodeRegistration:
  name: %q
  kubeletExtraArgs:
    - name: "node-ip"
      value: %q
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: "v%s"
controlPlaneEndpoint: "%s:6443"
apiServer:
  certSANs: [%s, %s, 10.0.0.21, 10.0.0.22, 10.0.0.23, master-1, master-2, master-3]
networking:
  podSubnet: "10.244.0.0/16"
  serviceSubnet: "10.96.0.0/12"
  dnsDomain: "cluster.local"
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
%s`, token, certKey, addrs[node], node, addrs[node], version, endpoint, endpoint, vip, kubelet)
}

func joinConfig(node, tok, hash, key string, cp bool) string {
	s := fmt.Sprintf(`apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: "%s:6443"
    token: %q
    caCertHashes:
      - %q
`, endpoint, tok, hash)
	if cp {
		s += fmt.Sprintf("controlPlane:\n  localAPIEndpoint:\n    advertiseAddress: %q\n    bindPort: 6443\n  certificateKey: %q\n", addrs[node], key)
	}
	return s + fmt.Sprintf("nodeRegistration:\n  name: %q\n  kubeletExtraArgs:\n    - name: node-ip\n      value: %q\n", node, addrs[node])
}

const (
	initCmd = "kubeadm init --config /etc/kubernetes/homelab/init.yaml --upload-certs"
	joinCmd = "kubeadm join --config /etc/kubernetes/homelab/join.yaml"
	kubectl = "kubectl --kubeconfig /etc/kubernetes/admin.conf "
	etcdctl = " -- etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/server.crt --key=/etc/kubernetes/pki/etcd/server.key "
)
