package kubeadm

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/homelabctl/homelab/pkg/apt"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/kubeversion"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/step"
)

// Files the prepare step writes, and the repository it adds.
const (
	ModulesFile    = "/etc/modules-load.d/k8s.conf"
	SysctlFile     = "/etc/sysctl.d/99-kubernetes.conf"
	ContainerdFile = "/etc/containerd/config.toml"
	RepoFile       = "/etc/apt/sources.list.d/kubernetes.list"
	RepoKeyring    = "/etc/apt/keyrings/kubernetes-apt-keyring.gpg"
)

// kubePackages are installed at the inventory's version and held there.
var kubePackages = []string{"kubelet", "kubeadm", "kubectl"}

// sysctls are the kernel settings the kubelet and kube-proxy need.
var sysctls = []string{"net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables", "net.ipv4.ip_forward"}

// modules are the kernel modules containerd and the bridge sysctls need.
var modules = []string{"overlay", "br_netfilter"}

const managed = "# managed by homelab: the Kubernetes node preparation\n"

func modulesConf() []byte { return []byte(managed + strings.Join(modules, "\n") + "\n") }

func sysctlConf() []byte {
	var b strings.Builder
	b.WriteString(managed)
	for _, k := range sysctls {
		b.WriteString(k + " = 1\n")
	}
	return []byte(b.String())
}

// repoURL is the upstream package repository of a Kubernetes minor.
func repoURL(v kubeversion.Version) string {
	return "https://pkgs.k8s.io/core:/stable:/v" + v.MinorString() + "/deb/"
}

func repoList(repo string) []byte {
	return []byte(fmt.Sprintf("%sdeb [signed-by=%s] %s /\n", managed, RepoKeyring, repo))
}

// nodeSpec is what node preparation makes of every node, from the
// inventory's kubernetes section.
type nodeSpec struct {
	version kubeversion.Version
	// source is kubernetes.packages.source; repo and keyURL the
	// repository and its key (the minor's on pkgs.k8s.io, or the mirror's).
	source, repo, keyURL string
	// archives are kubernetes.image_archives with the image each holds.
	archives []imageArchive
	// restrictOOM is containerd.restrict_oom_score_adj.
	restrictOOM bool
	// failCgroupV1 is kubernetes.kubelet.fail_cgroup_v1 (nil: the
	// kubelet's default).
	failCgroupV1 *bool
	// sandbox is the pause image kubeadm uses for this version and image
	// repository: containerd's CRI sandbox_image must name it, or every
	// pod sandbox pulls containerd's own default (Debian 12's containerd:
	// registry.k8s.io/pause:3.6), which an air-gapped node cannot.
	sandbox string
}

// pauseVersion is the pause image tag kubeadm of minor uses
// (constants.PauseVersion; `kubeadm config images list`): 3.10.1 up to
// 1.35, 3.10.2 from 1.36 (cmd/kubeadm/app/constants of v1.34.2, v1.35.4,
// v1.36.3 and v1.37.2).
func pauseVersion(minor int) string {
	if minor >= 36 {
		return "3.10.2"
	}
	return "3.10.1"
}

// pauseImage is the pause image kubeadm v uses from repository ("":
// registry.k8s.io, kubeadm's default).
func pauseImage(repository string, v kubeversion.Version) string {
	if repository == "" {
		repository = "registry.k8s.io"
	}
	return repository + "/pause:" + pauseVersion(v.Minor)
}

// FailCgroupV1DefaultMinor is the first Kubernetes minor whose kubelet
// refuses to start on cgroup v1 unless failCgroupV1 is false (the
// default turned true: pkg/kubelet/apis/config/v1beta1/defaults.go).
const FailCgroupV1DefaultMinor = 35

// kubeletFailsCgroupV1 reports whether the kubelet s installs, with the
// inventory's failCgroupV1, refuses a cgroup v1 node.
func (s nodeSpec) kubeletFailsCgroupV1() bool {
	if s.failCgroupV1 != nil {
		return *s.failCgroupV1
	}
	return s.version.Minor >= FailCgroupV1DefaultMinor
}

// cgroupV1 reports whether the node runs the cgroup v1 hierarchy.
func (f nodeFacts) cgroupV1() bool { return strings.TrimSpace(f.sections["cgroup"]) == "v1" }

