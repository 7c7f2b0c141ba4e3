package kubeadm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/step"
)

// The block homelab owns in a node's /etc/hosts: one line that points the
// endpoint name at master1 (pinned) or at the VIP (flipped). Nothing
// outside it is changed.
const (
	hostsBegin = "# BEGIN homelab: Kubernetes endpoint"
	hostsEnd   = "# END homelab: Kubernetes endpoint"
)

// hostsEntry is what a node's /etc/hosts says of the endpoint name.
type hostsEntry struct {
	ours    netip.Addr // the address in homelab's block; invalid when there is none
	foreign string     // a line outside the block that names the endpoint
}

func readHostsEntry(hosts, name string) hostsEntry {
	var e hostsEntry
	in := false
	for _, line := range strings.Split(hosts, "\n") {
		switch strings.TrimSpace(line) {
		case hostsBegin:
			in = true
			continue
		case hostsEnd:
			in = false
			continue
		}
		code, _, _ := strings.Cut(line, "#")
		f := strings.Fields(code)
		for _, n := range f[min(1, len(f)):] {
			if n != name {
				continue
			}
			if in {
				e.ours, _ = netip.ParseAddr(f[0])
			} else if e.foreign == "" {
				e.foreign = strings.TrimSpace(line)
			}
		}
	}
	return e
}

// withHostsEntry returns hosts with homelab's block pointing name at
// addr, added at the end when missing.
func withHostsEntry(hosts, name string, addr netip.Addr) string {
	block := fmt.Sprintf("%s\n%s %s\n%s\n", hostsBegin, addr, name, hostsEnd)
	var out strings.Builder
	in, done := false, false
	for _, line := range strings.SplitAfter(hosts, "\n") {
		switch strings.TrimSpace(line) {
		case hostsBegin:
			in = true
			continue
		case hostsEnd:
			if in && !done {
				out.WriteString(block)
				done = true
			}
			in = false
			continue
		}
		if !in && line != "" {
			out.WriteString(line)
		}
	}
	s := out.String()
	if !done {
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		s += block
	}
	return s
}

// HostsTemplate is cloud-init's Debian template of /etc/hosts. On a VM
// whose cloud-init has manage_etc_hosts (Proxmox VE's user-data sets it)
// cloud-init renders /etc/hosts from it at every boot, dropping whatever
// else was there: homelab's block goes into the template too, so it
// survives reboots. (A cloud.cfg.d drop-in cannot turn manage_etc_hosts
// off: user-data overrides the system configuration.)
const HostsTemplate = "/etc/cloud/templates/hosts.debian.tmpl"

// hostsWork points the endpoint name at an address in a node's
// /etc/hosts, and in cloud-init's hosts template where the node has one.
// A pin (to master1) leaves a block that exists alone, so a re-run after
// the flip never points a node back at master1; a pin on a node that has
// no block (a new node, or /etc/hosts rewritten) asks the cluster first:
// once kube-proxy was restarted for the VIP (endpointAnnotation, set only
// after the VIP gate passed) the name is pinned to the VIP. A flip (to
// the VIP) moves the block.
type hostsWork struct {
	hosts  nodes
	node   string
	name   string
	addr   netip.Addr
	flip   bool
	intent step.Change
	// vip and behindVIP (pins only) say where the name goes on a node
	// that has no block once the cluster is behind the VIP.
	vip       netip.Addr
	behindVIP func(ctx context.Context) (bool, error)
}

// hostsFiles is what a node's files say of the endpoint name.
type hostsFiles struct {
	hosts, tmpl string
	hasTmpl     bool
	entry       hostsEntry // /etc/hosts
	tmplEntry   hostsEntry // the template
}

func (w hostsWork) read(ctx context.Context, h remote.Host) (hostsFiles, error) {
	b, err := run(ctx, h, command{script: catHosts})
	if err != nil {
		return hostsFiles{}, err
	}
	f := hostsFiles{hosts: b, entry: readHostsEntry(b, w.name)}
	t, err := h.Read(ctx, HostsTemplate)
	switch {
	case err == nil:
		f.tmpl, f.hasTmpl, f.tmplEntry = string(t), true, readHostsEntry(string(t), w.name)
	case !errors.Is(err, os.ErrNotExist):
		return hostsFiles{}, fmt.Errorf("read %s: %w", HostsTemplate, err)
	}
	return f, nil
}

