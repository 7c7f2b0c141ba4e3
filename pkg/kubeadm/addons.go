package kubeadm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/step"
)

// calicoManifest is the pinned manifest of a Calico release. Calico reads
// the pod subnet from kubeadm's ClusterConfiguration when its manifest
// leaves CALICO_IPV4POOL_CIDR unset, as the release manifest does.
func calicoManifest(version string) string {
	return "https://raw.githubusercontent.com/projectcalico/calico/" + version + "/manifests/calico.yaml"
}

// cniWork applies the pinned Calico manifest once, or again when the
// running calico-node is another version.
type cniWork struct {
	hosts   nodes
	master  *inventory.Guest
	version string
	intent  step.Change
}

func (w cniWork) image(ctx context.Context, g *inventory.Guest, h remote.Host) (string, bool, error) {
	out, err := run(ctx, h, command{script: calicoQuery(g)})
	switch {
	case err == nil:
		return strings.TrimSpace(out), true, nil
	case exited(err) && strings.Contains(out, "NotFound"):
		return "", false, nil
	}
	return "", false, err
}

func (w cniWork) Observe(ctx context.Context) (step.Change, error) {
	return observeCluster(ctx, w.hosts, w.intent, func(ctx context.Context, g *inventory.Guest, h remote.Host) (step.Change, error) {
		image, found, err := w.image(ctx, g, h)
		switch {
		case err != nil && exited(err):
			return noCluster(w.intent), nil
		case err != nil:
			return step.Change{}, err
		case !found:
			return w.intent, nil
		case strings.HasSuffix(image, ":"+w.version):
			return step.Change{Action: step.None}, nil
		}
		return step.Change{Action: step.Update, Fields: []step.Field{{Name: "calico-node image", Old: image, New: "calico/node:" + w.version}}}, nil
	})
}

func (w cniWork) Apply(ctx context.Context, _ step.Change, out io.Writer) error {
	g, h, err := w.hosts.manager(ctx)
	if err != nil {
		return fmt.Errorf("apply calico %s: %w", w.version, err)
	}
	if _, err := run(ctx, h, command{script: kubectl(g, "apply -f "+remote.Quote(calicoManifest(w.version))), timeout: 5 * time.Minute, out: out}); err != nil {
		return fmt.Errorf("%s: apply calico %s: %w", g.Name, w.version, err)
	}
	return nil
}

// kubeconfigWork writes the admin kubeconfig where the user asked, with
// server https://<name>:6443, mode 0600. It never replaces a kubeconfig of
// another cluster.
type kubeconfigWork struct {
	hosts  nodes
	master string
	path   string
	server string
	intent step.Change
}

// want is the admin kubeconfig of master1 with the server set to the name.
func (w kubeconfigWork) want(ctx context.Context, h remote.Host) ([]byte, error) {
	// admin.conf holds a client key: it is never printed.
	conf, err := run(ctx, h, command{script: "cat " + adminConf})
	if err != nil {
		return nil, err
	}
	return withServer([]byte(conf), w.server)
}

func (w kubeconfigWork) Observe(ctx context.Context) (step.Change, error) {
	return observeCluster(ctx, w.hosts, w.intent, func(ctx context.Context, _ *inventory.Guest, h remote.Host) (step.Change, error) {
		want, err := w.want(ctx, h)
		if err != nil && exited(err) {
			return w.intent, nil // no cluster yet: made earlier in this run
		}
		if err != nil {
			return step.Change{}, err
		}
		return w.change(want)
	})
}

