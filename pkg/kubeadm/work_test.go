package kubeadm

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/step"
)

func TestHostsBlock(t *testing.T) {
	m1, vip := netip.MustParseAddr("10.0.0.11"), netip.MustParseAddr("10.0.0.100")
	const name = "k8s-api.lab.example"
	base := "127.0.0.1 localhost\n10.0.0.11 master-1\n"
	pinned := withHostsEntry(base, name, m1)
	if want := base + hostsBegin + "\n10.0.0.11 " + name + "\n" + hostsEnd + "\n"; pinned != want {
		t.Fatalf("pinned:\n%s\nwant:\n%s", pinned, want)
	}
	flipped := withHostsEntry(pinned, name, vip)
	if !strings.HasPrefix(flipped, base) || strings.Count(flipped, name) != 1 || !strings.Contains(flipped, "10.0.0.100 "+name) {
		t.Fatalf("flipped:\n%s", flipped)
	}
	if got := withHostsEntry("127.0.0.1 localhost", name, m1); !strings.HasPrefix(got, "127.0.0.1 localhost\n"+hostsBegin) {
		t.Errorf("no final newline: %q", got)
	}

	tmpl := "127.0.1.1 {{fqdn}} {{hostname}}\n"
	pinnedTmpl, flippedTmpl := withHostsEntry(tmpl, name, m1), withHostsEntry(tmpl, name, vip)
	behind := func(context.Context) (bool, error) { return true, nil }
	notBehind := func(context.Context) (bool, error) { return false, nil }
	for _, tc := range []struct {
		name      string
		hosts     string
		tmpl      *string // cloud-init's hosts template, nil: none
		flip      bool
		behindVIP func(context.Context) (bool, error)
		want      step.Action
		field     string // the first field's new value
		fields    int
	}{
		{"pin on a fresh node", base, nil, false, notBehind, step.Create, "10.0.0.11 " + name, 1},
		{"pin again", pinned, nil, false, notBehind, step.None, "", 0},
		{"pin after the flip leaves the VIP", flipped, nil, false, notBehind, step.None, "", 0},
		{"flip a pinned node", pinned, nil, true, nil, step.Update, "10.0.0.100 " + name, 1},
		{"flip again", flipped, nil, true, nil, step.None, "", 0},
		{"flip a node never pinned", base, nil, true, nil, step.Create, "10.0.0.100 " + name, 1},
		{"a line of someone else's", base + "10.9.9.9 " + name + " # by hand\n", nil, false, notBehind, step.Conflict, "", 0},
		{"pin on a fresh cloud-init node: the template too", base, &tmpl, false, notBehind, step.Create, "10.0.0.11 " + name, 2},
		{"pin a node of a cluster behind the VIP", base, &tmpl, false, behind, step.Create, "10.0.0.100 " + name, 2},
		{"pin after a reboot rendered the template", flipped, &flippedTmpl, false, notBehind, step.None, "", 0},
		{"pin with only the template's block", base, &flippedTmpl, false, notBehind, step.Create, "10.0.0.100 " + name, 1},
		{"pin keeps /etc/hosts, fixes the template", flipped, &pinnedTmpl, false, notBehind, step.Update, "10.0.0.100 " + name, 1},
		{"flip both", pinned, &pinnedTmpl, true, nil, step.Update, "10.0.0.100 " + name, 2},
		{"someone else's line in the template", base, &[]string{tmpl + "10.9.9.9 " + name + " # by hand\n"}[0], false, notBehind, step.Conflict, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := m1
			if tc.flip {
				addr = vip
			}
			w := hostsWork{node: "master-2", name: name, addr: addr, flip: tc.flip, vip: vip, behindVIP: tc.behindVIP}
			f := hostsFiles{hosts: tc.hosts, entry: readHostsEntry(tc.hosts, name)}
			if tc.tmpl != nil {
				f.tmpl, f.hasTmpl, f.tmplEntry = *tc.tmpl, true, readHostsEntry(*tc.tmpl, name)
			}
			c, err := w.change(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			if c.Action != tc.want {
				t.Fatalf("action %s, want %s (%s)", c.Action, tc.want, c.Reason)
			}
			if len(c.Fields) != tc.fields || tc.field != "" && c.Fields[0].New != tc.field {
				t.Errorf("fields %+v, want %d, the first new %q", c.Fields, tc.fields, tc.field)
			}
			if c.Action == step.Conflict && !strings.Contains(c.Reason, "10.9.9.9 "+name+" # by hand") {
				t.Errorf("conflict does not name the line: %s", c.Reason)
			}
		})
	}
}