// imageArchive is an image archive's URL and the image it holds.
type imageArchive struct{ url, image string }

// specFor is the node preparation k asks for.
func specFor(k *inventory.Kubernetes, v kubeversion.Version) nodeSpec {
	s := nodeSpec{version: v, source: k.Packages.Source, repo: repoURL(v), keyURL: repoURL(v) + "Release.key",
		restrictOOM: k.Containerd.RestrictOOMScoreAdj, failCgroupV1: k.Kubelet.FailCgroupV1, sandbox: pauseImage(k.ImageRepository, v)}
	switch s.source {
	case inventory.PackagesMirror:
		s.repo, s.keyURL = k.Packages.Repository, k.Packages.KeyURL
	case "":
		s.source = inventory.PackagesUpstream
	}
	for _, u := range k.ImageArchives {
		// Validation checked every name.
		image, _ := inventory.ArchiveImage(u, k.ImageRepository)
		s.archives = append(s.archives, imageArchive{url: u, image: image})
	}
	return s
}

func (s nodeSpec) preinstalled() bool { return s.source == inventory.PackagesPreinstalled }

// extraFacts are the sections the facts script reads for s beyond the
// common ones: the binaries' own versions when they are preinstalled.
func (s nodeSpec) extraFacts() string {
	var b strings.Builder
	if s.preinstalled() {
		b.WriteString("echo \"@@ kubelet\"; kubelet --version 2>/dev/null\n")
		b.WriteString("echo \"@@ kubeadm\"; kubeadm version -o short 2>/dev/null\n")
		b.WriteString("echo \"@@ kubectl\"; kubectl version --client 2>/dev/null\n")
	}
	if len(s.archives) > 0 {
		b.WriteString("echo \"@@ images\"; ctr -n k8s.io images ls -q 2>/dev/null\n")
	}
	return b.String()
}

// image reports whether containerd's k8s.io namespace has image.
func (f nodeFacts) image(image string) bool {
	for _, l := range f.lines("images") {
		if strings.TrimSpace(l) == image {
			return true
		}
	}
	return false
}

// binaryVersion is the version a preinstalled binary reports: `kubelet
// --version` says "Kubernetes v1.34.2", `kubeadm version -o short`
// "v1.34.2", `kubectl version --client` "Client Version: v1.34.2" (and
// Kustomize's).
func (f nodeFacts) binaryVersion(name string) string {
	for _, l := range f.lines(name) {
		fs := strings.Fields(l)
		switch {
		case len(fs) == 0:
		case name == "kubelet" && len(fs) == 2 && fs[0] == "Kubernetes":
			return fs[1]
		case name == "kubeadm" && len(fs) == 1:
			return fs[0]
		case name == "kubectl" && len(fs) == 3 && fs[0] == "Client" && fs[1] == "Version:":
			return fs[2]
		}
	}
	return ""
}

// packageVersion is the upstream Debian package version of v.
func packageVersion(v kubeversion.Version) string { return v.Bare() + "-1.1" }

// factsScript reads what node preparation looks at, in sections. It only
// reads.
const factsScript = `for f in /proc/swaps /etc/fstab /proc/modules ` + ModulesFile + ` ` + SysctlFile + ` ` + ContainerdFile + ` ` + RepoFile + `; do
  echo "@@ $f"; cat "$f" 2>/dev/null
done
echo "@@ builtin"
cat "/lib/modules/$(uname -r)/modules.builtin" 2>/dev/null
echo "@@ sysctl"
for k in ` + "net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables net.ipv4.ip_forward" + `; do echo "$k=$(sysctl -n "$k" 2>/dev/null)"; done
echo "@@ packages"
dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\n' containerd kubelet kubeadm kubectl 2>/dev/null
echo "@@ holds"
apt-mark showhold
echo "@@ keyring"
test -s ` + RepoKeyring + ` && echo present
echo "@@ units"
echo "containerd=$(systemctl is-active containerd)"
echo "kubelet=$(systemctl is-enabled kubelet 2>/dev/null)"
echo "@@ joined"
test -f /etc/kubernetes/kubelet.conf && echo yes
echo "@@ cgroup"
test -f /sys/fs/cgroup/cgroup.controllers && echo v2 || echo v1
true
`

