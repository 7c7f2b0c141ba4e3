package kubeadm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/homelabctl/homelab/pkg/backup"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/step"
)

// What a node's /etc/kubernetes says about it.
const (
	adminConf     = "/etc/kubernetes/admin.conf"
	kubeletConf   = "/etc/kubernetes/kubelet.conf"
	apiserverYAML = "/etc/kubernetes/manifests/kube-apiserver.yaml"
)

// nodeState is how far kubeadm got on a node.
type nodeState struct {
	admin, kubelet, manifests bool
}

// any reports whether kubeadm left any of its files: on a node that has
// not joined, leftovers of an init or join that did not finish.
func (s nodeState) any() bool { return s.admin || s.kubelet || s.manifests }

const stateScript = `for f in ` + adminConf + ` ` + kubeletConf + ` ` + apiserverYAML + `; do test -f "$f" && echo "$f"; done; true`

func readNodeState(ctx context.Context, h remote.Host) (nodeState, error) {
	out, err := run(ctx, h, command{script: stateScript})
	if err != nil {
		return nodeState{}, err
	}
	return nodeState{
		admin: strings.Contains(out, adminConf), kubelet: strings.Contains(out, kubeletConf),
		manifests: strings.Contains(out, apiserverYAML),
	}, nil
}

// initialised: admin.conf and the apiserver's manifest (research 1.5).
func (s nodeState) initialised() bool { return s.admin && s.manifests }

// joined: admin.conf on a control plane, kubelet.conf on a worker.
func (s nodeState) joined(controlPlane bool) bool {
	if controlPlane {
		return s.initialised()
	}
	return s.kubelet
}

// bootstrap is what the init and join steps share: the inventory, the
// way to the nodes, the run's credentials.
type bootstrap struct {
	inv      *inventory.Inventory
	hosts    nodes
	master   *inventory.Guest // master1
	creds    *credentials
	timeouts Timeouts
	// kubeconfig is where the admin kubeconfig is written: one of this
	// cluster's there while no control plane holds the cluster says the
	// cluster was lost, not taken down.
	kubeconfig string
	// missing are the guests on offline Proxmox nodes: the gates do not
	// wait for them.
	missing []string
}

// initWork runs kubeadm init on master1, from a backup when restore is
// set; when another control plane already runs the cluster, master1 is
// a new machine and joins it instead.
type initWork struct {
	*bootstrap
	intent  step.Change
	restore *backup.Backup
}

func (w initWork) Observe(ctx context.Context) (step.Change, error) {
	return observeOn(ctx, w.hosts, w.master.Name, w.intent, func(ctx context.Context, h remote.Host) (step.Change, error) {
		s, err := readNodeState(ctx, h)
		if err != nil {
			return step.Change{}, err
		}
		if s.initialised() {
			return step.Change{Action: step.None, Reason: "initialised"}, nil
		}
		other, err := w.otherMember(ctx, true)
		if err != nil {
			return step.Change{}, err
		}
		if other != "" {
			if w.restore != nil {
				return step.Change{Action: step.Conflict, Reason: w.restoreOverCluster(other)}, nil
			}
			c := w.intent
			c.Reason = w.rejoinReason(other)
			return c, nil
		}
		if lost := w.lostCluster(); lost != "" && w.restore == nil {
			return step.Change{Action: step.Conflict, Reason: lost}, nil
		}
		c := w.intent
		if s.any() {
			c.Reason = "an init that did not finish left files behind: kubeadm reset -f first"
		}
		return c, nil
	})
}

// rejoinReason says that master1, a new machine, joins the cluster other
// runs instead of starting one.
func (w initWork) rejoinReason(other string) string {
	return fmt.Sprintf("%s is a new machine and %s runs the cluster: %s joins it as a control plane (its stale etcd member removed first) instead of kubeadm init", w.master.Name, other, w.master.Name)
}

// restoreOverCluster is the conflict of a restore while other runs the
// cluster.
func (w initWork) restoreOverCluster(other string) string {
	return fmt.Sprintf("a restore was asked for but %s still runs the cluster: a restore builds the cluster where no control plane holds it; run without --restore to join %s to it", other, w.master.Name)
}

