// Command k8sdist writes, from the binaries tools/k8s/build.sh built, the
// container image archives a lab imports (one docker-archive per image that
// `kubeadm config images list` names) and the kubelet, kubeadm, kubectl and
// kubernetes-cni packages in a signed apt repository (internal/dist).
//
//	k8sdist -bin DIR -version v1.34.2 -etcd v3.6.5 -coredns v1.12.1 -cni v1.7.1 [-base kube-proxy=DIR] -images DIR -apt DIR
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/homelabctl/homelab/tools/k8s/internal/dist"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "k8sdist:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fl := flag.NewFlagSet("k8sdist", flag.ContinueOnError)
	var set dist.Set
	var images, apt string
	fl.StringVar(&set.Bin, "bin", "", "directory of the built binaries (and cni/)")
	fl.StringVar(&set.Kubernetes, "version", "", "Kubernetes version of the binaries (v1.34.2)")
	fl.StringVar(&set.Etcd, "etcd", "", "etcd version built (v3.6.5)")
	fl.StringVar(&set.CoreDNS, "coredns", "", "CoreDNS version built (v1.12.1)")
	fl.StringVar(&set.CNI, "cni", "", "CNI plugins version built (v1.7.1)")
	fl.StringVar(&images, "images", "", "directory for the image archives")
	fl.StringVar(&apt, "apt", "", "directory for the apt repository")
	set.Bases = map[string]string{}
	fl.Func("base", "IMAGE=DIR: a root file tree added to the image IMAGE (repeatable)", func(v string) error {
		name, dir, ok := strings.Cut(v, "=")
		if !ok || name == "" || dir == "" {
			return fmt.Errorf("-base wants IMAGE=DIR, not %q", v)
		}
		set.Bases[name] = dir
		return nil
	})
	if err := fl.Parse(args); err != nil {
		return err
	}
	if set.Bin == "" || set.Kubernetes == "" || set.Etcd == "" || set.CoreDNS == "" || set.CNI == "" || images == "" || apt == "" {
		return fmt.Errorf("-bin, -version, -etcd, -coredns, -cni, -images and -apt are all required")
	}
	// The names are what the built kubeadm itself pulls.
	list, err := exec.CommandContext(ctx, filepath.Join(set.Bin, "kubeadm"), "config", "images", "list", "--kubernetes-version", set.Kubernetes).Output()
	if err != nil {
		return fmt.Errorf("kubeadm config images list: %w", err)
	}
	imgs, err := set.Images(strings.Fields(string(list)))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(images, 0o755); err != nil {
		return err
	}
	var refs bytes.Buffer
	for _, img := range imgs {
		start := time.Now()
		name := ArchiveName(img.Ref)
		if err := writeAtomic(filepath.Join(images, name), img.WriteArchive); err != nil {
			return err
		}
		fmt.Fprintf(&refs, "%s %s\n", name, img.Ref)
		fmt.Fprintf(out, "k8sdist: image %s -> images/%s (%s)\n", img.Ref, name, time.Since(start).Round(time.Millisecond))
	}
	if err := os.WriteFile(filepath.Join(images, "images.txt"), refs.Bytes(), 0o644); err != nil {
		return err
	}
	start := time.Now()
	debs, err := set.Debs()
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Second)
	key, err := dist.NewSigningKey(now)
	if err != nil {
		return err
	}
	if err := dist.WriteRepository(apt, debs, key, now); err != nil {
		return err
	}
	for _, d := range debs {
		fmt.Fprintf(out, "k8sdist: package %s\n", d.Filename())
	}
	fmt.Fprintf(out, "k8sdist: apt repository %s signed by %X (%s)\n", apt, key.PrimaryKey.Fingerprint, time.Since(start).Round(time.Millisecond))
	return nil
}

// ArchiveName is the file an image's archive is written to:
// registry.k8s.io/coredns/coredns:v1.12.1 → coredns_coredns_v1.12.1.tar.
func ArchiveName(ref string) string {
	name := strings.TrimPrefix(ref, "registry.k8s.io/")
	return strings.NewReplacer("/", "_", ":", "_").Replace(name) + ".tar"
}

func writeAtomic(file string, write func(io.Writer) error) error {
	f, err := os.Create(file + ".tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := write(f); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), file)
}