// nodeFacts is what a node's preparation looked at.
type nodeFacts struct {
	sections map[string]string
}

// factsFor is the script that gathers what preparing a node of spec s
// looks at.
func factsFor(s nodeSpec) string {
	return strings.TrimSuffix(factsScript, "true\n") + s.extraFacts() + "true\n"
}

func readFacts(ctx context.Context, h remote.Host, s nodeSpec) (nodeFacts, error) {
	out, err := run(ctx, h, command{script: factsFor(s)})
	if err != nil {
		return nodeFacts{}, err
	}
	return parseFacts(out), nil
}

func parseFacts(out string) nodeFacts {
	f := nodeFacts{sections: map[string]string{}}
	name := ""
	for _, line := range strings.SplitAfter(out, "\n") {
		if s, ok := strings.CutPrefix(line, "@@ "); ok {
			name = strings.TrimSpace(s)
			continue
		}
		f.sections[name] += line
	}
	return f
}

func (f nodeFacts) lines(section string) []string {
	return strings.Split(strings.TrimSpace(f.sections[section]), "\n")
}

// swapOn lists the active swap areas.
func (f nodeFacts) swapOn() []string {
	var on []string
	for _, l := range f.lines("/proc/swaps")[1:] {
		if fs := strings.Fields(l); len(fs) > 0 {
			on = append(on, fs[0])
		}
	}
	return on
}

// commentSwap returns fstab with its swap lines commented out, and
// whether there were any.
func commentSwap(fstab string) (string, bool) {
	lines := strings.SplitAfter(fstab, "\n")
	found := false
	for i, l := range lines {
		fs := strings.Fields(l)
		if len(fs) >= 3 && !strings.HasPrefix(fs[0], "#") && fs[2] == "swap" {
			lines[i] = "# swap off for the kubelet (homelab): " + l
			found = true
		}
	}
	return strings.Join(lines, ""), found
}

// loaded reports whether a kernel module is loaded.
//
// A module built into the kernel (modules.builtin of the running kernel
// lists it, as kubeadm's preflight reads it) counts as loaded: /proc/modules
// never lists it, and modprobe has nothing to load.
func (f nodeFacts) loaded(module string) bool {
	for _, l := range f.lines("/proc/modules") {
		if strings.HasPrefix(l, module+" ") {
			return true
		}
	}
	for _, l := range f.lines("builtin") {
		base := strings.TrimSuffix(l[strings.LastIndex(l, "/")+1:], ".ko")
		if strings.ReplaceAll(base, "-", "_") == module {
			return true
		}
	}
	return false
}

func (f nodeFacts) sysctl(key string) string {
	for _, l := range f.lines("sysctl") {
		if v, ok := strings.CutPrefix(l, key+"="); ok {
			return v
		}
	}
	return ""
}

// installed returns a package's version when dpkg has it installed.
func (f nodeFacts) installed(pkg string) (string, bool) {
	for _, l := range f.lines("packages") {
		fs := strings.Fields(l)
		// db:Status-Abbrev: the wanted action (i install, h hold), then
		// the state (i installed).
		if len(fs) == 3 && fs[0] == pkg && len(fs[2]) >= 2 && fs[2][1] == 'i' {
			return fs[1], true
		}
	}
	return "", false
}

func (f nodeFacts) held(pkg string) bool {
	for _, l := range f.lines("holds") {
		if strings.TrimSpace(l) == pkg {
			return true
		}
	}
	return false
}

func (f nodeFacts) unit(name string) string {
	for _, l := range f.lines("units") {
		if v, ok := strings.CutPrefix(l, name+"="); ok {
			return v
		}
	}
	return ""
}

// systemdCgroup reports whether containerd's runc runtime uses the systemd
// cgroup driver, as the kubelet does.
func systemdCgroup(config string) bool {
	for _, l := range strings.Split(config, "\n") {
		if strings.Join(strings.Fields(l), " ") == "SystemdCgroup = true" {
			return true
		}
	}
	return false
}