// target is the address the name must have on the node.
func (w hostsWork) target(ctx context.Context, f hostsFiles) (netip.Addr, string, error) {
	switch {
	case w.flip:
		return w.addr, "", nil
	case f.entry.ours.IsValid():
		return f.entry.ours, fmt.Sprintf("already pinned to %s", f.entry.ours), nil
	case f.tmplEntry.ours.IsValid():
		return f.tmplEntry.ours, fmt.Sprintf("pinned to %s in %s", f.tmplEntry.ours, HostsTemplate), nil
	case w.behindVIP != nil:
		behind, err := w.behindVIP(ctx)
		if err != nil {
			return netip.Addr{}, "", err
		}
		if behind {
			return w.vip, "the cluster is already behind the VIP (kube-proxy was restarted for it): pinned to the VIP, not master1", nil
		}
	}
	return w.addr, "", nil
}

func (w hostsWork) Observe(ctx context.Context) (step.Change, error) {
	return observeOn(ctx, w.hosts, w.node, w.intent, func(ctx context.Context, h remote.Host) (step.Change, error) {
		f, err := w.read(ctx, h)
		if err != nil {
			return step.Change{}, err
		}
		return w.change(ctx, f)
	})
}

func (w hostsWork) change(ctx context.Context, f hostsFiles) (step.Change, error) {
	line := func(a netip.Addr) string {
		if !a.IsValid() {
			return ""
		}
		return fmt.Sprintf("%s %s", a, w.name)
	}
	for _, c := range []struct {
		path string
		e    hostsEntry
	}{{"/etc/hosts", f.entry}, {HostsTemplate, f.tmplEntry}} {
		if c.e.foreign != "" {
			return step.Change{Action: step.Conflict, Reason: fmt.Sprintf("%s on %s already names %s outside homelab's block: %q; remove that line so the name can be pinned and moved", c.path, w.node, w.name, c.e.foreign)}, nil
		}
	}
	addr, reason, err := w.target(ctx, f)
	if err != nil {
		return step.Change{}, err
	}
	var fields []step.Field
	if f.entry.ours != addr {
		fields = append(fields, step.Field{Name: "/etc/hosts", Old: line(f.entry.ours), New: line(addr)})
	}
	if f.hasTmpl && f.tmplEntry.ours != addr {
		fields = append(fields, step.Field{Name: HostsTemplate, Old: line(f.tmplEntry.ours), New: line(addr)})
	}
	switch {
	case len(fields) == 0:
		return step.Change{Action: step.None, Reason: reason}, nil
	case !f.entry.ours.IsValid():
		return step.Change{Action: step.Create, Fields: fields, Reason: reason}, nil
	}
	return step.Change{Action: step.Update, Fields: fields, Reason: reason}, nil
}

func (w hostsWork) Apply(ctx context.Context, _ step.Change, out io.Writer) error {
	h, err := w.hosts.dial(w.node)
	if err != nil {
		return err
	}
	f, err := w.read(ctx, h)
	if err != nil {
		return fmt.Errorf("%s: %w", w.node, err)
	}
	c, err := w.change(ctx, f)
	if err != nil {
		return fmt.Errorf("%s: %w", w.node, err)
	}
	switch c.Action {
	case step.None:
		return nil
	case step.Conflict:
		return fmt.Errorf("%s", c.Reason)
	}
	if c.Reason != "" {
		fmt.Fprintf(out, "%s: %s\n", w.node, c.Reason)
	}
	// The template first: /etc/hosts written means done.
	slices.SortStableFunc(c.Fields, func(a, b step.Field) int {
		return map[bool]int{true: 0, false: 1}[a.Name == HostsTemplate] - map[bool]int{true: 0, false: 1}[b.Name == HostsTemplate]
	})
	for _, fd := range c.Fields {
		addr, _ := netip.ParseAddr(strings.Fields(fd.New)[0])
		content := f.hosts
		if fd.Name == HostsTemplate {
			content = f.tmpl
		}
		if _, err := h.Sync(ctx, remote.File{Path: fd.Name, Content: []byte(withHostsEntry(content, w.name, addr)), Mode: 0o644, Owner: "root", Group: "root"}); err != nil {
			return fmt.Errorf("%s: %w", w.node, err)
		}
		fmt.Fprintf(out, "%s: %s -> %s in %s\n", w.node, w.name, addr, fd.Name)
	}
	return nil
}

