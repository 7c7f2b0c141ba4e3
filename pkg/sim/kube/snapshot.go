package kube

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/homelabctl/homelab/pkg/sim/host"
)

// snapshotMagic starts the simulated etcd's database files (a real one is
// a bbolt file): a snapshot, and the data directory's member/snap/db
// after a restore.
const snapshotMagic = "homelab-sim-etcd/1\n"

// etcdData is what etcd holds of a cluster: its objects, not its members
// (a restore writes new ones) and not the PKI (files on the nodes).
type etcdData struct {
	Endpoint      string
	Version       string
	CertSANs      []string
	DNSDomain     string
	ServiceSubnet string
	PodSubnet     string
	Nodes         []Node
	Tokens        []Token
	DaemonSets    map[string]*DaemonSet
	ConfigMaps    map[string]map[string]string
	Created       time.Time
	// Member and InitialCluster are set in a restored data directory:
	// the member etcdutl wrote (name, peer URL) and the cluster it
	// belongs to.
	Member         *Member `json:",omitempty"`
	InitialCluster string  `json:",omitempty"`
}

func dataOf(c *Cluster) etcdData {
	return etcdData{Endpoint: c.Endpoint, Version: c.Version, CertSANs: c.CertSANs, DNSDomain: c.DNSDomain,
		ServiceSubnet: c.ServiceSubnet, PodSubnet: c.PodSubnet, Nodes: c.Nodes, Tokens: c.Tokens,
		DaemonSets: c.DaemonSets, ConfigMaps: c.ConfigMaps, Created: c.Created}
}

// encodeSnapshot is a snapshot file: the data and, as etcd appends to
// every snapshot it saves, the SHA-256 of what precedes it.
func encodeSnapshot(d etcdData) []byte {
	b, _ := json.Marshal(d)
	body := append([]byte(snapshotMagic), b...)
	sum := sha256.Sum256(body)
	return append(body, sum[:]...)
}