// useSystemdCgroup turns SystemdCgroup on in containerd's default config.
func useSystemdCgroup(config string) (string, error) {
	out, n := []string{}, 0
	for _, l := range strings.SplitAfter(config, "\n") {
		if strings.Join(strings.Fields(l), " ") == "SystemdCgroup = false" {
			l = strings.Replace(l, "false", "true", 1)
			n++
		}
		out = append(out, l)
	}
	if n == 0 {
		return "", fmt.Errorf("containerd's default configuration has no SystemdCgroup setting to turn on")
	}
	return strings.Join(out, ""), nil
}

// prepareFields are a prepare step's intent on a fresh node.
func prepareFields(k *inventory.Kubernetes, v kubeversion.Version) []step.Field {
	fields := []step.Field{step.Set("kubernetes", v.Bare()), step.Set("containerd", "SystemdCgroup = true")}
	if k.Containerd.RestrictOOMScoreAdj {
		fields = append(fields, step.Set("containerd restrict_oom_score_adj", "true"))
	}
	if n := len(k.ImageArchives); n > 0 {
		fields = append(fields, step.Set("image archives", fmt.Sprintf("%d imported into containerd (k8s.io): %s", n, strings.Join(k.ImageArchives, ", "))))
	}
	switch p := k.Packages; p.Source {
	case inventory.PackagesMirror:
		fields = append(fields, step.Set("packages", "mirror "+p.Repository+" (key "+p.KeyURL+")"))
	case inventory.PackagesPreinstalled:
		fields = append(fields, step.Set("packages", "preinstalled: kubelet, kubeadm, kubectl checked at "+v.String()+", nothing installed"))
	}
	return fields
}

// restrictOOMScoreAdj returns the CRI plugin's restrict_oom_score_adj in
// containerd's config (containerd 1.6: [plugins."io.containerd.grpc.v1.cri"]
// restrict_oom_score_adj; false when absent).
func restrictOOMScoreAdj(config string) bool {
	for _, l := range strings.Split(config, "\n") {
		if strings.Join(strings.Fields(l), " ") == "restrict_oom_score_adj = true" {
			return true
		}
	}
	return false
}

// withRestrictOOMScoreAdj sets restrict_oom_score_adj in containerd's
// config, where its default configuration has it.
func withRestrictOOMScoreAdj(config string, on bool) (string, error) {
	lines, n := strings.SplitAfter(config, "\n"), 0
	for i, l := range lines {
		if k, _, ok := strings.Cut(strings.TrimSpace(l), "="); ok && strings.TrimSpace(k) == "restrict_oom_score_adj" {
			indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
			lines[i] = fmt.Sprintf("%srestrict_oom_score_adj = %t\n", indent, on)
			n++
		}
	}
	if n == 0 {
		return "", fmt.Errorf("containerd's configuration has no restrict_oom_score_adj setting (containerd 1.6's CRI plugin has one)")
	}
	return strings.Join(lines, ""), nil
}