func TestCommentSwap(t *testing.T) {
	fstab := "UUID=abc / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n# /old none swap sw 0 0\n"
	got, ok := commentSwap(fstab)
	if !ok || !strings.Contains(got, "# swap off for the kubelet (homelab): /swapfile none swap sw 0 0\n") || !strings.HasPrefix(got, "UUID=abc / ext4") {
		t.Fatalf("commentSwap = %v\n%s", ok, got)
	}
	if _, ok := commentSwap(got); ok {
		t.Error("a commented swap line is found again")
	}
}

func TestSystemdCgroup(t *testing.T) {
	def := "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n            SystemdCgroup = false\n"
	if systemdCgroup(def) {
		t.Fatal("default config read as systemd")
	}
	got, err := useSystemdCgroup(def)
	if err != nil || !systemdCgroup(got) || !strings.Contains(got, "            SystemdCgroup = true\n") {
		t.Fatalf("useSystemdCgroup: %v\n%s", err, got)
	}
	if _, err := useSystemdCgroup("version = 2\n"); err == nil {
		t.Error("a config without the setting was accepted")
	}
}

func TestGaps(t *testing.T) {
	v := Version{Major: 1, Minor: 31, Patch: 4}
	prepared := parseFacts("@@ /proc/swaps\nFilename\tType\tSize\tUsed\tPriority\n" +
		"@@ /etc/fstab\nUUID=abc / ext4 defaults 0 1\n" +
		"@@ /proc/modules\noverlay 151552 0 - Live 0x0\nbr_netfilter 32768 0 - Live 0x0\n" +
		"@@ " + ModulesFile + "\n" + string(modulesConf()) +
		"@@ " + SysctlFile + "\n" + string(sysctlConf()) +
		"@@ " + ContainerdFile + "\n  SystemdCgroup = true\n" +
		"@@ " + RepoFile + "\n" + string(repoList(repoURL(v))) +
		"@@ sysctl\nnet.bridge.bridge-nf-call-iptables=1\nnet.bridge.bridge-nf-call-ip6tables=1\nnet.ipv4.ip_forward=1\n" +
		"@@ packages\ncontainerd 1.6.20~ds1-1+b1 ii\nkubelet 1.31.4-1.1 hi\nkubeadm 1.31.4-1.1 hi\nkubectl 1.31.4-1.1 hi\n" +
		"@@ holds\nkubeadm\nkubectl\nkubelet\n@@ keyring\npresent\n@@ units\ncontainerd=active\nkubelet=enabled\n@@ joined\n")
	if g, c := gaps(prepared, nodeSpec{version: v, repo: repoURL(v)}); len(g) != 0 || c != "" {
		t.Fatalf("a prepared node has gaps %+v %q", g, c)
	}
	fresh := parseFacts("@@ /proc/swaps\nFilename\tType\tSize\tUsed\tPriority\n/swapfile file 1048572 0 -2\n" +
		"@@ /etc/fstab\n/swapfile none swap sw 0 0\n@@ /proc/modules\n@@ sysctl\nnet.ipv4.ip_forward=0\n@@ packages\n@@ holds\n@@ units\ncontainerd=inactive\nkubelet=\n")
	g, _ := gaps(fresh, nodeSpec{version: v, repo: repoURL(v)})
	var names []string
	for _, x := range g {
		names = append(names, x.field.Name)
	}
	for _, want := range []string{"swap", "/etc/fstab swap", "module br_netfilter", "net.ipv4.ip_forward", "containerd", "repository", "kubelet", "kubelet.service"} {
		if !strings.Contains(","+strings.Join(names, ",")+",", ","+want+",") {
			t.Errorf("fresh node: no gap %q in %v", want, names)
		}
	}
	// A kernel with overlay and br_netfilter built in: /proc/modules does
	// not list them (here it does not even exist), modules.builtin does.
	builtin := parseFacts(strings.Replace(prepared.sectionsText(), "@@ /proc/modules\noverlay 151552 0 - Live 0x0\nbr_netfilter 32768 0 - Live 0x0\n",
		"@@ /proc/modules\n@@ builtin\nkernel/fs/overlayfs/overlay.ko\nkernel/net/bridge/br_netfilter.ko\nkernel/net/bridge/bridge.ko\n", 1))
	if g, c := gaps(builtin, nodeSpec{version: v, repo: repoURL(v)}); len(g) != 0 || c != "" {
		t.Errorf("a prepared node whose kernel has the modules built in has gaps %+v %q", g, c)
	}
	other := parseFacts(strings.Replace(prepared.sectionsText(), "kubelet 1.31.4-1.1 hi", "kubelet 1.30.2-1.1 hi", 1) + "@@ joined\nyes\n")
	if _, c := gaps(other, nodeSpec{version: v, repo: repoURL(v)}); !strings.Contains(c, "kubelet 1.30.2-1.1 is installed on a node that already joined") {
		t.Errorf("a joined node at another version: %q", c)
	}
}

