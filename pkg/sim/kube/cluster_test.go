package kube_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/sim/kube"
)

// caPin computes the pin from master-1's ca.crt, as homelab does.
func (l *kubeLab) caPin() string {
	l.t.Helper()
	b, _ := pem.Decode([]byte(l.must("master-1", "cat /etc/kubernetes/pki/ca.crt")))
	if b == nil {
		l.t.Fatal("ca.crt: no PEM")
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		l.t.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

type etcdMember struct {
	ID        uint64   `json:"ID"`
	Name      string   `json:"name"`
	PeerURLs  []string `json:"peerURLs"`
	IsLearner bool     `json:"isLearner"`
}

func (l *kubeLab) members(on string) []etcdMember {
	l.t.Helper()
	out := l.must(on, kubectl+"-n kube-system exec etcd-"+on+etcdctl+"member list -w json")
	var v struct{ Members []etcdMember }
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		l.t.Fatalf("member list: %v\n%s", err, out)
	}
	return v.Members
}

// The reference sequence of DESIGN.md: master-1 through its real IP, the
// other control planes through the name, the VIP gate, the flip, workers
// through the VIP, Calico, nodes Ready.
func TestHACluster(t *testing.T) {
	now := time.Now()
	l := newKubeLab(t, kube.Options{Now: func() time.Time { return now }},
		"lb-1", "lb-2", "master-1", "master-2", "master-3", "worker-1")

	// Node preparation, with what a fresh host says first.
	if out := l.must("master-1", "cat /proc/swaps"); !strings.Contains(out, "/swapfile") {
		t.Errorf("fresh /proc/swaps: %q", out)
	}
	l.fails("master-1", "sysctl -n net.bridge.bridge-nf-call-iptables", 255,
		"sysctl: cannot stat /proc/sys/net/bridge/bridge-nf-call-iptables: No such file or directory")
	l.fails("master-1", "dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\\n' containerd kubelet", 1, "dpkg-query: no packages found matching kubelet")
	l.fails("master-1", "DEBIAN_FRONTEND=noninteractive apt-get install -y kubelet=1.31.4-1.1", 100, "E: Unable to locate package kubelet")
	for _, n := range []string{"master-1", "master-2", "master-3", "worker-1"} {
		l.prepare(n)
		l.pin(n, addrs["master-1"])
	}
	l.fails("master-1", "DEBIAN_FRONTEND=noninteractive apt-get install -y kubelet=1.31.99-1.1", 100, "E: Version '1.31.99-1.1' for 'kubelet' was not found")
	if out := l.must("master-1", "dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\\n' containerd kubelet kubeadm kubectl"); out != "containerd 1.6.20~ds1-1+b1 ii \nkubelet 1.31.4-1.1 hi \nkubeadm 1.31.4-1.1 hi \nkubectl 1.31.4-1.1 hi \n" {
		t.Errorf("dpkg-query after preparation:\n%s", out)
	}
	if out := l.must("master-1", "apt-mark showhold"); out != "kubeadm\nkubectl\nkubelet\n" {
		t.Errorf("apt-mark showhold: %q", out)
	}
	if out := l.must("master-1", "sysctl -n net.bridge.bridge-nf-call-iptables net.ipv4.ip_forward"); out != "1\n1\n" {
		t.Errorf("sysctls: %q", out)
	}
	l.fails("master-1", "systemctl is-active kubelet", 3, "activating")
	if out := l.must("master-1", "getent hosts "+endpoint); out != "10.0.0.21       "+endpoint+"\n" {
		t.Errorf("getent: %q", out)
	}

	// Init master-1.
	for _, n := range []string{"master-1", "master-2", "master-3"} {
		l.put(n, "/etc/kubernetes/homelab/init.yaml", initConfig(n))
	}
	out := l.must("master-1", initCmd)
	hash := l.caPin()
	for _, want := range []string{"Your Kubernetes control-plane has initialized successfully!",
		"kubeadm join " + endpoint + ":6443 --token " + token + " \\\n\t--discovery-token-ca-cert-hash " + hash + " \\\n\t--control-plane --certificate-key " + certKey,
		"[upload-certs] Using certificate key:\n" + certKey + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubeadm init output lacks %q:\n%s", want, out)
		}
	}
	if got := l.must("master-1", "systemctl is-active kubelet"); got != "active\n" {
		t.Errorf("kubelet after init: %q", got)
	}
	if got := l.must("master-1", "curl -sS --max-time 5 --cacert /etc/kubernetes/pki/ca.crt https://10.0.0.21:6443/readyz"); got != "ok" {
		t.Errorf("readyz by IP: %q", got)
	}
	l.must("master-1", "curl -sS --max-time 5 --cacert /etc/kubernetes/pki/ca.crt --resolve "+endpoint+":6443:10.0.0.21 https://"+endpoint+":6443/readyz")
	l.fails("master-1", "curl -sS --max-time 5 https://10.0.0.21:6443/readyz", 60, "curl: (60) SSL certificate problem: unable to get local issuer certificate")
	l.fails("master-1", "curl -sS --max-time 5 --cacert /etc/kubernetes/pki/ca.crt --resolve other.example:6443:10.0.0.21 https://other.example:6443/readyz",
		60, "curl: (60) SSL: no alternative certificate subject name matches target host name 'other.example'")
	if got := l.must("master-1", kubectl+"get nodes --no-headers"); !regexp.MustCompile(`^master-1 +NotReady +control-plane +\d+s +v1\.31\.4\n$`).MatchString(got) {
		t.Errorf("get nodes: %q", got)
	}
	l.fails("master-1", kubectl+"-n kube-system get daemonset calico-node -o jsonpath='{.spec.template.spec.containers[0].image}'", 1,
		`Error from server (NotFound): daemonsets.apps "calico-node" not found`)

	// The VIP answers, but HAProxy has only master-1 UP.
	if got := l.must("lb-1", "curl -sk --max-time 5 https://"+vip+":6443/readyz"); got != "ok" {
		t.Errorf("readyz through the VIP: %q", got)
	}
	stats := l.must("lb-1", "echo 'show stat' | socat stdio unix-connect:/run/haproxy/admin.sock")
	if !strings.Contains(stats, "kube-apiserver,master-1,") || strings.Count(stats, ",UP,") != 2 { // master-1 and BACKEND
		t.Errorf("HAProxy stats after init:\n%s", stats)
	}

	// Join master-2 and master-3 through the name (still master-1).
	for _, n := range []string{"master-2", "master-3"} {
		l.must("master-1", "kubeadm init phase upload-certs --upload-certs --config /etc/kubernetes/homelab/init.yaml")
		l.put(n, "/etc/kubernetes/homelab/join.yaml", joinConfig(n, token, hash, certKey, true))
		out := l.must(n, joinCmd)
		if !strings.Contains(out, "This node has joined the cluster and a new control plane instance was created") {
			t.Errorf("join %s:\n%s", n, out)
		}
		if got := l.must(n, "curl -sS --max-time 5 --cacert /etc/kubernetes/pki/ca.crt https://"+addrs[n]+":6443/readyz"); got != "ok" {
			t.Errorf("readyz of %s: %q", n, got)
		}
	}
	ms := l.members("master-1")
	if len(ms) != 3 {
		t.Fatalf("members: %+v", ms)
	}
	for _, m := range ms {
		if m.IsLearner || m.Name == "" {
			t.Errorf("member not promoted: %+v", m)
		}
	}
	stats = l.must("lb-2", "echo 'show stat' | socat stdio unix-connect:/run/haproxy/admin.sock")
	if strings.Count(stats, ",UP,") != 4 {
		t.Errorf("HAProxy stats with three control planes:\n%s", stats)
	}

	// Flip the name to the VIP, restart kube-proxy.
	for _, n := range []string{"master-1", "master-2", "master-3", "worker-1"} {
		l.pin(n, vip)
	}
	if got := l.must("master-2", "curl -sS --max-time 5 --cacert /etc/kubernetes/pki/ca.crt https://"+endpoint+":6443/readyz"); got != "ok" {
		t.Errorf("readyz through the name after the flip: %q", got)
	}
	if got := l.must("master-1", kubectl+"-n kube-system rollout restart daemonset kube-proxy"); got != "daemonset.apps/kube-proxy restarted\n" {
		t.Errorf("rollout restart: %q", got)
	}
	l.must("master-1", kubectl+"-n kube-system annotate daemonset kube-proxy homelab/endpoint="+vip+" --overwrite")
	if got := l.must("master-1", kubectl+"-n kube-system get daemonset kube-proxy -o jsonpath='{.metadata.annotations.homelab/endpoint}'"); got != vip {
		t.Errorf("annotation: %q", got)
	}
	l.must("master-1", kubectl+"-n kube-system rollout status daemonset kube-proxy --timeout=300s")

	// The worker, then Calico.
	l.put("worker-1", "/etc/kubernetes/homelab/join.yaml", joinConfig("worker-1", token, hash, "", false))
	if out := l.must("worker-1", joinCmd); !strings.Contains(out, "This node has joined the cluster:") {
		t.Errorf("worker join:\n%s", out)
	}
	if kc := l.must("worker-1", "cat /etc/kubernetes/kubelet.conf"); !strings.Contains(kc, "server: https://"+endpoint+":6443") {
		t.Errorf("worker kubelet.conf:\n%s", kc)
	}
	l.must("master-1", kubectl+"apply -f https://raw.githubusercontent.com/projectcalico/calico/v3.28.2/manifests/calico.yaml")
	if got := l.must("master-1", kubectl+"-n kube-system get daemonset calico-node -o jsonpath='{.spec.template.spec.containers[0].image}'"); got != "docker.io/calico/node:v3.28.2" {
		t.Errorf("calico image: %q", got)
	}
	got := l.must("master-3", kubectl+"get nodes --no-headers")
	if strings.Count(got, " Ready ") != 4 || !regexp.MustCompile(`(?m)^worker-1 +Ready +<none> +\d+s +v1\.31\.4$`).MatchString(got) {
		t.Errorf("nodes:\n%s", got)
	}
	c, _ := l.sim.Cluster()
	if len(c.Nodes) != 4 || c.DaemonSets["kube-proxy"].Restarts != 1 {
		t.Errorf("cluster: %+v", c)
	}

	// Save and Load round-trip.
	var buf bytes.Buffer
	if err := l.sim.Save(&buf); err != nil {
		t.Fatal(err)
	}
	again := kube.New(kube.Options{Now: func() time.Time { return now }})
	if err := again.Load(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	var buf2 bytes.Buffer
	again.Save(&buf2)
	if buf.String() != buf2.String() {
		t.Errorf("Save/Load/Save differs:\n%s\n%s", buf.String(), buf2.String())
	}
	c2, _ := again.Cluster()
	if fmt.Sprint(c2.Members) != fmt.Sprint(c.Members) {
		t.Errorf("members after Load: %+v", c2.Members)
	}
	again.Attach(l.lab)

	// Token and certificate-key expiry by the clock.
	l.sim.Advance(2*time.Hour + time.Minute)
	l.must("master-1", "kubeadm reset -f")
	l.fails("master-2", kubectl+"-n kube-system exec etcd-master-1"+etcdctl+"member list -w json", 1, `pods "etcd-master-1" not found`)
	l.put("master-1", "/etc/kubernetes/homelab/join.yaml", joinConfig("master-1", token, hash, certKey, true))
	l.fails("master-1", joinCmd, 1, `could not find a JWS signature in the cluster-info ConfigMap for token ID "abcdef"`)
	l.must("master-2", "kubeadm token create "+token+" --ttl 2h0m0s")
	l.fails("master-2", "kubeadm token create "+token+" --ttl 2h0m0s", 1, `a token with id "abcdef" already exists`)
	l.fails("master-1", joinCmd, 1, "Secret \"kubeadm-certs\" was not found in the \"kube-system\" Namespace. This Secret might have expired. Please, run `kubeadm init phase upload-certs --upload-certs` on a control plane to generate a new one")
	l.must("master-1", "kubeadm reset -f")
	l.put("master-2", "/etc/kubernetes/homelab/init.yaml", strings.ReplaceAll(initConfig("master-2"), certKey, strings.Repeat("ab", 32)))
	if out := l.must("master-2", "kubeadm init phase upload-certs --upload-certs --config /etc/kubernetes/homelab/init.yaml"); !strings.HasSuffix(out, strings.Repeat("ab", 32)+"\n") {
		t.Errorf("upload-certs output: %q", out)
	}
	l.fails("master-1", joinCmd, 1, "error decoding secret data with provided key: cipher: message authentication failed")
	l.must("master-1", "kubeadm reset -f")

	// A join that dies in etcd leaves a learner; member remove and reset
	// clear it and the rejoin succeeds.
	l.put("master-1", "/etc/kubernetes/homelab/join.yaml", joinConfig("master-1", token, hash, strings.Repeat("ab", 32), true))
	l.sim.FailJoin("master-1", "etcd")
	l.fails("master-1", joinCmd, 1, "error execution phase etcd-join")
	var learner *etcdMember
	for _, m := range l.members("master-2") {
		if m.IsLearner {
			learner = &m
		}
	}
	if learner == nil || learner.Name != "" || learner.PeerURLs[0] != "https://10.0.0.21:2380" {
		t.Fatalf("after the failed join: learner %+v", learner)
	}
	l.fails("master-1", joinCmd, 1, "[ERROR FileAvailable--etc-kubernetes-kubelet.conf]: /etc/kubernetes/kubelet.conf already exists")
	// Files cleaned by hand (no reset, so the learner stays, and the
	// kubelet the failed join started keeps the Node Ready): kubeadm
	// refuses a second Ready Node of the name; once it is deleted, etcd
	// refuses the same peer URL.
	l.fails("master-1", "rm -rf /etc/kubernetes/manifests/* /etc/kubernetes/pki /etc/kubernetes/*.conf /var/lib/etcd/member && "+joinCmd,
		1, `error execution phase kubelet-start: a Node with name "master-1" and status "Ready" already exists in the cluster.`)
	if got := l.must("master-2", kubectl+"delete node master-1"); got != "node \"master-1\" deleted\n" {
		t.Errorf("delete node: %q", got)
	}
	l.fails("master-2", kubectl+"delete node master-1", 1, `Error from server (NotFound): nodes "master-1" not found`)
	l.fails("master-1", "rm -rf /etc/kubernetes/manifests/* /etc/kubernetes/pki /etc/kubernetes/*.conf /var/lib/etcd/member && "+joinCmd,
		1, "error execution phase etcd-join: error creating local etcd static pod manifest file: etcdserver: Peer URLs already exists")
	if got := l.must("master-2", kubectl+"-n kube-system exec etcd-master-2"+etcdctl+fmt.Sprintf("member remove %x", learner.ID)); !strings.HasPrefix(got, fmt.Sprintf("Member %x removed from cluster ", learner.ID)) {
		t.Errorf("member remove: %q", got)
	}
	l.must("master-1", "kubeadm reset -f")
	l.must("master-1", joinCmd)
	if ms := l.members("master-3"); len(ms) != 3 {
		t.Errorf("members after the rejoin: %+v", ms)
	}
}
