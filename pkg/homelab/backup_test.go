package homelab_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/backup"
	"github.com/homelabctl/homelab/pkg/engine"
	. "github.com/homelabctl/homelab/pkg/homelab"
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/plan"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/simlab"
)

// onNode runs script as root on a guest of the lab and returns its stdout.
func onNode(t *testing.T, lab *simlab.Lab, node, script string) (string, error) {
	t.Helper()
	h, err := lab.Clients().Hosts(node)
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.Run(context.Background(), remote.Command{Script: script})
	return string(res.Stdout), err
}

const kubectlAdmin = "kubectl --kubeconfig /etc/kubernetes/admin.conf "

// takeBackup backs the lab's cluster up into a new directory.
func takeBackup(t *testing.T, inv *inventory.Inventory, lab *simlab.Lab) *backup.Backup {
	t.Helper()
	b, err := Backup(context.Background(), inv, BackupOptions{Clients: lab.Clients(), Dir: filepath.Join(t.TempDir(), "backup")})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	return b
}

// secretsOf are strings of a backup that must never reach any output:
// every PEM body line of its keys and certificates, the snapshot, and
// the same in base64 (kubeconfigs carry base64 PEM).
func secretsOf(t *testing.T, b *backup.Backup) []string {
	t.Helper()
	var out []string
	for _, f := range b.Manifest.Files {
		c, _ := b.File(f.Path)
		if f.Path == backup.ClusterConfiguration {
			continue // its fields are the inventory's
		}
		out = append(out, base64.StdEncoding.EncodeToString(c)[:40])
		for _, l := range strings.Split(string(c), "\n") {
			if len(l) >= 40 && !strings.HasPrefix(l, "-----") {
				out = append(out, l)
			}
		}
		if f.Path == backup.Snapshot {
			out = append(out, string(c[:min(60, len(c))]))
		}
	}
	return out
}

// The drill of docs/dr-runbook.md on the simulated lab: up, a ConfigMap,
// backup, down (every guest gone, the kubeconfig with them), up
// --restore. The ConfigMap is back, the cluster CA is the old one, the
// kubeconfig from before the disaster works, etcd has three voting
// members, a second plan changes nothing; the backup is a 0700 directory
// of 0600 files, and none of its contents reaches the plan (text, JSON,
// Markdown) or the run's events.
func TestDisasterRecoveryDrill(t *testing.T) {
	inv, lab := haLab(t)
	ctx := context.Background()
	upFull(t, inv, lab, "up")
	if out, err := onNode(t, lab, "master-2", kubectlAdmin+"create configmap drill --from-literal=answer=42"); err != nil {
		t.Fatalf("create configmap: %v %s", err, out)
	}
	before, _ := lab.Kube.Cluster()
	oldConf, err := os.ReadFile(lab.Clients().Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}

	b := takeBackup(t, inv, lab)
	if fi, err := os.Stat(b.Dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("backup directory: %v %v", fi.Mode(), err)
	}
	files := 0
	filepath.WalkDir(b.Dir, func(p string, d os.DirEntry, err error) error {
		fi, _ := d.Info()
		switch {
		case d.IsDir() && fi.Mode().Perm() != 0o700, !d.IsDir() && fi.Mode().Perm() != 0o600:
			t.Errorf("%s: mode %v", p, fi.Mode())
		case !d.IsDir():
			files++
		}
		return nil
	})
	if want := len(backup.PKIFiles) + 3; files != want { // PKI, snapshot, ClusterConfiguration, manifest
		t.Errorf("%d files in the backup, want %d", files, want)
	}
	id := b.Manifest.Identity
	if fp, _ := backup.Fingerprint(before.CA); id.CAFingerprint != fp || id.Endpoint != inv.Kubernetes.Endpoint || id.ClusterName != "kubernetes" || id.Inventory != inv.Name {
		t.Errorf("manifest identity %+v (CA %s)", id, fp)
	}
	if out, _ := onNode(t, lab, b.Manifest.From, "ls /var/lib/etcd"); strings.Contains(out, "homelab-backup") {
		t.Errorf("the snapshot was left on %s: %s", b.Manifest.From, out)
	}

	downGuests(t, inv, lab)

	// The plan names the backup and says it restores; nothing of it.
	restore, err := OpenBackup(inv, b.Dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Plan(ctx, inv, fullStack(t), PlanOptions{Clients: lab.Clients(), Restore: restore})
	if err != nil {
		t.Fatal(err)
	}
	var rendered bytes.Buffer
	plan.RenderText(&rendered, p, plan.TextOptions{})
	plan.RenderJSON(&rendered, p)
	plan.RenderMarkdown(&rendered, p)
	initLine := ""
	for _, l := range strings.Split(rendered.String(), "\n") {
		if strings.Contains(l, "kube/init/master-1") && initLine == "" {
			initLine = l
		}
	}
	if !strings.Contains(initLine, "restoring the backup of cluster kubernetes at k8s-api.home.example") || !strings.Contains(initLine, "from "+b.Manifest.From) {
		t.Errorf("the init step does not say what it restores: %q", initLine)
	}
	secrets := secretsOf(t, b)
	assertNoSecrets(t, "the plan", rendered.String(), secrets)

	var log runLog
	_, _, err = Up(ctx, inv, fullStack(t), ApplyOptions{Clients: lab.Clients(), Parallelism: 6, Sink: engine.SinkFunc(log.Event), Restore: b.Dir})
	out := strings.Join(log.lines, "\n")
	if err != nil {
		t.Fatalf("up --restore: %v\n%s", err, out)
	}
	assertNoSecrets(t, "the run's events", out, secrets)
	for _, want := range []string{"kube/init/master-1: master-1: restoring the backup of", "[certs] Using existing ca certificate authority", "etcd data restored",
		// The restored Nodes say Ready for 50s (sim/kube: ReadyUntil):
		// kubeadm join would refuse the new machine (master-2 joins
		// seconds after the init).
		"kube/join/master-2: master-2: deleting its Node, which says Ready though master-2 has not joined"} {
		if !strings.Contains(out, want) {
			t.Errorf("the run lacks %q:\n%s", want, out)
		}
	}
	after, ok := lab.Kube.Cluster()
	if !ok {
		t.Fatal("no cluster after the restore")
	}
	if !bytes.Equal(after.CA, before.CA) {
		t.Error("the restored cluster has another CA")
	}
	healthy(t, lab)
	if got, err := onNode(t, lab, "master-3", kubectlAdmin+"get configmap drill -o jsonpath='{.data.answer}'"); err != nil || got != "42" {
		t.Errorf("the ConfigMap after the restore: %q %v", got, err)
	}
	// The kubeconfig of before the disaster, used from a node through the
	// endpoint name (now the VIP).
	h, _ := lab.Clients().Hosts("worker-1")
	if _, err := h.Sync(ctx, remote.File{Path: "/root/old.conf", Content: oldConf, Mode: 0o600}); err != nil {
		t.Fatal(err)
	}
	if got, err := onNode(t, lab, "worker-1", "kubectl --kubeconfig /root/old.conf get configmap drill -o jsonpath='{.data.answer}'"); err != nil || got != "42" {
		t.Errorf("the old kubeconfig: %q %v", got, err)
	}
	if c, _ := lab.Kube.Cluster(); c.DaemonSets["kube-proxy"].Annotations["homelab/endpoint"] != "192.168.30.10" {
		t.Errorf("kube-proxy was not restarted for the VIP after the restore: %+v", c.DaemonSets["kube-proxy"])
	}
	converged(t, inv, lab, "the plan after the restore")
	// A second up --restore on the restored cluster changes nothing.
	if _, _, err := Up(ctx, inv, fullStack(t), ApplyOptions{Clients: lab.Clients(), Parallelism: 6, Restore: b.Dir}); err != nil {
		t.Errorf("a second up --restore: %v", err)
	}
}

// assertNoSecrets fails when out holds any of secrets.
func assertNoSecrets(t *testing.T, what, out string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("%s holds backup contents %q", what, s)
			return
		}
	}
}