// sectionsText writes facts back in the facts script's form.
func (f nodeFacts) sectionsText() string {
	var b strings.Builder
	for _, name := range []string{"/proc/swaps", "/etc/fstab", "/proc/modules", ModulesFile, SysctlFile, ContainerdFile, RepoFile, "sysctl", "packages", "holds", "keyring", "units"} {
		b.WriteString("@@ " + name + "\n" + f.sections[name])
	}
	return b.String()
}

func TestMembers(t *testing.T) {
	out := `{"header":{"cluster_id":1,"member_id":2,"raft_term":3},"members":[` +
		`{"ID":10276657743932975437,"name":"master-1","peerURLs":["https://10.0.0.11:2380"],"clientURLs":["https://10.0.0.11:2379"]},` +
		`{"ID":1234,"peerURLs":["https://10.0.0.12:2380"],"isLearner":true}]}`
	members, err := parseMembers(out)
	if err != nil || len(members) != 2 {
		t.Fatalf("parseMembers: %v %+v", err, members)
	}
	if s := members[1].String(); s != "https://10.0.0.12:2380 (4d2, not started)" {
		t.Errorf("member string %q", s)
	}
	masters := []*inventory.Guest{{Name: "master-1"}, {Name: "master-2"}}
	if p := memberProblem(members, masters, nil); !strings.Contains(p, "not started") {
		t.Errorf("an unstarted learner passes: %q", p)
	}
	members[1] = member{ID: 1234, Name: "master-2", PeerURLs: []string{"https://10.0.0.12:2380"}, ClientURLs: []string{"https://10.0.0.12:2379"}}
	if p := memberProblem(members, masters, nil); p != "" {
		t.Errorf("healthy members: %q", p)
	}
	if p := memberProblem(members[:1], masters, nil); !strings.Contains(p, "1 members, not 2") {
		t.Errorf("a missing member: %q", p)
	}
	if _, err := parseMembers("Error from server (NotFound): pods \"etcd-x\" not found"); err == nil {
		t.Error("not JSON parsed")
	}
}

func TestParseNodes(t *testing.T) {
	nodes := parseNodes("master-1   Ready      control-plane   5m    v1.31.4\nworker-1   NotReady   <none>          10s   v1.31.4\n")
	if nodes["master-1"] != "Ready" || nodes["worker-1"] != "NotReady" {
		t.Errorf("parseNodes: %v", nodes)
	}
}