// decodeSnapshot reads a snapshot file, checking its hash unless skip.
// Errors carry etcdutl's words (etcdutl/snapshot/v3_snapshot.go saveDB:
// "expected sha256 %v, got %v"; an unreadable file is written here).
func decodeSnapshot(b []byte, skip bool) (etcdData, error) {
	var d etcdData
	if !bytes.HasPrefix(b, []byte(snapshotMagic)) || len(b) < len(snapshotMagic)+sha256.Size {
		return d, errors.New("snapshot file has an invalid format: not an etcd snapshot")
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if got := sha256.Sum256(body); !skip && !bytes.Equal(got[:], sum) {
		return d, fmt.Errorf("expected sha256 %v, got %v", sum, got[:])
	}
	if err := json.Unmarshal(body[len(snapshotMagic):], &d); err != nil {
		return d, fmt.Errorf("snapshot file has an invalid format: %v", err)
	}
	return d, nil
}

// etcdMounts are the host paths kubeadm's etcd static Pod mounts
// (hostPath volumes etcd-data and etcd-certs, at the same paths): what
// etcdctl writes elsewhere stays in the container.
var etcdMounts = []string{etcdDataDir, pkiDir + "/etcd"}

// snapshotSave is `etcdctl ... snapshot save PATH` in the etcd pod of h
// (k.s.mu held). etcdctl writes PATH.part, renames it and prints
// "Snapshot saved at PATH" (etcdctl/ctlv3/command/snapshot_command.go;
// the JSON log lines etcd's client/v3/snapshot writes on stderr are
// abridged here).
func (k kubectlCall) snapshotSave(h *host.Host, words []string) int {
	if len(words) != 3 {
		fmt.Fprintln(k.c.Stderr, "Error: snapshot save expects one argument\ncommand terminated with exit code 1")
		return 1
	}
	file := words[2]
	part := file + ".part"
	onHost := false
	for _, m := range etcdMounts {
		onHost = onHost || strings.HasPrefix(path.Clean(file), m+"/")
	}
	// etcd holds each Node's status as its kubelet last posted it.
	d := dataOf(k.cl)
	d.Nodes = slices.Clone(d.Nodes)
	for i := range d.Nodes {
		d.Nodes[i].Ready = k.s.ready(d.Nodes[i], k.now)
	}
	b := encodeSnapshot(d)
	if onHost && h != nil {
		fs := files{&host.Call{Host: h, Dir: "/"}}
		if !fs.exists(path.Dir(file)) {
			fmt.Fprintf(k.c.Stderr, "Error: could not open %s (open %s: no such file or directory)\ncommand terminated with exit code 1\n", part, part)
			return 1
		}
		if err := fs.write(file, b, 0o600); err != nil {
			fmt.Fprintf(k.c.Stderr, "Error: %v\ncommand terminated with exit code 1\n", err)
			return 1
		}
	}
	// Elsewhere the file lands in the container's own filesystem, which
	// the host does not see: etcdctl succeeds all the same.
	ts := k.now.UTC().Format("2006-01-02T15:04:05.000Z")
	fmt.Fprintf(k.c.Stderr, "{\"level\":\"info\",\"ts\":\"%s\",\"caller\":\"snapshot/v3_snapshot.go:65\",\"msg\":\"created temporary db file\",\"path\":%q}\n", ts, part)
	fmt.Fprintf(k.c.Stderr, "{\"level\":\"info\",\"ts\":\"%s\",\"caller\":\"snapshot/v3_snapshot.go:88\",\"msg\":\"fetched snapshot\",\"endpoint\":\"https://127.0.0.1:2379\",\"size\":\"%d B\"}\n", ts, len(b))
	fmt.Fprintf(k.c.Stderr, "{\"level\":\"info\",\"ts\":\"%s\",\"caller\":\"snapshot/v3_snapshot.go:97\",\"msg\":\"saved\",\"path\":%q}\n", ts, file)
	fmt.Fprintf(k.c.Stdout, "Snapshot saved at %s\n", file)
	return 0
}

// etcdutlRestore is `etcdutl snapshot restore FILE --data-dir D --name N
// --initial-cluster N=URL --initial-advertise-peer-urls URL
// [--initial-cluster-token T] [--skip-hash-check]`, run with local paths
// given by local (etcdutl/etcdutl/snapshot_command.go and
// etcdutl/snapshot/v3_snapshot.go: the data directory must be empty or
// absent, the local name must be in the initial cluster with the
// advertised peer URL, the snapshot's hash must match). Errors print as
// cobrautl.ExitWithError does: "Error: ..." and exit 1.
func etcdutlRestore(c *host.Call, args []string, local func(string) (string, bool)) int {
	f := parseFlags(args, "skip-hash-check")
	fail := func(format string, a ...any) int {
		fmt.Fprintf(c.Stderr, "Error: "+format+"\n", a...)
		return 1
	}
	if len(f.words) != 3 || f.words[0] != "snapshot" || f.words[1] != "restore" {
		return fail("the simulated etcdutl runs snapshot restore FILE only")
	}
	name := f.values["name"]
	if name == "" {
		name = "default"
	}
	dataDir := f.values["data-dir"]
	if dataDir == "" {
		dataDir = name + ".etcd"
	}
	peer := f.values["initial-advertise-peer-urls"]
	if peer == "" {
		peer = "http://localhost:2380"
	}
	initial := f.values["initial-cluster"]
	if initial == "" {
		initial = "default=http://localhost:2380"
	}
	if !strings.Contains(","+initial+",", ","+name+"="+peer+",") {
		// server/etcdserver/api/membership: the local member must be in
		// the initial cluster with the URLs it advertises.
		return fail("couldn't find local name %q in the initial cluster configuration", name)
	}
	snap, ok := local(f.words[2])
	if !ok {
		return fail("open %s: no such file or directory", f.words[2])
	}
	dir, ok := local(dataDir)
	if !ok {
		return fail("mkdir %s: read-only file system", dataDir)
	}
	if e, err := os.ReadDir(dir); err == nil && len(e) > 0 {
		return fail("data-dir %q not empty or could not be read", dataDir)
	}
	b, err := os.ReadFile(snap)
	if err != nil {
		return fail("open %s: no such file or directory", f.words[2])
	}
	d, err := decodeSnapshot(b, f.has("skip-hash-check"))
	if err != nil {
		return fail("%v", err)
	}
	d.Member = &Member{ID: memberID(), Name: name, PeerURL: peer}
	d.InitialCluster = initial
	body, _ := json.Marshal(d)
	if err := os.MkdirAll(path.Join(dir, "member", "wal"), 0o700); err != nil {
		return fail("%v", err)
	}
	os.MkdirAll(path.Join(dir, "member", "snap"), 0o700)
	if err := os.WriteFile(path.Join(dir, "member", "snap", "db"), append([]byte(snapshotMagic), body...), 0o600); err != nil {
		return fail("%v", err)
	}
	os.WriteFile(path.Join(dir, "member", "wal", "0000000000000000-0000000000000000.wal"), []byte("simulated etcd wal\n"), 0o600)
	// etcdutl/snapshot/v3_snapshot.go logs (zap's console encoder).
	fmt.Fprintf(c.Stderr, "%s\tinfo\tsnapshot/v3_snapshot.go:260\trestoring snapshot\t{\"path\": %q, \"wal-dir\": %q, \"data-dir\": %q, \"snap-dir\": %q}\n",
		time.Now().UTC().Format(time.RFC3339), f.words[2], dataDir+"/member/wal", dataDir, dataDir+"/member/snap")
	fmt.Fprintf(c.Stderr, "%s\tinfo\tsnapshot/v3_snapshot.go:274\trestored snapshot\t{\"path\": %q, \"wal-dir\": %q, \"data-dir\": %q, \"snap-dir\": %q}\n",
		time.Now().UTC().Format(time.RFC3339), f.words[2], dataDir+"/member/wal", dataDir, dataDir+"/member/snap")
	return 0
}

// kubeletRuns reports whether the host of that name, as the cluster knew
// it, still runs a kubelet with its kubelet.conf.
func (s *Sim) kubeletRuns(name string) bool {
	s.mu.Lock()
	h := s.hosts[name]
	s.mu.Unlock()
	if h == nil || !h.Unit("kubelet").Active {
		return false
	}
	_, err := readHostFile(h, kubeDir+"/kubelet.conf")
	return err == nil
}

// restoredData reads a data directory etcdutl restored, false when it
// holds none (empty, or the data of an etcd that ran).
func restoredData(fs files) (etcdData, bool) {
	b, err := fs.read(etcdDataDir + "/member/snap/db")
	if err != nil || !bytes.HasPrefix(b, []byte(snapshotMagic)) {
		return etcdData{}, false
	}
	var d etcdData
	if json.Unmarshal(b[len(snapshotMagic):], &d) != nil || d.Member == nil {
		return etcdData{}, false
	}
	return d, true
}
