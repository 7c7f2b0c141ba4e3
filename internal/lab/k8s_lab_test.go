package lab

import (
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	ServeMirror()
	os.Exit(m.Run())
}

// k8sBuild returns the tools/k8s build (binaries, images, apt
// repository), or skips the test when there is none and
// HOMELAB_REQUIRE_K8S is unset. Without a lab it skips, or fails under
// HOMELAB_REQUIRE_LAB=1 when the build is there.
func k8sBuild(t *testing.T) K8sBuild {
	t.Helper()
	b, missing, err := FindK8sBuild("../..", "bin/kubeadm", "images/images.txt", "apt/InRelease", "apt/Release.key", "dist.recipe")
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("no Kubernetes build in %s (missing %v): run tools/k8s/build.sh (make e2e-tools)", b.Dir, missing)
		if os.Getenv("HOMELAB_REQUIRE_K8S") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if err := Available(); err != nil {
		if os.Getenv("HOMELAB_REQUIRE_LAB") == "1" {
			t.Fatalf("lab required: %v", err)
		}
		t.Skipf("no lab here: %v", err)
	}
	return b
}

// The foundation of the end-to-end lab: one lab host installs Debian's
// containerd, runc and CNI plugins (downloaded on the machine, installed
// with --no-download), adds the lab's signed apt repository served over
// HTTP by a mirror host inside the lab, installs kubelet, kubeadm and
// kubectl from it, imports the image archives into containerd, and the
// real `kubeadm init` brings up a control plane whose /readyz answers ok;
// kube-proxy runs and programs its rules; with a CNI bridge configuration
// the node turns Ready and CoreDNS becomes ready.
// Nothing is pulled from outside, no preflight error is ignored, and the
// machine is unchanged afterwards.
func TestKubeadmInitOnLab(t *testing.T) {
	build := k8sBuild(t)
	dir, kube := build.Dir, build.Version
	pkgVersion := strings.TrimPrefix(kube, "v") + "-1.1"
	images, err := build.Images()
	if err != nil {
		t.Fatal(err)
	}
	var pause string
	for _, ref := range images {
		if strings.Contains(ref, "/pause:") {
			pause = ref
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	start := time.Now()
	step := func(name string, since time.Time) { t.Logf("%-34s %6.1fs", name, time.Since(since).Seconds()) }

	// Debian's runtime packages, downloaded on the machine (its apt cache,
	// which every host sees through its overlay).
	debian := []string{"containerd", "runc", "containernetworking-plugins", "iptables"}
	s := time.Now()
	if out, err := osexec.CommandContext(ctx, "apt-get", append([]string{"install", "-y", "-q", "--download-only"}, debian...)...).CombinedOutput(); err != nil {
		t.Fatalf("apt-get install --download-only on the machine: %v\n%s", err, out)
	}
	step("download Debian packages", s)

	hold := exclusiveLab(t)
	before := machineBaseline(t)
	s = time.Now()
	l, err := Start(ctx, Options{Prefix: "hlk", Hold: hold, Hosts: []HostSpec{{Name: "cp1"}, {Name: "mirror", Bare: true}}})
	if err != nil {
		t.Fatal(err)
	}
	// Teardown, also when the test fails: the mirror, the lab, and then
	// the machine must be as it was.
	var stopServer func()
	defer func() {
		if stopServer != nil {
			stopServer()
		}
		s := time.Now()
		if err := l.Close(); err != nil {
			t.Error(err)
		}
		step("close the lab", s)
		assertUnchanged(t, before)
	}()
	step("start the lab", s)
	cp := l.Host("cp1")
	mirror := l.Host("mirror").IP.String() + ":8080"
	srv, err := l.Command("mirror", os.Args[0], "-test.run=^$")
	if err != nil {
		t.Fatal(err)
	}
	srv.Env = append(os.Environ(), MirrorEnv+"="+mirror+" "+dir)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	stopServer = func() { srv.Process.Kill(); srv.Wait() }

	sh := func(what, script string) string {
		t.Helper()
		s := time.Now()
		out, err := l.Exec(ctx, "cp1", "bash", "-euo", "pipefail", "-c", script)
		if err != nil {
			t.Fatalf("%s: %v\n%s\n%s", what, err, out, diagnose(l))
		}
		step(what, s)
		return string(out)
	}
	// A host starts as a copy of the machine, which may carry its own
	// kubectl (another vendor's, a newer version): a fresh guest has none.
	sh("remove the machine's kube packages", "for p in kubectl kubelet kubeadm kubernetes-cni; do if dpkg -s $p >/dev/null 2>&1; then dpkg -r $p; fi; done")
	sh("install Debian packages (offline)", "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-download "+strings.Join(debian, " "))
	sh("add the lab's apt repository", fmt.Sprintf(`
for i in $(seq 50); do curl -fsS -o /tmp/lab.key http://%[1]s/apt/Release.key && break; sleep 0.1; done
install -d -m 0755 /etc/apt/keyrings
gpg --dearmor --batch --yes -o /etc/apt/keyrings/homelab-lab.gpg /tmp/lab.key
echo "deb [signed-by=/etc/apt/keyrings/homelab-lab.gpg] http://%[1]s/apt/ /" > /etc/apt/sources.list.d/homelab-lab.list
# Only the lab's source: the machine's Debian lists stay as they are.
apt-get update -q -o Dir::Etc::SourceList=/etc/apt/sources.list.d/homelab-lab.list -o Dir::Etc::SourceParts=/dev/null -o APT::Get::List-Cleanup=0 2>&1 | tee /tmp/update.log
! grep -E '^(W|E):' /tmp/update.log`, mirror))
	sh("install kubelet kubeadm kubectl (HTTP)", fmt.Sprintf("DEBIAN_FRONTEND=noninteractive apt-get install -y -q kubelet=%[1]s kubeadm=%[1]s kubectl=%[1]s && apt-mark hold kubelet kubeadm kubectl && systemctl enable kubelet", pkgVersion))
	// containerd as homelab's node preparation will write it (a later
	// step of issue 13 makes restrict_oom_score_adj an inventory option):
	// the systemd cgroup driver, the pause image kubeadm names, and
	// restrict_oom_score_adj because root here lacks CAP_SYS_RESOURCE.
	sh("configure containerd", fmt.Sprintf(`
containerd config default > /etc/containerd/config.toml
sed -i -e 's/SystemdCgroup = false/SystemdCgroup = true/' \
  -e 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' \
  -e 's#sandbox_image = .*#sandbox_image = "%s"#' /etc/containerd/config.toml
grep -q 'SystemdCgroup = true' /etc/containerd/config.toml
grep -q 'restrict_oom_score_adj = true' /etc/containerd/config.toml
systemctl restart containerd`, pause))
	var imports strings.Builder
	for file := range images {
		fmt.Fprintf(&imports, "curl -fsS -o /var/lib/containerd/import.tar http://%s/images/%s && ctr -n k8s.io images import /var/lib/containerd/import.tar >/dev/null && rm /var/lib/containerd/import.tar\n", mirror, file)
	}
	sh("import the images", imports.String())
	if out := sh("list the images", "ctr -n k8s.io images list -q"); !containsAll(out, images) {
		t.Fatalf("images in containerd:\n%s\nwant %v", out, images)
	}
	config := fmt.Sprintf(`apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: %[1]s
  bindPort: 6443
nodeRegistration:
  name: cp1
  criSocket: unix:///var/run/containerd/containerd.sock
  ignorePreflightErrors: [SystemVerification]
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: %[2]s
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
# The lab host shares the machine's cgroup v1 hierarchies: the kubelet of
# 1.35 and later refuses cgroup v1 unless told not to, and kubeadm then
# wants its SystemVerification check skipped (nodeRegistration above).
failCgroupV1: false
---
# A lab host's network namespace is not the machine's first one: there
# nf_conntrack_max is read-only, and kube-proxy, finding it other than the
# value it computes, fails to write it and exits ("open
# /proc/sys/net/netfilter/nf_conntrack_max: permission denied", seen
# here). maxPerCore 0 leaves the limit as it is (what kind does); homelab
# gains this as an inventory option in a later step.
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
conntrack:
  maxPerCore: 0
`, cp.IP, kube)
	initStart := time.Now()
	out := sh("kubeadm init", "cat > /root/kubeadm.yaml <<'EOF'\n"+config+"EOF\nkubeadm init --config /root/kubeadm.yaml 2>&1")
	if !strings.Contains(out, "Your Kubernetes control-plane has initialized successfully") {
		t.Fatalf("kubeadm init:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "[WARNING") || strings.Contains(line, "[ERROR") {
			t.Logf("kubeadm init: %s", line)
		}
	}
	var readyz string
	for time.Since(initStart) < 2*time.Minute {
		o, _ := l.Exec(ctx, "cp1", "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "get", "--raw", "/readyz")
		if readyz = strings.TrimSpace(string(o)); readyz == "ok" {
			break
		}
		time.Sleep(time.Second)
	}
	if readyz != "ok" {
		t.Fatalf("/readyz: %q\n%s", readyz, diagnose(l))
	}
	step("kubeadm init to /readyz ok", initStart)
	// A command run in a container (kubectl exec, as homelab's
	// control-plane gate runs etcdctl) sees the container's own files:
	// the etcd image's etcdctl, and no shell, which the image lacks and
	// the host has. (Under a host entered by chroot it saw the machine's.)
	if o, err := l.Exec(ctx, "cp1", "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "-n", "kube-system", "exec", "etcd-cp1", "--", "etcdctl", "version"); err != nil || !strings.Contains(string(o), "etcdctl version: ") {
		t.Errorf("etcdctl in the etcd pod: %v\n%s", err, o)
	}
	if o, err := l.Exec(ctx, "cp1", "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "-n", "kube-system", "exec", "etcd-cp1", "--", "sh", "-c", "true"); err == nil || !strings.Contains(string(o), `exec: "sh": executable file not found`) {
		t.Errorf("a shell ran in the etcd pod, whose image has none: the exec did not enter the container's root: %v\n%s", err, o)
	}
	if o, err := l.Exec(ctx, "cp1", "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "version", "-o", "yaml"); err != nil || strings.Count(string(o), "gitVersion: "+kube) != 2 {
		t.Errorf("kubectl version: %v\n%s", err, o)
	}
	// kube-proxy (hostNetwork, so it runs before any CNI) programs the
	// service rules with the iptables its image carries.
	s = time.Now()
	var proxy string
	for time.Since(s) < 2*time.Minute {
		o, _ := l.Exec(ctx, "cp1", "bash", "-c", "kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-system get pods -l k8s-app=kube-proxy -o jsonpath='{.items[*].status.containerStatuses[*].ready}'; echo; iptables-save -t nat | grep -c '^-A KUBE-SERVICES' || true")
		if proxy = string(o); strings.HasPrefix(proxy, "true\n") && !strings.HasSuffix(proxy, "\n0\n") {
			break
		}
		time.Sleep(2 * time.Second)
	}
	if !strings.HasPrefix(proxy, "true\n") || strings.HasSuffix(proxy, "\n0\n") {
		logs, _ := l.Exec(ctx, "cp1", "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "-n", "kube-system", "logs", "-l", "k8s-app=kube-proxy", "--tail", "30")
		t.Errorf("kube-proxy not ready with its rules (ready, KUBE-SERVICES rules): %q\n%s", proxy, logs)
	} else {
		step("kube-proxy ready, rules programmed", s)
	}
	// A CNI configuration (Debian's bridge and host-local plugins, where
	// Debian's containerd looks) makes the node Ready, and CoreDNS (image
	// entrypoint /coredns) becomes ready: it reaches the apiserver through
	// the service address kube-proxy programmed.
	s = time.Now()
	sh("write a CNI configuration", `mkdir -p /etc/cni/net.d && cat > /etc/cni/net.d/10-lab.conflist <<'EOF'
{"cniVersion": "1.0.0", "name": "lab", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
EOF`)
	var dns string
	for time.Since(s) < 3*time.Minute {
		o, _ := l.Exec(ctx, "cp1", "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "get", "pods", "-A", "-l", "k8s-app=kube-dns",
			"-o", `jsonpath={range .items[*]}{.status.containerStatuses[*].ready} {end}`)
		node, _ := l.Exec(ctx, "cp1", "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "get", "node", "cp1", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		if dns = string(node) + " " + strings.TrimSpace(string(o)); dns == "True true true" {
			break
		}
		time.Sleep(2 * time.Second)
	}
	if dns != "True true true" {
		pods, _ := l.Exec(ctx, "cp1", "bash", "-c", "kubectl --kubeconfig /etc/kubernetes/admin.conf get pods -A -o wide; kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-system logs -l k8s-app=kube-dns --tail 20")
		t.Errorf("node Ready, CoreDNS pods ready: %q\n%s\n%s", dns, pods, diagnose(l))
	} else {
		step("node Ready, CoreDNS ready", s)
	}
	for _, dir := range cp.Cgroups {
		if strings.Contains(dir, "/memory/") {
			if b, err := os.ReadFile(filepath.Join(dir, "memory.max_usage_in_bytes")); err == nil {
				n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
				t.Logf("peak memory of the host's cgroup (page cache included): %d MiB", n>>20)
			}
		}
	}
	step("in all (lab running)", start)
}

func containsAll(out string, images map[string]string) bool {
	for _, ref := range images {
		if !strings.Contains(out, ref+"\n") {
			return false
		}
	}
	return true
}

// diagnose collects what explains a failure inside cp1.
func diagnose(l *Lab) string {
	out, _ := l.Exec(context.Background(), "cp1", "bash", "-c",
		"systemctl --failed --no-legend; journalctl -u containerd -u kubelet --no-pager -n 60; crictl --runtime-endpoint unix:///run/containerd/containerd.sock ps -a 2>/dev/null")
	return string(out)
}