// clusterBehindVIP reports whether the cluster has moved the endpoint to
// the VIP: kube-proxy's DaemonSet carries endpointAnnotation with the
// VIP, which the restart sets only after the VIP gate passed and the
// control planes' names moved. It asks the control planes in turn, each
// through its own apiserver (master1 may be the one that is down), and
// takes the first answer. Control planes without an admin kubeconfig, or
// not answering SSH: no cluster to ask (false). A cluster whose
// apiservers all fail to answer is a retryable error: homelab does not
// pin a node of a cluster to master1 on a guess.
func clusterBehindVIP(hosts nodes, masters []*inventory.Guest, vip netip.Addr) func(ctx context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		var failed []string
		for _, m := range masters {
			h, err := hosts.dial(m.Name)
			if err != nil {
				continue
			}
			script := "test -f " + adminConf + " || { echo no-cluster; exit 0; }; " +
				kubectl(m, "-n kube-system get daemonset kube-proxy -o jsonpath='{.metadata.annotations."+endpointAnnotation+"}'")
			out, err := run(ctx, h, command{script: script, timeout: 30 * time.Second})
			switch got := strings.TrimSpace(out); {
			case err == nil && got == "no-cluster":
			case err == nil:
				return got == vip.String(), nil
			case exited(err):
				failed = append(failed, fmt.Sprintf("%s: %v", m.Name, err))
			}
		}
		if len(failed) > 0 {
			return false, step.Retryable(fmt.Errorf("the cluster exists but no apiserver answered, so homelab cannot tell whether the endpoint is already behind the VIP (it does not pin to master1 on a guess): %s", strings.Join(failed, "; ")))
		}
		return false, nil
	}
}

// kubectl is a kubectl command line run as root on a control plane with
// the admin kubeconfig, against that control plane's own apiserver:
// managing the cluster does not depend on the endpoint name or the VIP.
func kubectl(master *inventory.Guest, args string) string {
	return fmt.Sprintf("kubectl --kubeconfig %s --server https://%s %s", adminConf, netip.AddrPortFrom(master.IP, APIServerPort), args)
}

// endpointAnnotation records on kube-proxy's DaemonSet the address its
// pods were restarted for, so a run that stopped between the flip and the
// restart restarts them the next time.
const endpointAnnotation = "homelab/endpoint"

// kubeProxyWork restarts kube-proxy, which reads the endpoint name from
// /etc/hosts only when it starts (host network), once the name moved.
type kubeProxyWork struct {
	hosts   nodes
	master  *inventory.Guest
	vip     netip.Addr
	timeout Timeouts
}

func (w kubeProxyWork) restartedFor(ctx context.Context, g *inventory.Guest, h remote.Host) (string, error) {
	out, err := run(ctx, h, command{script: kubeProxyQuery(g)})
	return strings.TrimSpace(out), err
}

// restartChange is the restart's change: kube-proxy's pods restarted for
// the VIP, from was what they were last restarted for ("" for never).
func restartChange(from string, vip netip.Addr) step.Change {
	return step.Change{Action: step.Update, Fields: []step.Field{{Name: "kube-proxy restarted for", Old: from, New: vip.String()}},
		Reason: "kube-proxy has not been restarted since the endpoint moved to the VIP"}
}

func (w kubeProxyWork) Observe(ctx context.Context) (step.Change, error) {
	intent := restartChange("", w.vip)
	return observeCluster(ctx, w.hosts, intent, func(ctx context.Context, g *inventory.Guest, h remote.Host) (step.Change, error) {
		got, err := w.restartedFor(ctx, g, h)
		if exited(err) {
			return noCluster(intent), nil
		}
		if err != nil {
			return step.Change{}, err
		}
		if got == w.vip.String() {
			return step.Change{Action: step.None, Reason: "restarted for the VIP " + got}, nil
		}
		return restartChange(got, w.vip), nil
	})
}

func (w kubeProxyWork) Apply(ctx context.Context, _ step.Change, out io.Writer) error {
	g, h, err := w.hosts.manager(ctx)
	if err != nil {
		return fmt.Errorf("restart kube-proxy: %w", err)
	}
	script := kubectl(g, "-n kube-system rollout restart daemonset kube-proxy") + " && " +
		kubectl(g, "-n kube-system annotate daemonset kube-proxy "+endpointAnnotation+"="+w.vip.String()+" --overwrite") + " && " +
		kubectl(g, fmt.Sprintf("-n kube-system rollout status daemonset kube-proxy --timeout=%ds", int(w.timeout.Endpoint.Seconds())))
	if _, err := run(ctx, h, command{script: script, timeout: w.timeout.Endpoint + time.Minute, out: out}); err != nil {
		return fmt.Errorf("%s: restart kube-proxy: %w", g.Name, err)
	}
	return nil
}