// A corrupt backup (a file changed, a file missing) and a backup of
// another cluster are refused with typed errors before anything is
// observed or changed: after the refusals the lab is as bare as down
// left it.
func TestRestoreRefusesCorruptAndForeignBackups(t *testing.T) {
	inv, lab := haLab(t)
	ctx := context.Background()
	upFull(t, inv, lab, "up")
	b := takeBackup(t, inv, lab)
	downGuests(t, inv, lab)

	copyBackup := func(edit func(dir string)) string {
		t.Helper()
		dir := filepath.Join(t.TempDir(), "copy")
		if err := b.Write(dir); err != nil {
			t.Fatal(err)
		}
		edit(dir)
		return dir
	}
	tests := []struct {
		name  string
		dir   string
		check func(error) bool
		want  string
	}{
		{"changed snapshot", copyBackup(func(dir string) {
			p := filepath.Join(dir, "etcd/snapshot.db")
			c, _ := os.ReadFile(p)
			c[len(c)/2] ^= 1
			os.WriteFile(p, c, 0o600)
		}), func(err error) bool {
			var e *backup.CorruptError
			return errors.As(err, &e) && e.File == backup.Snapshot
		},
			"is corrupt: etcd/snapshot.db: SHA-256 "},
		{"missing key", copyBackup(func(dir string) { os.Remove(filepath.Join(dir, "pki/ca.key")) }),
			func(err error) bool { var e *backup.CorruptError; return errors.As(err, &e) && e.File == "pki/ca.key" },
			"pki/ca.key: listed in the manifest but not readable"},
		{"no manifest", copyBackup(func(dir string) { os.Remove(filepath.Join(dir, backup.ManifestFile)) }),
			func(err error) bool { var e *backup.CorruptError; return errors.As(err, &e) },
			"has no manifest.json"},
		{"another endpoint", copyBackup(func(dir string) {
			p := filepath.Join(dir, backup.ManifestFile)
			c, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.ReplaceAll(c, []byte(`"endpoint": "k8s-api.home.example"`), []byte(`"endpoint": "k8s.elsewhere.example"`)), 0o600)
		}), func(err error) bool { var e *backup.ForeignError; return errors.As(err, &e) && e.Field == "endpoint" },
			`is of another cluster: its endpoint is "k8s.elsewhere.example", the inventory's is "k8s-api.home.example"`},
		{"another cluster name", copyBackup(func(dir string) {
			p := filepath.Join(dir, backup.ManifestFile)
			c, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.ReplaceAll(c, []byte(`"cluster_name": "kubernetes"`), []byte(`"cluster_name": "prod"`)), 0o600)
		}), func(err error) bool {
			var e *backup.ForeignError
			return errors.As(err, &e) && e.Field == "cluster name"
		},
			`its cluster name is "prod"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var log runLog
			p, _, err := Up(ctx, inv, fullStack(t), ApplyOptions{Clients: lab.Clients(), Sink: engine.SinkFunc(log.Event), Restore: tc.dir})
			if err == nil || !tc.check(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("up --restore %s: %v, want %q", tc.name, err, tc.want)
			}
			if p != nil || len(log.done) > 0 || len(log.lines) > 0 {
				t.Errorf("something ran before the refusal: %v %v", log.done, log.lines)
			}
		})
	}
	removals, err := DownPlan(ctx, inv, lab.Clients())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range removals {
		if r.Keep == "" {
			t.Errorf("the refused restores left %s", r.What)
		}
	}
}