func TestKubeconfigServer(t *testing.T) {
	admin := "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: Q0EK\n    server: https://10.0.0.11:6443\n  name: kubernetes\nusers:\n- name: kubernetes-admin\n  user:\n    client-key-data: S0VZ\n"
	got, err := withServer([]byte(admin), "https://k8s-api.lab.example:6443")
	if err != nil || !strings.Contains(string(got), "server: https://k8s-api.lab.example:6443") || !strings.Contains(string(got), "client-key-data: S0VZ") {
		t.Fatalf("withServer: %v\n%s", err, got)
	}
	if !sameCluster([]byte(admin), got) {
		t.Error("the same CA is not the same cluster")
	}
	if sameCluster([]byte(strings.Replace(admin, "Q0EK", "T1RIRVIK", 1)), got) || sameCluster([]byte("not: [a kubeconfig"), got) {
		t.Error("another CA or no kubeconfig counts as the same cluster")
	}
	if _, err := withServer([]byte("apiVersion: v1\n"), "https://x:6443"); err == nil {
		t.Error("a kubeconfig without clusters was accepted")
	}
}

func TestRedactor(t *testing.T) {
	var out bytes.Buffer
	r := &redactor{w: &out, secrets: []string{"abcdef.0123456789abcdef", "deadbeef"}}
	r.Write([]byte("kubeadm join x --token abcdef.01234"))
	r.Write([]byte("56789abcdef --certificate-key dead"))
	r.Write([]byte("beef\nlast line without newline"))
	r.Flush()
	if got := out.String(); got != "kubeadm join x --token *** --certificate-key ***\nlast line without newline\n" {
		t.Errorf("redacted: %q", got)
	}
}

func TestCredentialsRenewal(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	c := newCredentials(func() time.Time { return now })
	if !tokenRE.MatchString(c.token) || len(c.key) != 64 {
		t.Fatalf("token %q key %q", c.token, c.key)
	}
	if fresh, tok := c.tokenFresh(); fresh || tok != c.token {
		t.Fatal("a token never created is fresh")
	}
	c.tokenCreated()
	c.certsUploaded()
	first, firstKey := c.token, c.key
	now = now.Add(90 * time.Minute)
	if fresh, _ := c.tokenFresh(); !fresh {
		t.Fatal("a 90-minute-old token is not fresh")
	}
	if fresh, _ := c.certsFresh(); !fresh {
		t.Fatal("a 90-minute-old upload is not fresh")
	}
	now = now.Add(20 * time.Minute)
	fresh, tok := c.tokenFresh()
	if fresh || tok == first {
		t.Fatalf("a token with 10 minutes left is reused: %v", fresh)
	}
	fresh, key := c.certsFresh()
	if fresh || key == firstKey {
		t.Fatal("an upload with 10 minutes left is reused")
	}
	secrets := strings.Join(c.secrets(), " ")
	for _, s := range []string{first, firstKey, tok, key} {
		if !strings.Contains(secrets, s) {
			t.Errorf("secret %s is no longer redacted", s)
		}
	}
}