// readyz is a curl of an apiserver's /readyz from a node. ca is the CA
// file to verify it with (empty: not verified, for nodes that have no CA
// yet); resolve pins the name to an address without /etc/hosts.
func readyz(url, ca, resolve string) string {
	s := "curl -sS --max-time 5"
	if ca != "" {
		s += " --cacert " + remote.Quote(ca)
	} else {
		s += " -k"
	}
	if resolve != "" {
		s += " --resolve " + remote.Quote(resolve)
	}
	return s + " " + remote.Quote(url) + " 2>&1"
}

// caFile is the cluster CA on nodes that joined.
const caFile = "/etc/kubernetes/pki/ca.crt"

// endpointGate waits until the name resolves to the VIP on every node and
// /readyz answers through it.
type endpointGate struct {
	hosts         nodes
	name          string
	vip           netip.Addr
	controlPlanes []string
	nodes         []string
	gate          step.Wait
}

// script is the gate's look on node n: what the name resolves to, and
// /readyz through it (verified with the cluster CA on a control plane;
// the workers join after this gate: no CA to verify with yet).
func (g endpointGate) script(n string) string {
	url := fmt.Sprintf("https://%s:%d/readyz", g.name, APIServerPort)
	ca := ""
	if slices.Contains(g.controlPlanes, n) {
		ca = caFile
	}
	return "echo \"resolved: $(getent hosts " + remote.Quote(g.name) + ")\"; " + readyz(url, ca, "")
}

// HostReads declares the gate's look on every node.
func (g endpointGate) HostReads() []step.HostRead {
	reads := make([]step.HostRead, len(g.nodes))
	for i, n := range g.nodes {
		reads[i] = step.HostRead{Host: n, Script: g.script(n)}
	}
	return reads
}

// Observe looks on every node while a plan observes, when every node
// runs and answers.
func (g endpointGate) Observe(ctx context.Context) (step.Change, error) {
	return observeGate(ctx, g.gate, func(ctx context.Context) (bool, string, error) {
		for _, n := range g.nodes {
			if !g.hosts.answers(ctx, n) {
				return false, n + " does not answer", nil
			}
		}
		for _, n := range g.nodes {
			if done, seen, err := g.look(ctx, n); err != nil || !done {
				return done, seen, err
			}
		}
		return true, fmt.Sprintf("%s is %s and /readyz answers ok on every node (%d)", g.name, g.vip, len(g.nodes)), nil
	}), nil
}

// look is one look on node n.
func (g endpointGate) look(ctx context.Context, n string) (bool, string, error) {
	url := fmt.Sprintf("https://%s:%d/readyz", g.name, APIServerPort)
	h, err := g.hosts.dial(n)
	if err != nil {
		return false, "", err
	}
	res, err := run(ctx, h, command{script: g.script(n)})
	if err != nil && !exited(err) {
		return false, "", err
	}
	lines := strings.Split(strings.TrimSpace(res), "\n")
	f := strings.Fields(strings.TrimPrefix(lines[0], "resolved:"))
	switch {
	case len(f) == 0 || f[0] != g.vip.String():
		return false, fmt.Sprintf("%s resolves %s to %q, not the VIP %s", n, g.name, strings.Join(f[:min(1, len(f))], ""), g.vip), nil
	case len(lines) < 2 || strings.TrimSpace(lines[len(lines)-1]) != "ok":
		return false, fmt.Sprintf("%s: %s answered %q", n, url, strings.TrimSpace(strings.Join(lines[1:], " "))), nil
	}
	return true, fmt.Sprintf("%s: %s is %s and /readyz answers ok", n, g.name, g.vip), nil
}

func (g endpointGate) Apply(ctx context.Context, c step.Change, out io.Writer) error {
	if step.PassedWhilePlanning(c, out) {
		return nil
	}
	for _, n := range g.nodes {
		err := g.gate.Until(ctx, out, func(ctx context.Context) (bool, string, error) { return g.look(ctx, n) })
		if err != nil {
			return err
		}
	}
	return nil
}