// sandboxImage returns the CRI plugin's sandbox_image in containerd's
// config ("" when absent).
func sandboxImage(config string) string {
	for _, l := range strings.Split(config, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok && strings.TrimSpace(k) == "sandbox_image" {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

// withSandboxImage sets sandbox_image in containerd's config, where its
// default configuration has it.
func withSandboxImage(config, image string) (string, error) {
	lines, n := strings.SplitAfter(config, "\n"), 0
	for i, l := range lines {
		if k, _, ok := strings.Cut(strings.TrimSpace(l), "="); ok && strings.TrimSpace(k) == "sandbox_image" {
			indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
			lines[i] = fmt.Sprintf("%ssandbox_image = %q\n", indent, image)
			n++
		}
	}
	if n == 0 {
		return "", fmt.Errorf("containerd's configuration has no sandbox_image setting (containerd 1.6's CRI plugin has one)")
	}
	return strings.Join(lines, ""), nil
}

// gap is one thing node preparation must still do.
type gap struct {
	field step.Field
	fix   string // which part of the apply fixes it
}

// gaps lists what the node lacks. A node whose kubelet already joined a
// cluster at another version is a conflict: upgrades are kubeadm
// upgrade's job, not homelab's.
func gaps(f nodeFacts, s nodeSpec) ([]gap, string) {
	v := s.version
	if f.cgroupV1() && s.kubeletFailsCgroupV1() {
		why := "kubernetes.kubelet.fail_cgroup_v1 is true"
		if s.failCgroupV1 == nil {
			why = fmt.Sprintf("its failCgroupV1 defaults to true from %d.%d", v.Major, FailCgroupV1DefaultMinor)
		}
		return nil, fmt.Sprintf("the node runs cgroup v1 (no /sys/fs/cgroup/cgroup.controllers), where the kubelet of Kubernetes %s refuses to start (%s): set kubernetes.kubelet.fail_cgroup_v1: false, or boot the node with cgroup v2", v.MinorString(), why)
	}
	var out []gap
	add := func(name, old, want, fix string) {
		out = append(out, gap{field: step.Field{Name: name, Old: old, New: want}, fix: fix})
	}
	if on := f.swapOn(); len(on) > 0 {
		add("swap", strings.Join(on, ","), "off", "swap")
	}
	if _, ok := commentSwap(f.sections["/etc/fstab"]); ok {
		add("/etc/fstab swap", "mounted at boot", "commented out", "swap")
	}
	for _, m := range modules {
		if !f.loaded(m) {
			add("module "+m, "not loaded", "loaded", "kernel")
		}
	}
	if f.sections[ModulesFile] != string(modulesConf()) {
		add(ModulesFile, "", strings.Join(modules, ","), "kernel")
	}
	if f.sections[SysctlFile] != string(sysctlConf()) {
		add(SysctlFile, "", "bridge-nf-call-ip(6)tables, ip_forward = 1", "kernel")
	}
	for _, k := range sysctls {
		if got := f.sysctl(k); got != "1" {
			add(k, got, "1", "kernel")
		}
	}
	if cv, ok := f.installed("containerd"); !ok {
		add("containerd", "", "installed", "containerd")
	} else if !systemdCgroup(f.sections[ContainerdFile]) {
		add("containerd SystemdCgroup", cv, "true", "containerd")
	} else if got := restrictOOMScoreAdj(f.sections[ContainerdFile]); got != s.restrictOOM {
		add("containerd restrict_oom_score_adj", fmt.Sprint(got), fmt.Sprint(s.restrictOOM), "containerd")
	} else if got := sandboxImage(f.sections[ContainerdFile]); s.sandbox != "" && got != s.sandbox {
		add("containerd sandbox_image", got, s.sandbox, "containerd")
	} else if f.unit("containerd") != "active" {
		add("containerd.service", f.unit("containerd"), "active", "containerd")
	}
	if s.preinstalled() {
		for _, p := range kubePackages {
			switch got := f.binaryVersion(p); {
			case got == "":
				return nil, fmt.Sprintf("packages.source is preinstalled, and %s does not answer with its version (is it installed and on the PATH?); homelab installs nothing", p)
			case got != v.String():
				return nil, fmt.Sprintf("packages.source is preinstalled, and %s is %s, not %s; homelab installs nothing", p, got, v)
			}
		}
		if f.unit("kubelet") != "enabled" {
			add("kubelet.service", f.unit("kubelet"), "enabled", "packages")
		}
		return append(out, imageGaps(f, s)...), ""
	}
	if f.sections[RepoFile] != string(repoList(s.repo)) || !strings.Contains(f.sections["keyring"], "present") {
		add("repository", "", s.repo, "packages")
	}
	want := packageVersion(v)
	for _, p := range kubePackages {
		got, ok := f.installed(p)
		switch {
		case ok && got != want && strings.TrimSpace(f.sections["joined"]) == "yes":
			return nil, fmt.Sprintf("%s %s is installed on a node that already joined a cluster; homelab installs %s on new nodes only (upgrades are kubeadm upgrade's job)", p, got, want)
		case got != want:
			add(p, got, want, "packages")
		case !f.held(p):
			add(p+" hold", "not held", "held", "packages")
		}
	}
	if f.unit("kubelet") != "enabled" {
		add("kubelet.service", f.unit("kubelet"), "enabled", "packages")
	}
	out = append(out, imageGaps(f, s)...)
	return out, ""
}

// imageGaps are the archives whose image containerd does not list.
func imageGaps(f nodeFacts, s nodeSpec) []gap {
	var out []gap
	for _, a := range s.archives {
		if !f.image(a.image) {
			out = append(out, gap{field: step.Field{Name: "image " + a.image, New: "imported from " + a.url}, fix: "images"})
		}
	}
	return out
}

// prepareWork prepares a node: each part only where missing.
type prepareWork struct {
	hosts  nodes
	node   string
	spec   nodeSpec
	intent step.Change
}

func (w prepareWork) Observe(ctx context.Context) (step.Change, error) {
	return observeOn(ctx, w.hosts, w.node, w.intent, func(ctx context.Context, h remote.Host) (step.Change, error) {
		f, err := readFacts(ctx, h, w.spec)
		if err != nil {
			return step.Change{}, err
		}
		missing, conflict := gaps(f, w.spec)
		switch {
		case conflict != "":
			return step.Change{Action: step.Conflict, Reason: conflict}, nil
		case len(missing) == 0:
			return step.Change{Action: step.None}, nil
		}
		c := step.Change{Action: step.Update}
		if _, ok := f.installed("kubelet"); !ok && !w.spec.preinstalled() {
			c.Action = step.Create
		}
		for _, g := range missing {
			c.Fields = append(c.Fields, g.field)
		}
		return c, nil
	})
}

func (w prepareWork) Apply(ctx context.Context, _ step.Change, out io.Writer) error {
	h, err := w.hosts.dial(w.node)
	if err != nil {
		return err
	}
	f, err := readFacts(ctx, h, w.spec)
	if err != nil {
		return err
	}
	missing, conflict := gaps(f, w.spec)
	if conflict != "" {
		return fmt.Errorf("%s: %s", w.node, conflict)
	}
	fix := map[string]bool{}
	for _, g := range missing {
		fix[g.fix] = true
	}
	for _, part := range []struct {
		name string
		do   func(context.Context, remote.Host, nodeFacts, io.Writer) error
	}{{"swap", w.swapOff}, {"kernel", w.kernel}, {"containerd", w.containerd}, {"packages", w.packages}, {"images", w.images}} {
		if !fix[part.name] {
			continue
		}
		if err := part.do(ctx, h, f, out); err != nil {
			return fmt.Errorf("%s: prepare %s: %w", w.node, part.name, err)
		}
	}
	return nil
}

func (w prepareWork) swapOff(ctx context.Context, h remote.Host, f nodeFacts, out io.Writer) error {
	if _, err := run(ctx, h, command{script: "swapoff -a", out: out}); err != nil {
		return err
	}
	if fstab, ok := commentSwap(f.sections["/etc/fstab"]); ok {
		if _, err := h.Sync(ctx, remote.File{Path: "/etc/fstab", Content: []byte(fstab), Mode: 0o644, Owner: "root", Group: "root"}); err != nil {
			return err
		}
		fmt.Fprintln(out, "swap lines of /etc/fstab commented out")
	}
	return nil
}

func (w prepareWork) kernel(ctx context.Context, h remote.Host, f nodeFacts, out io.Writer) error {
	for _, file := range []remote.File{
		{Path: ModulesFile, Content: modulesConf(), Mode: 0o644, Owner: "root", Group: "root"},
		{Path: SysctlFile, Content: sysctlConf(), Mode: 0o644, Owner: "root", Group: "root"},
	} {
		if _, err := h.Sync(ctx, file); err != nil {
			return err
		}
	}
	// Only what is neither loaded nor built in: a kernel with both built
	// in needs no modprobe (nor kmod).
	script := "sysctl --system >/dev/null"
	var load []string
	for _, m := range modules {
		if !f.loaded(m) {
			load = append(load, m)
		}
	}
	if len(load) > 0 {
		script = "modprobe -a " + strings.Join(load, " ") + " && " + script
	}
	_, err := run(ctx, h, command{script: script, out: out})
	return err
}

func (w prepareWork) containerd(ctx context.Context, h remote.Host, f nodeFacts, out io.Writer) error {
	if _, ok := f.installed("containerd"); !ok {
		// Worst case apt.Worst(5 min): cloud-init, the lists, dpkg's lock.
		if _, err := run(ctx, h, command{script: apt.Install(nil, "containerd"), timeout: apt.Worst(5 * time.Minute), out: out}); err != nil {
			return err
		}
	}
	config := f.sections[ContainerdFile]
	if !systemdCgroup(config) || restrictOOMScoreAdj(config) != w.spec.restrictOOM || (w.spec.sandbox != "" && sandboxImage(config) != w.spec.sandbox) {
		if !systemdCgroup(config) {
			def, err := run(ctx, h, command{script: "containerd config default"})
			if err != nil {
				return err
			}
			if config, err = useSystemdCgroup(def); err != nil {
				return err
			}
		}
		config, err := withRestrictOOMScoreAdj(config, w.spec.restrictOOM)
		if err != nil {
			return err
		}
		if w.spec.sandbox != "" {
			if config, err = withSandboxImage(config, w.spec.sandbox); err != nil {
				return err
			}
		}
		if _, err := h.Sync(ctx, remote.File{Path: ContainerdFile, Content: []byte(config), Mode: 0o644, Owner: "root", Group: "root"}); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: SystemdCgroup = true, restrict_oom_score_adj = %t, sandbox_image = %s\n", ContainerdFile, w.spec.restrictOOM, w.spec.sandbox)
	}
	_, err := run(ctx, h, command{script: "systemctl restart containerd", out: out})
	return err
}

func (w prepareWork) packages(ctx context.Context, h remote.Host, _ nodeFacts, out io.Writer) error {
	if w.spec.preinstalled() {
		_, err := run(ctx, h, command{script: "systemctl enable --now kubelet", out: out})
		return err
	}
	// curl and gpg fetch and unpack the repository's key (Kubernetes'
	// install guide); a Debian cloud image may have neither. The key goes
	// through a file, not a pipe: sh has no pipefail, and a failed
	// download must not leave an empty keyring.
	key := w.spec.keyURL
	const download = "/tmp/homelab-kubernetes-release.key"
	// Worst case apt.Worst(5 min) for each install: cloud-init, the
	// lists (empty on a fresh cloud image), dpkg's lock.
	script := apt.Install(nil, "curl", "gpg") +
		"install -d -m 0755 /etc/apt/keyrings && curl -fsSL -o " + download + " " + remote.Quote(key) +
		" && gpg --dearmor --batch --yes -o " + RepoKeyring + " " + download + " && rm -f " + download
	if _, err := run(ctx, h, command{script: script, timeout: apt.Worst(5 * time.Minute), out: out}); err != nil {
		return err
	}
	if _, err := h.Sync(ctx, remote.File{Path: RepoFile, Content: repoList(w.spec.repo), Mode: 0o644, Owner: "root", Group: "root"}); err != nil {
		return err
	}
	var pins []string
	for _, p := range kubePackages {
		pins = append(pins, p+"="+packageVersion(w.spec.version))
	}
	script = apt.UpdateAndInstall([]string{"--allow-change-held-packages"}, pins...) +
		"apt-mark hold " + strings.Join(kubePackages, " ") + " && systemctl enable --now kubelet"
	_, err := run(ctx, h, command{script: script, timeout: apt.Worst(10 * time.Minute), out: out})
	return err
}

// imageDownload is where an image archive is downloaded to, and removed
// from once imported.
const imageDownload = "/tmp/homelab-image-archive.tar"

// images downloads and imports each archive whose image containerd does
// not list, then checks that it lists them all.
func (w prepareWork) images(ctx context.Context, h remote.Host, f nodeFacts, out io.Writer) error {
	for _, a := range w.spec.archives {
		if f.image(a.image) {
			continue
		}
		script := "curl -fsSL -o " + imageDownload + " " + remote.Quote(a.url) +
			" && ctr -n k8s.io images import " + imageDownload + "; rc=$?; rm -f " + imageDownload + "; exit $rc"
		if _, err := run(ctx, h, command{script: script, timeout: 10 * time.Minute, out: out}); err != nil {
			return fmt.Errorf("import %s: %w", a.url, err)
		}
	}
	listed, err := run(ctx, h, command{script: "ctr -n k8s.io images ls -q"})
	if err != nil {
		return err
	}
	have := parseFacts("@@ images\n" + listed)
	for _, a := range w.spec.archives {
		if !have.image(a.image) {
			return fmt.Errorf("%s was imported, but containerd lists no %s: an archive's file name must name the image it holds (<path>_<tag>.tar, see docs/inventory.md)", a.url, a.image)
		}
	}
	return nil
}