// A node that does not answer is waited for once per plan: the next steps
// on it are planned as on a fresh node without dialing again, and the
// steps of a node that answers still look.
func TestObserveWaitsOncePerSilentNode(t *testing.T) {
	dials := map[string]int{}
	var mu sync.Mutex
	dial := func(node string) (remote.Host, error) {
		mu.Lock()
		dials[node]++
		mu.Unlock()
		return nil, step.Retryable(errors.New("ssh " + node + ": connection refused"))
	}
	reach := nodes{dial: dial, silence: &remote.Silence{}}
	intent := step.Change{Action: step.Create}
	for i := 0; i < 3; i++ {
		c, err := observeOn(context.Background(), reach, "master-2", intent, func(context.Context, remote.Host) (step.Change, error) {
			t.Fatal("looked at a node that did not answer")
			return step.Change{}, nil
		})
		if err != nil || c.Action != step.Create || !c.Fresh || !strings.Contains(c.Reason, "master-2 does not answer SSH yet") {
			t.Fatalf("observe %d: %+v %v", i, c, err)
		}
	}
	if dials["master-2"] != 1 {
		t.Errorf("dialed master-2 %d times", dials["master-2"])
	}
	var nilSilence *remote.Silence
	if nilSilence.Quiet("x") {
		t.Error("a nil Silence remembers")
	}
	nilSilence.Mark("x")
	s := &remote.Silence{For: time.Nanosecond}
	s.Mark("x")
	time.Sleep(time.Millisecond)
	if s.Quiet("x") {
		t.Error("silence outlived For")
	}
}

// A node the hypervisor does not run is planned as fresh without dialing
// it; one it runs, or one it cannot tell about, is looked at.
func TestObserveAsksTheHypervisorFirst(t *testing.T) {
	dials := 0
	dial := func(string) (remote.Host, error) {
		dials++
		return nil, step.Retryable(errors.New("connection refused"))
	}
	for _, tc := range []struct {
		name    string
		running func(context.Context, string) (bool, error)
		dials   int
	}{
		{"not running", func(context.Context, string) (bool, error) { return false, nil }, 0},
		{"running", func(context.Context, string) (bool, error) { return true, nil }, 1},
		{"cannot tell", func(context.Context, string) (bool, error) { return false, errors.New("401 no ticket") }, 1},
	} {
		dials = 0
		reach := nodes{dial: dial, silence: &remote.Silence{}, running: tc.running}
		c, err := observeOn(context.Background(), reach, "worker-1", step.Change{Action: step.Create}, func(context.Context, remote.Host) (step.Change, error) {
			return step.Change{Action: step.None}, nil
		})
		if err != nil || !c.Fresh || dials != tc.dials {
			t.Errorf("%s: %+v %v, %d dials, want %d", tc.name, c, err, dials, tc.dials)
		}
	}
}

// A look on a node that fails because another host (master1, asked for
// the cluster's view) did not answer plans the step as fresh but leaves
// the node itself unsilenced: the next look dials it again. Its own
// silence is remembered.
func TestObserveSilencesOnlyTheNodeThatDidNotAnswer(t *testing.T) {
	dials := 0
	dial := func(string) (remote.Host, error) { dials++; return nil, nil }
	reach := nodes{dial: dial, silence: &remote.Silence{}}
	for _, tc := range []struct {
		host   string
		silent bool
	}{{"master-1", false}, {"master-2", true}} {
		dials = 0
		for i := 0; i < 2; i++ {
			c, err := observeOn(context.Background(), reach, "master-2", step.Change{Action: step.Create}, func(context.Context, remote.Host) (step.Change, error) {
				return step.Change{}, &remote.ConnectError{Host: tc.host, Attempts: 3, Last: errors.New("handshake failed: EOF")}
			})
			if err != nil || !c.Fresh {
				t.Fatalf("%s did not answer: %+v %v", tc.host, c, err)
			}
		}
		if want := map[bool]int{false: 2, true: 1}[tc.silent]; dials != want || reach.silence.Quiet("master-2") != tc.silent {
			t.Errorf("%s did not answer: master-2 dialed %d times (want %d), silent %t", tc.host, dials, want, reach.silence.Quiet("master-2"))
		}
	}
}