// lostCluster says, when the admin kubeconfig of this cluster's endpoint
// is still where homelab wrote it while no control plane holds the
// cluster, that the cluster was lost (every control plane is a new
// machine; `down` removes the kubeconfig with the cluster): "" otherwise.
func (w initWork) lostCluster() string {
	if w.kubeconfig == "" {
		return ""
	}
	have, err := os.ReadFile(w.kubeconfig)
	if err != nil || !IsAdminKubeconfig(have, w.inv.Kubernetes.Endpoint) {
		return ""
	}
	return fmt.Sprintf("no control plane holds the cluster whose admin kubeconfig is %s (every control plane is a new machine): homelab will not start an empty cluster in its place; restore it with `homelab up --restore DIR` from a backup, or remove %s to build a new, empty cluster", w.kubeconfig, w.kubeconfig)
}

// otherMember names another control plane that already has a cluster.
// Observing, it skips the control planes that were silent a moment ago;
// before an init it asks each again.
func (w initWork) otherMember(ctx context.Context, observing bool) (string, error) {
	for _, m := range w.inv.ControlPlanes()[1:] {
		if observing && w.hosts.silence.Quiet(m.Name) {
			continue
		}
		h, err := w.hosts.dial(m.Name)
		if err != nil {
			return "", err
		}
		s, err := readNodeState(ctx, h)
		if remote.NotAnswering(ctx, err) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("%s: %w", m.Name, err)
		}
		if s.initialised() {
			return m.Name, nil
		}
	}
	return "", nil
}