func (w kubeconfigWork) change(want []byte) (step.Change, error) {
	have, err := os.ReadFile(w.path)
	if errors.Is(err, fs.ErrNotExist) {
		return w.intent, nil
	}
	if err != nil {
		return step.Change{}, err
	}
	if !sameCluster(have, want) {
		return step.Change{Action: step.Conflict, Reason: fmt.Sprintf("%s is a kubeconfig of another cluster (or not a kubeconfig); move it away or choose another path", w.path)}, nil
	}
	fi, err := os.Stat(w.path)
	if err != nil {
		return step.Change{}, err
	}
	// Each control plane's admin.conf carries its own client certificate:
	// a kubeconfig of this cluster (its CA) for the endpoint is kept, from
	// whichever control plane it came.
	endpoint := strings.TrimSuffix(strings.TrimPrefix(w.server, "https://"), fmt.Sprintf(":%d", APIServerPort))
	if (bytes.Equal(have, want) || IsAdminKubeconfig(have, endpoint)) && fi.Mode().Perm() == 0o600 {
		return step.Change{Action: step.None}, nil
	}
	return step.Change{Action: step.Update, Fields: []step.Field{step.SensitiveField("admin credentials"), {Name: "mode", Old: fmt.Sprintf("%04o", fi.Mode().Perm()), New: "0600"}}}, nil
}

func (w kubeconfigWork) Apply(ctx context.Context, _ step.Change, out io.Writer) error {
	g, h, err := w.hosts.manager(ctx)
	if err != nil {
		return fmt.Errorf("admin kubeconfig: %w", err)
	}
	want, err := w.want(ctx, h)
	if err != nil {
		return fmt.Errorf("%s: read %s: %w", g.Name, adminConf, err)
	}
	c, err := w.change(want)
	if err != nil {
		return err
	}
	switch c.Action {
	case step.None:
		return nil
	case step.Conflict:
		return errors.New(c.Reason)
	}
	if err := writePrivate(w.path, want); err != nil {
		return err
	}
	fmt.Fprintf(out, "kubeconfig written to %s (server %s)\n", w.path, w.server)
	return nil
}

// writePrivate writes a 0600 file atomically, its directory 0700 when new.
func writePrivate(path string, content []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".kubeconfig-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// kubeconfig is the part of a kubeconfig homelab reads.
type kubeconfig struct {
	Clusters []struct {
		Cluster struct {
			Server string `yaml:"server"`
			CA     string `yaml:"certificate-authority-data"`
		} `yaml:"cluster"`
	} `yaml:"clusters"`
}

// IsAdminKubeconfig reports whether content is a kubeconfig as the
// kubeconfig step writes it for a cluster behind endpoint: a cluster CA,
// and every cluster's server https://<endpoint>:6443.
func IsAdminKubeconfig(content []byte, endpoint string) bool {
	var k kubeconfig
	if yaml.Unmarshal(content, &k) != nil || len(k.Clusters) == 0 {
		return false
	}
	for _, c := range k.Clusters {
		if c.Cluster.CA == "" || c.Cluster.Server != fmt.Sprintf("https://%s:%d", endpoint, APIServerPort) {
			return false
		}
	}
	return true
}

// sameCluster reports whether two kubeconfigs trust the same cluster CA.
func sameCluster(a, b []byte) bool {
	var ka, kb kubeconfig
	if yaml.Unmarshal(a, &ka) != nil || yaml.Unmarshal(b, &kb) != nil || len(ka.Clusters) == 0 || len(kb.Clusters) == 0 {
		return false
	}
	return ka.Clusters[0].Cluster.CA != "" && ka.Clusters[0].Cluster.CA == kb.Clusters[0].Cluster.CA
}

// withServer returns a kubeconfig with every cluster's server set to
// server, the rest kept as it was.
func withServer(conf []byte, server string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(conf, &doc); err != nil {
		return nil, fmt.Errorf("admin.conf: %w", err)
	}
	n := 0
	if len(doc.Content) == 1 {
		for _, c := range mapValue(doc.Content[0], "clusters").Content {
			if s := mapValue(mapValue(c, "cluster"), "server"); s.Kind == yaml.ScalarNode {
				s.Value = server
				n++
			}
		}
	}
	if n == 0 {
		return nil, errors.New("admin.conf: no cluster server to set")
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// mapValue returns the value of key in a mapping node, or an empty node.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
	}
	return &yaml.Node{}
}