// A mirror's repository replaces pkgs.k8s.io's; preinstalled binaries
// are checked, never installed.
func TestGapsPackageSources(t *testing.T) {
	v := Version{Major: 1, Minor: 34, Patch: 2}
	const common = "@@ /proc/swaps\nFilename\tType\tSize\tUsed\tPriority\n" +
		"@@ /proc/modules\noverlay 151552 0 - Live 0x0\nbr_netfilter 32768 0 - Live 0x0\n" +
		"@@ sysctl\nnet.bridge.bridge-nf-call-iptables=1\nnet.bridge.bridge-nf-call-ip6tables=1\nnet.ipv4.ip_forward=1\n" +
		"@@ units\ncontainerd=active\nkubelet=enabled\n"
	files := "@@ " + ModulesFile + "\n" + string(modulesConf()) + "@@ " + SysctlFile + "\n" + string(sysctlConf()) +
		"@@ " + ContainerdFile + "\n  SystemdCgroup = true\n  sandbox_image = \"registry.k8s.io/pause:3.10.1\"\n@@ packages\ncontainerd 1.6.20~ds1-1+b1 ii\n"
	mirror := specFor(&inventory.Kubernetes{Packages: inventory.Packages{Source: inventory.PackagesMirror,
		Repository: "http://mirror.test.example/apt/", KeyURL: "http://mirror.test.example/apt/Release.key"}}, v)
	g, c := gaps(parseFacts(common+files+"@@ "+RepoFile+"\n"+string(repoList(repoURL(v)))+"@@ keyring\npresent\n"), mirror)
	if c != "" || len(g) == 0 || g[0].field.Name != "repository" || g[0].field.New != "http://mirror.test.example/apt/" {
		t.Errorf("a node with pkgs.k8s.io's list, for a mirror: %+v %q", g, c)
	}
	if !strings.Contains(string(repoList(mirror.repo)), "deb [signed-by="+RepoKeyring+"] http://mirror.test.example/apt/ /\n") {
		t.Errorf("mirror list: %s", repoList(mirror.repo))
	}

	pre := specFor(&inventory.Kubernetes{Packages: inventory.Packages{Source: inventory.PackagesPreinstalled}}, v)
	if !strings.Contains(pre.extraFacts(), "kubeadm version -o short") {
		t.Errorf("preinstalled facts do not ask the binaries: %s", pre.extraFacts())
	}
	binaries := "@@ kubelet\nKubernetes v1.34.2\n@@ kubeadm\nv1.34.2\n@@ kubectl\nClient Version: v1.34.2\nKustomize Version: v5.7.1\n"
	for _, tt := range []struct {
		name, facts, conflict string
		gaps                  int
	}{
		{"all there", common + files + binaries, "", 0},
		{"kubelet not enabled", strings.Replace(common, "kubelet=enabled", "kubelet=disabled", 1) + files + binaries, "", 1},
		{"kubeadm missing", common + files + strings.Replace(binaries, "v1.34.2\n@@ kubectl", "@@ kubectl", 1), "kubeadm does not answer with its version", 0},
		{"kubectl another version", common + files + strings.Replace(binaries, "Client Version: v1.34.2", "Client Version: v1.33.1", 1), "kubectl is v1.33.1, not v1.34.2", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g, c := gaps(parseFacts(tt.facts), pre)
			if len(g) != tt.gaps || !strings.Contains(c, tt.conflict) || (tt.conflict == "") != (c == "") {
				t.Errorf("gaps %+v, conflict %q; want %d gaps, conflict %q", g, c, tt.gaps, tt.conflict)
			}
			for _, x := range g {
				if x.field.Name == "repository" || x.field.Name == "kubelet" {
					t.Errorf("preinstalled: a gap installs %s", x.field.Name)
				}
			}
		})
	}
}