func (w initWork) Apply(ctx context.Context, _ step.Change, out io.Writer) error {
	h, err := w.hosts.dial(w.master.Name)
	if err != nil {
		return err
	}
	s, err := readNodeState(ctx, h)
	if err != nil {
		return fmt.Errorf("%s: %w", w.master.Name, err)
	}
	if s.initialised() {
		return w.readCAHash(ctx, h)
	}
	// The plan may have been made before master1 existed (a guest created
	// in this run, a new machine): look again before starting a cluster.
	other, err := w.otherMember(ctx, false)
	if err != nil {
		return err
	}
	if other != "" {
		if w.restore != nil {
			return errors.New("conflict: " + w.restoreOverCluster(other))
		}
		fmt.Fprintln(out, w.rejoinReason(other))
		return joinWork{bootstrap: w.bootstrap, node: w.master, controlPlane: true}.Apply(ctx, step.Change{}, out)
	}
	if lost := w.lostCluster(); lost != "" && w.restore == nil {
		return errors.New("conflict: " + lost)
	}
	if s.any() {
		if err := reset(ctx, h, w.master.Name, out); err != nil {
			return err
		}
	}
	if w.restore != nil {
		return w.initFromBackup(ctx, h, out)
	}
	// The config carries the token and certificate key: kubeadm takes the
	// key only from it when --config is used, and a file keeps both out of
	// the process list. It lives only while kubeadm runs.
	file, err := InitConfig(w.inv, w.master, w.creds.current())
	if err != nil {
		return err
	}
	err = withSecretFile(ctx, h, InitConfigPath, file, func() error {
		_, err := run(ctx, h, command{script: "kubeadm init --config " + InitConfigPath + " --upload-certs",
			secrets: w.creds.secrets(), timeout: w.timeouts.Command, out: out})
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: kubeadm init: %w", w.master.Name, err)
	}
	w.creds.tokenCreated()
	w.creds.certsUploaded()
	return w.readCAHash(ctx, h)
}

// readCAHash pins the cluster CA for the joins.
func (b *bootstrap) readCAHash(ctx context.Context, h remote.Host) error {
	ca, err := run(ctx, h, command{script: "cat " + caFile})
	if err != nil {
		return fmt.Errorf("%s: read the cluster CA: %w", b.master.Name, err)
	}
	hash, err := CACertHash([]byte(ca))
	if err != nil {
		return fmt.Errorf("%s: %s: %w", b.master.Name, caFile, err)
	}
	b.creds.setCAHash(hash)
	return nil
}

// withSecretFile writes a 0600 file, runs f and removes the file again,
// whatever f did.
func withSecretFile(ctx context.Context, h remote.Host, path string, content []byte, f func() error) error {
	if _, err := h.Sync(ctx, remote.File{Path: path, Content: content, Mode: 0o600, Owner: "root", Group: "root"}); err != nil {
		return err
	}
	defer run(context.WithoutCancel(ctx), h, command{script: "rm -f " + path})
	return f()
}

func reset(ctx context.Context, h remote.Host, node string, out io.Writer) error {
	fmt.Fprintf(out, "%s: an earlier init or join did not finish: kubeadm reset -f\n", node)
	if _, err := run(ctx, h, command{script: "kubeadm reset -f", timeout: 5 * time.Minute, out: out}); err != nil {
		return fmt.Errorf("%s: kubeadm reset: %w", node, err)
	}
	return nil
}

// joinWork joins a node: a control plane through the name while it still
// points at master1, a worker through the VIP.
type joinWork struct {
	*bootstrap
	node         *inventory.Guest
	controlPlane bool
	intent       step.Change
}

func (w joinWork) Observe(ctx context.Context) (step.Change, error) {
	return observeOn(ctx, w.hosts, w.node.Name, w.intent, func(ctx context.Context, h remote.Host) (step.Change, error) {
		s, err := readNodeState(ctx, h)
		if err != nil {
			return step.Change{}, err
		}
		done, err := w.joined(ctx, s)
		if err != nil {
			return step.Change{}, err
		}
		if done {
			return step.Change{Action: step.None, Reason: "joined"}, nil
		}
		c := w.intent
		if s.any() {
			c.Reason = "a join that did not finish left files behind: kubeadm reset -f first"
		}
		return c, nil
	})
}

// joined reports whether the node has joined: its files (research 1.5),
// confirmed by the cluster when a control plane answers: a control plane
// is a started voting etcd member, a worker a registered node. A join
// that failed late leaves the files without either.
func (w joinWork) joined(ctx context.Context, s nodeState) (bool, error) {
	if !s.joined(w.controlPlane) {
		return false, nil
	}
	mg, m1, err := w.hosts.manager(ctx)
	if noManager(err) {
		return true, nil // no cluster to ask: trust the files
	}
	if err != nil {
		return false, err
	}
	if !w.controlPlane {
		_, err := run(ctx, m1, command{script: nodeQuery(mg, w.node.Name)})
		switch {
		case err == nil:
			return true, nil
		case notFound(err):
			return false, nil // kubectl's "Error from server (NotFound): nodes "NAME" not found"
		case exited(err):
			return true, nil // no cluster to ask: trust the files
		}
		return false, err
	}
	members, err := members(ctx, mg, m1)
	if exited(err) {
		return true, nil // no cluster to ask: trust the files
	}
	if err != nil {
		return false, err
	}
	for _, m := range members {
		if slices.Contains(m.PeerURLs, peerURL(w.node.IP)) {
			return m.started() && !m.IsLearner, nil
		}
	}
	return false, nil
}

func (w joinWork) Apply(ctx context.Context, _ step.Change, out io.Writer) error {
	h, err := w.hosts.dial(w.node.Name)
	if err != nil {
		return err
	}
	s, err := readNodeState(ctx, h)
	if err != nil {
		return fmt.Errorf("%s: %w", w.node.Name, err)
	}
	if done, err := w.joined(ctx, s); err != nil || done {
		return err
	}
	mg, m1, err := w.hosts.manager(ctx)
	if err != nil {
		return fmt.Errorf("%s: join: %w", w.node.Name, err)
	}
	if w.creds.current().CACertHash == "" {
		if err := w.readCAHash(ctx, m1); err != nil {
			return err
		}
	}
	if err := w.freshCredentials(ctx, mg, m1, out); err != nil {
		return err
	}
	if w.controlPlane {
		if err := w.removeStaleMember(ctx, mg, m1, out); err != nil {
			return err
		}
	}
	if s.any() {
		if err := reset(ctx, h, w.node.Name, out); err != nil {
			return err
		}
	}
	if err := w.removeReadyNode(ctx, mg, m1, out); err != nil {
		return err
	}
	file, err := JoinConfig(w.inv, w.node, w.controlPlane, w.creds.current())
	if err != nil {
		return err
	}
	err = withSecretFile(ctx, h, JoinConfigPath, file, func() error {
		_, err := run(ctx, h, command{script: "kubeadm join --config " + JoinConfigPath,
			secrets: w.creds.secrets(), timeout: w.timeouts.Command, out: out})
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: kubeadm join: %w", w.node.Name, err)
	}
	return nil
}

// freshCredentials makes sure the run's token exists on the cluster with
// time to spare and, for a control plane, that the certificates were
// uploaded with the run's key less than two hours ago: a new token and a
// new upload otherwise (after a crash, a resumed run, a long wait).
func (w joinWork) freshCredentials(ctx context.Context, mg *inventory.Guest, m1 remote.Host, out io.Writer) error {
	if err := w.ensureToken(ctx, mg, m1, out); err != nil {
		return err
	}
	if !w.controlPlane {
		return nil
	}
	fresh, _ := w.creds.certsFresh()
	if fresh {
		return nil
	}
	file, err := InitConfig(w.inv, mg, w.creds.current())
	if err != nil {
		return err
	}
	err = withSecretFile(ctx, m1, InitConfigPath, file, func() error {
		_, err := run(ctx, m1, command{script: "kubeadm init phase upload-certs --upload-certs --config " + InitConfigPath,
			secrets: w.creds.secrets(), out: out})
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: upload the control-plane certificates: %w", mg.Name, err)
	}
	w.creds.certsUploaded()
	return nil
}

// etcdctl runs etcdctl in master's etcd pod, through its apiserver.
func etcdctl(master *inventory.Guest, args string) string {
	return kubectl(master, "-n kube-system exec etcd-"+master.Name+" -- etcdctl --endpoints=https://127.0.0.1:2379"+
		" --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/server.crt"+
		" --key=/etc/kubernetes/pki/etcd/server.key ") + args
}

// member is an etcd member as `etcdctl member list -w json` prints it.
type member struct {
	ID         uint64   `json:"ID"`
	Name       string   `json:"name"`
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
	IsLearner  bool     `json:"isLearner"`
}

// started: an unstarted member has no name and no client URLs yet.
func (m member) started() bool { return m.Name != "" && len(m.ClientURLs) > 0 }

func (m member) String() string {
	state := "started"
	switch {
	case !m.started():
		state = "not started"
	case m.IsLearner:
		state = "learner"
	}
	name := m.Name
	if name == "" {
		name = strings.Join(m.PeerURLs, ",")
	}
	return fmt.Sprintf("%s (%x, %s)", name, m.ID, state)
}

func parseMembers(out string) ([]member, error) {
	var list struct {
		Members []member `json:"members"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("etcdctl member list: %w", err)
	}
	return list.Members, nil
}

// members lists etcd's members through control plane g (on h).
func members(ctx context.Context, g *inventory.Guest, h remote.Host) ([]member, error) {
	out, err := run(ctx, h, command{script: memberList(g)})
	if err != nil {
		return nil, fmt.Errorf("%s: etcd members: %w", g.Name, err)
	}
	return parseMembers(out)
}

// peerURL is a control plane's etcd peer URL.
func peerURL(ip netip.Addr) string { return fmt.Sprintf("https://%s:2380", ip) }

// removeReadyNode deletes the node's Node object while it still says
// Ready: kubeadm join refuses to register a node over a Ready Node of its
// name (cmd/kubeadm/app/cmd/phases/join/kubelet.go). The node has not
// joined (its files are gone, or were just reset), so that status is
// stale: an etcd restore brings every Node back as the snapshot held it,
// and a re-created or reset node's Node says Ready until the node
// lifecycle controller has heard nothing from its kubelet for
// node-monitor-grace-period (50s). A NotReady Node is left: kubeadm join
// takes it over.
func (w joinWork) removeReadyNode(ctx context.Context, mg *inventory.Guest, m1 remote.Host, out io.Writer) error {
	res, err := run(ctx, m1, command{script: nodeQuery(mg, w.node.Name)})
	if notFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: the Node of %s: %w", mg.Name, w.node.Name, err)
	}
	if !strings.HasPrefix(parseNodes(res)[w.node.Name], "Ready") {
		return nil
	}
	fmt.Fprintf(out, "%s: deleting its Node, which says Ready though %s has not joined (restored from a backup, or the machine's it replaces): kubeadm join refuses a Ready Node of its name\n", w.node.Name, w.node.Name)
	if _, err := run(ctx, m1, command{script: kubectl(mg, "delete node "+remote.Quote(w.node.Name)), out: out}); err != nil {
		return fmt.Errorf("%s: delete the stale Node %s: %w", mg.Name, w.node.Name, err)
	}
	return nil
}

// removeStaleMember removes an etcd member that a failed join of this
// node left behind (it has the node's peer URL while the node has not
// joined): etcd refuses the rejoin with "Peer URLs already exists", and an
// unstarted or unpromoted member counts against the quorum.
func (w joinWork) removeStaleMember(ctx context.Context, mg *inventory.Guest, m1 remote.Host, out io.Writer) error {
	members, err := members(ctx, mg, m1)
	if err != nil {
		return err
	}
	for _, m := range members {
		for _, u := range m.PeerURLs {
			if u != peerURL(w.node.IP) {
				continue
			}
			fmt.Fprintf(out, "%s: removing the etcd member with its peer URL (a failed join's, or the machine's it replaces): %s\n", w.node.Name, m)
			if _, err := run(ctx, m1, command{script: etcdctl(mg, fmt.Sprintf("member remove %x", m.ID)), out: out}); err != nil {
				return fmt.Errorf("%s: remove etcd member %x: %w", mg.Name, m.ID, err)
			}
		}
	}
	return nil
}
