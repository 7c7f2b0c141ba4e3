package kube

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/homelabctl/homelab/pkg/sim/host"
)

// kubectl is kubectl against the cluster its kubeconfig names: get nodes,
// delete node, get daemonset, apply -f URL, annotate daemonset, rollout restart|status
// daemonset, and exec etcd-NODE -- etcdctl member list|remove.
func (s *Sim) kubectl(ctx context.Context, c *host.Call) int {
	args := c.Args[1:]
	var tail []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, tail = args[:i], args[i+1:]
	}
	f := parseFlags(args, "no-headers", "overwrite", "A", "all-namespaces")
	kc := f.values["kubeconfig"]
	if kc == "" {
		kc = c.Getenv("KUBECONFIG")
	}
	if kc == "" {
		kc = c.Getenv("HOME") + "/.kube/config"
	}
	b, err := files{c}.read(c.Path(kc))
	if err != nil {
		if f.values["kubeconfig"] != "" {
			// client-go's loader stats an explicit path; kubectl's checkErr
			// adds "error: " (k8s.io/kubectl pkg/cmd/util/helpers.go).
			fmt.Fprintf(c.Stderr, "error: stat %s: no such file or directory\n", kc)
			return 1
		}
		// Without a kubeconfig kubectl talks to localhost:8080
		// (k8s.io/kubectl pkg/cmd/util/helpers.go StandardErrorMessage).
		fmt.Fprintln(c.Stderr, "The connection to the server localhost:8080 was refused - did you specify the right host or port?")
		return 1
	}
	var cfg struct {
		Clusters []struct {
			Cluster struct {
				CA     string `yaml:"certificate-authority-data"`
				Server string `yaml:"server"`
			} `yaml:"cluster"`
		} `yaml:"clusters"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil || len(cfg.Clusters) == 0 {
		fmt.Fprintf(c.Stderr, "error: error loading config file %q: couldn't get version/kind; json parse error\n", kc) // written here
		return 1
	}
	server := cfg.Clusters[0].Cluster.Server
	if v := f.values["server"]; v != "" {
		server = v // --server overrides the kubeconfig's, as kubectl's does
	}
	u, _ := url.Parse(server)
	ca, _ := base64.StdEncoding.DecodeString(cfg.Clusters[0].Cluster.CA)
	endpoint := u.Host
	if u.Port() == "" {
		endpoint += ":443"
	}
	cert, why := reach(ctx, c.Host, endpoint)
	if why == "" {
		why = verify(cert, ca, u.Hostname())
	}
	if why != "" {
		// k8s.io/kubectl pkg/cmd/util/helpers.go StandardErrorMessage: a
		// refused connection has its own words.
		if strings.Contains(why, "connection refused") {
			fmt.Fprintf(c.Stderr, "The connection to the server %s was refused - did you specify the right host or port?\n", u.Host)
		} else {
			fmt.Fprintf(c.Stderr, "Unable to connect to the server: %s\n", why)
		}
		return 1
	}
	ns := f.values["n"]
	if v, ok := f.values["namespace"]; ok {
		ns = v
	}
	if ns == "" {
		ns = "default"
	}
	w := f.words
	if len(w) == 0 {
		fmt.Fprintln(c.Stderr, "error: You must specify the type of resource to get.") // written here
		return 1
	}
	code := 0
	s.with(func(cl *Cluster, now time.Time) {
		if cl == nil || !cl.quorum() {
			// "Error from server: %s" is StandardErrorMessage (k8s.io/kubectl
			// pkg/cmd/util/helpers.go); the apiserver's message is etcd's
			// ErrGRPCTimeout (api/v3rpc/rpctypes/error.go).
			fmt.Fprintln(c.Stderr, "Error from server: etcdserver: request timed out")
			code = 1
			return
		}
		k := kubectlCall{s: s, c: c, cl: cl, now: now, ns: ns, f: f}
		switch {
		case w[0] == "get" && len(w) > 1 && (w[1] == "nodes" || w[1] == "node" || w[1] == "no"):
			code = k.getNodes(w[2:])
		case w[0] == "delete" && len(w) > 2 && (w[1] == "node" || w[1] == "nodes" || w[1] == "no"):
			code = k.deleteNodes(w[2:])
		case w[0] == "get" && len(w) > 2 && isDaemonSet(w[1]):
			code = k.getDaemonSet(w[2])
		case w[0] == "apply":
			code = k.apply(f.values["f"])
		case w[0] == "annotate" && len(w) > 2 && isDaemonSet(w[1]):
			code = k.annotate(w[2], w[3:])
		case w[0] == "rollout" && len(w) > 3 && isDaemonSet(w[2]):
			code = k.rollout(w[1], w[3])
		case w[0] == "create" && len(w) > 2 && isConfigMap(w[1]):
			code = k.createConfigMap(w[2])
		case w[0] == "get" && len(w) > 2 && isConfigMap(w[1]):
			code = k.getConfigMap(w[2])
		case w[0] == "exec" && len(w) > 1:
			code = k.exec(w[1], tail)
		default:
			fmt.Fprintf(c.Stderr, "error: the simulated kubectl does not know %q\n", strings.Join(w, " "))
			code = 1
		}
	})
	return code
}

func isDaemonSet(kind string) bool {
	return kind == "daemonset" || kind == "daemonsets" || kind == "ds" || kind == "daemonset.apps"
}

// kubectlCall is one kubectl command on the cluster (s.mu held).
type kubectlCall struct {
	s   *Sim
	c   *host.Call
	cl  *Cluster
	now time.Time
	ns  string
	f   flags
}

// notFound is StandardErrorMessage's "Error from server (%s): %s"
// (k8s.io/kubectl pkg/cmd/util/helpers.go) of apimachinery's NewNotFound
// (pkg/api/errors/errors.go).
func (k kubectlCall) notFound(kind, name string) int {
	fmt.Fprintf(k.c.Stderr, "Error from server (NotFound): %s %q not found\n", kind, name)
	return 1
}

// daemonSet returns a kube-system daemonset.
func (k kubectlCall) daemonSet(name string) (*DaemonSet, bool) {
	if k.ns != "kube-system" {
		return nil, false
	}
	ds, ok := k.cl.DaemonSets[name]
	return ds, ok
}

// getNodes is `get nodes [NAME...]`: every node by name, or the named
// ones in the order given. As kubectl's get (k8s.io/kubectl
// pkg/cmd/get/get.go Run): the rows of the nodes found (the table's header
// only above rows), then "No resources found in NS namespace." on stderr
// when nothing was printed and nothing failed (no object was seen, so
// kubectl takes the namespaced wording even for nodes), and a NotFound
// error for each name not found, exit 1.
func (k kubectlCall) getNodes(names []string) int {
	nodes := slices.Clone(k.cl.Nodes)
	slices.SortFunc(nodes, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	var missing []string
	if len(names) > 0 {
		var named []Node
		for _, name := range names {
			if i := slices.IndexFunc(nodes, func(n Node) bool { return n.Name == name }); i >= 0 {
				named = append(named, nodes[i])
			} else {
				missing = append(missing, name)
			}
		}
		nodes = named
	}
	if out := k.output(); out != "" {
		path, ok := strings.CutPrefix(out, "jsonpath=")
		if !ok {
			fmt.Fprintf(k.c.Stderr, "error: the simulated kubectl knows only -o jsonpath= for nodes, not %q\n", out)
			return 1
		}
		for _, n := range nodes {
			v, ok := nodeField(n, path)
			if !ok {
				fmt.Fprintf(k.c.Stderr, "error: the simulated kubectl does not know the node field %s\n", path)
				return 1
			}
			// One template over the list when several nodes print: kubectl
			// concatenates without a separator, as here.
			fmt.Fprint(k.c.Stdout, v)
		}
		code := 0
		for _, name := range missing {
			code = k.notFound("nodes", name)
		}
		return code
	}
	tw := tabwriter.NewWriter(k.c.Stdout, 6, 4, 3, ' ', 0)
	if !k.f.has("no-headers") && len(nodes) > 0 {
		fmt.Fprintln(tw, "NAME\tSTATUS\tROLES\tAGE\tVERSION")
	}
	for _, n := range nodes {
		status, roles := "NotReady", "<none>"
		if k.s.ready(n, k.now) {
			status = "Ready"
		}
		if n.ControlPlane {
			roles = "control-plane"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.Name, status, roles, age(k.now.Sub(n.Joined)), n.Version)
	}
	tw.Flush()
	if len(nodes) == 0 && len(missing) == 0 {
		fmt.Fprintf(k.c.Stderr, "No resources found in %s namespace.\n", k.ns)
	}
	code := 0
	for _, name := range missing {
		code = k.notFound("nodes", name)
	}
	return code
}

// output is -o or --output.
func (k kubectlCall) output() string {
	if v, ok := k.f.values["output"]; ok {
		return v
	}
	return k.f.values["o"]
}

// nodeField is what a jsonpath of one node prints: the fields homelab
// reads. A missing field prints nothing (kubectl get's
// --allow-missing-template-keys defaults to true).
func nodeField(n Node, path string) (string, bool) {
	switch strings.Trim(path, "'") {
	case "{.metadata.name}":
		return n.Name, true
	case "{.spec.podCIDR}":
		return n.PodCIDR, true
	case "{.spec.podCIDRs}":
		if n.PodCIDR == "" {
			return "", true
		}
		return `["` + n.PodCIDR + `"]`, true
	}
	return "", false
}

// deleteNodes is `delete node NAME...`: kubectl's "node "NAME" deleted"
// for each (k8s.io/kubectl pkg/cmd/delete/delete.go PrintObj with the
// "deleted" operation), NotFound for a name the cluster does not have.
func (k kubectlCall) deleteNodes(names []string) int {
	code := 0
	for _, name := range names {
		before := len(k.cl.Nodes)
		k.cl.Nodes = removeNode(k.cl.Nodes, name)
		if len(k.cl.Nodes) == before {
			code = k.notFound("nodes", name)
			continue
		}
		fmt.Fprintf(k.c.Stdout, "node %q deleted\n", name)
	}
	return code
}

// age is kubectl's short duration (HumanDuration, roughly).
func age(d time.Duration) string {
	switch {
	case d < 2*time.Minute:
		return strconv.Itoa(max(0, int(d.Seconds()))) + "s"
	case d < 10*time.Minute:
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 3*time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m"
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// getDaemonSet is `get daemonset NAME -o jsonpath=...` (the image of the
// first container, or an annotation).
func (k kubectlCall) getDaemonSet(name string) int {
	ds, ok := k.daemonSet(name)
	if !ok {
		return k.notFound("daemonsets.apps", name)
	}
	out := k.f.values["o"]
	if v, ok := k.f.values["output"]; ok {
		out = v
	}
	path, isJSONPath := strings.CutPrefix(out, "jsonpath=")
	if !isJSONPath {
		tw := tabwriter.NewWriter(k.c.Stdout, 6, 4, 3, ' ', 0)
		n := strconv.Itoa(len(k.cl.Nodes))
		fmt.Fprintln(tw, "NAME\tDESIRED\tCURRENT\tREADY\tUP-TO-DATE\tAVAILABLE\tNODE SELECTOR\tAGE")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\tkubernetes.io/os=linux\t%s\n", name, n, n, n, n, n, age(k.now.Sub(ds.Created)))
		tw.Flush()
		return 0
	}
	path = strings.Trim(path, "'")
	switch {
	case path == "{.spec.template.spec.containers[0].image}":
		fmt.Fprint(k.c.Stdout, ds.Image)
	case strings.HasPrefix(path, "{.metadata.annotations."):
		key := strings.TrimSuffix(strings.TrimPrefix(path, "{.metadata.annotations."), "}")
		key = strings.ReplaceAll(key, `\.`, ".")
		fmt.Fprint(k.c.Stdout, ds.Annotations[key])
	default:
		fmt.Fprintf(k.c.Stderr, "error: the simulated kubectl does not evaluate the JSONPath %s\n", path)
		return 1
	}
	return 0
}

// apply is `apply -f URL` of a Calico manifest.
func (k kubectlCall) apply(src string) int {
	u, err := url.Parse(src)
	if src == "" || err != nil || u.Scheme != "https" {
		fmt.Fprintf(k.c.Stderr, "error: the path %q does not exist\n", src)
		return 1
	}
	handler := k.s.Internet()[u.Hostname()]
	var body string
	status := 0
	if handler != nil {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest("GET", src, nil))
		status, body = rec.Code, rec.Body.String()
	}
	switch {
	case handler == nil:
		// net/http's error as is (k8s.io/cli-runtime pkg/resource/visitor.go).
		fmt.Fprintf(k.c.Stderr, "error: Get %q: dial tcp: lookup %s on 127.0.0.53:53: no such host\n", src, u.Hostname())
		return 1
	case status != 200:
		// k8s.io/cli-runtime pkg/resource/visitor.go
		fmt.Fprintf(k.c.Stderr, "error: unable to read URL %q, server reported %d %s, status code=%d\n", src, status, http.StatusText(status), status)
		return 1
	}
	image := ""
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "image: "); ok {
			image = v
		}
	}
	verb := "created"
	if ds, ok := k.cl.DaemonSets["calico-node"]; ok {
		verb = "unchanged"
		if ds.Image != image {
			ds.Image, verb = image, "configured"
		}
	} else {
		k.cl.DaemonSets["calico-node"] = &DaemonSet{Image: image, Created: k.now}
	}
	for _, o := range calicoObjects {
		v := verb
		if verb == "configured" && o != "daemonset.apps/calico-node" {
			v = "unchanged"
		}
		fmt.Fprintf(k.c.Stdout, "%s %s\n", o, v) // kubectl's name printer: KIND.GROUP/NAME VERB
	}
	return 0
}

// annotate is `annotate daemonset NAME KEY=VALUE... [--overwrite]`.
func (k kubectlCall) annotate(name string, pairs []string) int {
	ds, ok := k.daemonSet(name)
	if !ok {
		return k.notFound("daemonsets.apps", name)
	}
	for _, p := range pairs {
		key, val, set := strings.Cut(p, "=")
		if !set {
			if key, ok := strings.CutSuffix(p, "-"); ok {
				delete(ds.Annotations, key)
			}
			continue
		}
		if old, exists := ds.Annotations[key]; exists && old != val && !k.f.has("overwrite") {
			// k8s.io/kubectl pkg/cmd/annotate/annotate.go
			fmt.Fprintf(k.c.Stderr, "error: --overwrite is false but found the following declared annotation(s): '%s' already has a value (%s)\n", key, old)
			return 1
		}
		if ds.Annotations == nil {
			ds.Annotations = map[string]string{}
		}
		ds.Annotations[key] = val
	}
	fmt.Fprintf(k.c.Stdout, "daemonset.apps/%s annotated\n", name) // k8s.io/kubectl pkg/cmd/annotate/annotate.go
	return 0
}

// rollout is `rollout restart|status daemonset NAME`.
func (k kubectlCall) rollout(verb, name string) int {
	ds, ok := k.daemonSet(name)
	if !ok {
		return k.notFound("daemonsets.apps", name)
	}
	switch verb {
	case "restart":
		ds.Restarts++
		fmt.Fprintf(k.c.Stdout, "daemonset.apps/%s restarted\n", name) // k8s.io/kubectl pkg/cmd/rollout/rollout_restart.go
	case "status":
		// k8s.io/kubectl pkg/polymorphichelpers/rollout_status.go; a pod
		// that never becomes available keeps kubectl watching until its
		// --timeout, then apimachinery's wait.ErrWaitTimeout (the
		// simulator does not wait).
		desired, available := k.s.daemonSetPods(k.cl, ds)
		if available < desired {
			fmt.Fprintf(k.c.Stdout, "Waiting for daemon set %q rollout to finish: %d of %d updated pods are available...\n", name, available, desired)
			fmt.Fprintln(k.c.Stderr, "error: timed out waiting for the condition")
			return 1
		}
		fmt.Fprintf(k.c.Stdout, "daemon set %q successfully rolled out\n", name)
	default:
		fmt.Fprintf(k.c.Stderr, "error: unknown command %q for \"kubectl rollout\"\n", verb)
		return 1
	}
	return 0
}

// exec is `exec etcd-NODE -- etcdctl ... member list -w json | member
// remove HEXID`.
func (k kubectlCall) exec(pod string, cmd []string) int {
	node, isEtcd := strings.CutPrefix(pod, "etcd-")
	var m Member
	found := false
	host := ""
	if isEtcd && k.ns == "kube-system" {
		for _, n := range k.cl.Nodes {
			if n.Name == node && n.ControlPlane && !n.Lost {
				m, found = k.cl.member(n.IP)
				host = n.Host
			}
		}
	}
	if !found || !m.Started {
		return k.notFound("pods", pod)
	}
	if len(cmd) == 0 || cmd[0] != "etcdctl" {
		fmt.Fprintf(k.c.Stderr, "error: the simulated etcd pod runs etcdctl only\n")
		return 1
	}
	ef := parseFlags(cmd[1:])
	w := ef.words
	switch {
	case len(w) >= 2 && w[0] == "member" && w[1] == "list":
		// etcdctl prints json.Marshal of the MemberListResponse
		// (etcdctl/ctlv3/command/printer_json.go); the fields are
		// api/etcdserverpb/rpc.pb.go's, all omitempty.
		type member struct {
			ID         uint64   `json:"ID,omitempty"`
			Name       string   `json:"name,omitempty"`
			PeerURLs   []string `json:"peerURLs,omitempty"`
			ClientURLs []string `json:"clientURLs,omitempty"`
			IsLearner  bool     `json:"isLearner,omitempty"`
		}
		out := struct {
			Header struct {
				ClusterID uint64 `json:"cluster_id,omitempty"`
				MemberID  uint64 `json:"member_id,omitempty"`
				RaftTerm  int    `json:"raft_term,omitempty"`
			} `json:"header"`
			Members []member `json:"members,omitempty"`
		}{}
		out.Header.ClusterID, out.Header.MemberID, out.Header.RaftTerm = k.cl.ID, m.ID, 2+len(k.cl.Members)
		for _, x := range k.cl.Members {
			mm := member{ID: x.ID, Name: x.Name, PeerURLs: []string{x.PeerURL}, IsLearner: x.Learner}
			if x.ClientURL != "" {
				mm.ClientURLs = []string{x.ClientURL}
			}
			out.Members = append(out.Members, mm)
		}
		if ef.values["w"] == "json" || ef.values["write-out"] == "json" {
			b, _ := json.Marshal(out)
			fmt.Fprintln(k.c.Stdout, string(b))
			return 0
		}
		for _, x := range k.cl.Members { // etcdctl/ctlv3/command/printer.go makeMemberListTable
			status := "started"
			if x.Name == "" {
				status = "unstarted"
			}
			fmt.Fprintf(k.c.Stdout, "%x, %s, %s, %s, %s, %t\n", x.ID, status, x.Name, x.PeerURL, x.ClientURL, x.Learner)
		}
		return 0
	case len(w) >= 2 && w[0] == "snapshot" && w[1] == "save":
		return k.snapshotSave(k.s.hosts[host], w)
	case len(w) >= 3 && w[0] == "member" && w[1] == "remove":
		id, err := strconv.ParseUint(w[2], 16, 64)
		if err != nil {
			// etcdctl/ctlv3/command/member_command.go, ExitBadArgs (128,
			// pkg/cobrautl/error.go); kubectl exec reports the exit code
			// (client-go tools/remotecommand/v4.go) and exits with it.
			fmt.Fprintf(k.c.Stderr, "Error: bad member ID arg (strconv.ParseUint: parsing %q: invalid syntax), expecting ID in Hex\ncommand terminated with exit code 128\n", w[2])
			return 128
		}
		for i, x := range k.cl.Members {
			if x.ID == id {
				k.cl.Members = append(k.cl.Members[:i], k.cl.Members[i+1:]...)
				fmt.Fprintf(k.c.Stdout, "Member %16x removed from cluster %16x\n", id, k.cl.ID) // etcdctl/ctlv3/command/printer_simple.go
				return 0
			}
		}
		// cobrautl.ExitWithError (pkg/cobrautl/error.go) of etcd's
		// ErrGRPCMemberNotFound (api/v3rpc/rpctypes/error.go).
		fmt.Fprintln(k.c.Stderr, "Error: etcdserver: member not found")
		fmt.Fprintln(k.c.Stderr, "command terminated with exit code 1")
		return 1
	}
	fmt.Fprintf(k.c.Stderr, "Error: unknown command %q for \"etcdctl\"\ncommand terminated with exit code 1\n", strings.Join(w, " "))
	return 1
}