// containerd's sandbox_image is the pause image kubeadm uses (seen on the
// e2e lab: Debian's containerd keeps registry.k8s.io/pause:3.6, which an
// air-gapped node cannot pull, and every pod sandbox failed).
func TestSandboxImage(t *testing.T) {
	def := "  [plugins.\"io.containerd.grpc.v1.cri\"]\n    restrict_oom_score_adj = false\n    sandbox_image = \"registry.k8s.io/pause:3.6\"\n    selinux_category_range = 1024\n"
	if got := sandboxImage(def); got != "registry.k8s.io/pause:3.6" {
		t.Fatalf("sandboxImage: %q", got)
	}
	set, err := withSandboxImage(def, "mirror.example:5000/k8s/pause:3.10.1")
	if err != nil || sandboxImage(set) != "mirror.example:5000/k8s/pause:3.10.1" || !strings.Contains(set, "\n    sandbox_image = \"mirror.example:5000/k8s/pause:3.10.1\"\n    selinux") {
		t.Fatalf("withSandboxImage: %v\n%s", err, set)
	}
	if _, err := withSandboxImage("version = 2\n", "x"); err == nil {
		t.Error("a config without the setting was accepted")
	}
	for _, tt := range []struct {
		repo  string
		minor int
		want  string
	}{{"", 34, "registry.k8s.io/pause:3.10.1"}, {"", 31, "registry.k8s.io/pause:3.10"}, {"", 29, "registry.k8s.io/pause:3.9"}, {"mirror.example/k8s", 34, "mirror.example/k8s/pause:3.10.1"}} {
		if got := specFor(&inventory.Kubernetes{ImageRepository: tt.repo}, Version{Major: 1, Minor: tt.minor}).sandbox; got != tt.want {
			t.Errorf("1.%d from %q: sandbox %q, want %q", tt.minor, tt.repo, got, tt.want)
		}
	}
	facts := parseFacts("@@ " + ContainerdFile + "\n  SystemdCgroup = true\n" + def + "@@ packages\ncontainerd 1.6.20~ds1-1+b1 ii\n@@ units\ncontainerd=active\n")
	spec := specFor(&inventory.Kubernetes{}, Version{Major: 1, Minor: 34, Patch: 2})
	g, _ := gaps(facts, spec)
	found := false
	for _, x := range g {
		if x.field.Name == "containerd sandbox_image" {
			found = x.field.Old == "registry.k8s.io/pause:3.6" && x.field.New == "registry.k8s.io/pause:3.10.1" && x.fix == "containerd"
		}
	}
	if !found {
		t.Errorf("Debian's default sandbox_image: gaps %+v", g)
	}
}

func TestRestrictOOMScoreAdj(t *testing.T) {
	def := "  [plugins.\"io.containerd.grpc.v1.cri\"]\n    restrict_oom_score_adj = false\n    sandbox_image = \"registry.k8s.io/pause:3.6\"\n"
	if restrictOOMScoreAdj(def) {
		t.Fatal("the default read as restricted")
	}
	on, err := withRestrictOOMScoreAdj(def, true)
	if err != nil || !restrictOOMScoreAdj(on) || !strings.Contains(on, "\n    restrict_oom_score_adj = true\n    sandbox_image") {
		t.Fatalf("on: %v\n%s", err, on)
	}
	if off, _ := withRestrictOOMScoreAdj(on, false); off != def {
		t.Errorf("off again:\n%s", off)
	}
	if _, err := withRestrictOOMScoreAdj("version = 2\n", true); err == nil {
		t.Error("a config without the setting was accepted")
	}
	facts := func(config string) nodeFacts {
		return parseFacts("@@ " + ContainerdFile + "\n" + config + "@@ packages\ncontainerd 1.6.20~ds1-1+b1 ii\n@@ units\ncontainerd=active\n")
	}
	sys := "SystemdCgroup = true\n"
	v := Version{Major: 1, Minor: 34, Patch: 2}
	has := func(f nodeFacts, s nodeSpec) bool {
		g, _ := gaps(f, s)
		for _, x := range g {
			if x.field.Name == "containerd restrict_oom_score_adj" {
				return true
			}
		}
		return false
	}
	if !has(facts(sys+def), nodeSpec{version: v, restrictOOM: true}) || has(facts(sys+on), nodeSpec{version: v, restrictOOM: true}) ||
		has(facts(sys+def), nodeSpec{version: v}) || !has(facts(sys+on), nodeSpec{version: v}) {
		t.Error("restrict_oom_score_adj gaps are wrong")
	}
}
