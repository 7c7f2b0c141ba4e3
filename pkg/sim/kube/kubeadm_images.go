package kube

import (
	"context"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/homelabctl/homelab/pkg/sim/host"
)

// configImages is `kubeadm config images list|pull --config F`: list
// prints one image a line; pull pulls each through the CRI into
// containerd's k8s.io namespace and prints "[config/images] Pulled IMAGE"
// (cmd/kubeadm/app/cmd/config.go).
func (s *Sim) configImages(ctx context.Context, c *host.Call, args []string) int {
	if len(args) == 0 || (args[0] != "list" && args[0] != "pull") {
		return fatal(c, "", "the simulated kubeadm knows config images list and pull")
	}
	cfg, code := readConfig(c, parseFlags(args[1:]))
	if cfg == nil {
		return code
	}
	if cfg.KubernetesVersion == "" {
		cfg.KubernetesVersion = kubeVersion(c.Host, "kubeadm")
	}
	images := controlPlaneImages(cfg.ImageRepository, cfg.KubernetesVersion, kubeVersion(c.Host, "kubeadm"))
	if args[0] == "list" {
		for _, i := range images {
			fmt.Fprintln(c.Stdout, i)
		}
		return 0
	}
	if !c.Host.Unit("containerd").Active {
		return fatal(c, "", "failed to create new CRI image service: validate service connection: validate CRI v1 image API for endpoint \"unix:///var/run/containerd/containerd.sock\": rpc error: code = Unavailable desc = connection error")
	}
	for _, i := range images {
		// Each image through the CRI, as the pull's ImagePullCheck does
		// (cmd/kubeadm/app/cmd/config.go: the error wrapped once).
		if why := s.pull(ctx, c.Host, i); why != "" {
			return fatal(c, "", "failed to pull image %q: %s", i, why)
		}
		fmt.Fprintf(c.Stdout, "[config/images] Pulled %s\n", i)
	}
	return 0
}

// ctrRun is `ctr [-n NS] run --rm [--mount type=bind,src=S,dst=D,options=rbind:rw]...
// IMAGE ID CMD...` (containerd's cmd/ctr/commands/run): the image must be
// in the namespace's store; the simulated containers run etcdutl of an
// etcd image only, and see the host only through their bind mounts.
func (s *Sim) ctrRun(c *host.Call, ns string, args []string) int {
	type mount struct{ src, dst string }
	var mounts []mount
	var words []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(words) == 2 { // IMAGE ID: the rest is the container's command
			words = append(words, args[i:]...)
			break
		}
		switch {
		case a == "--rm" || a == "--net-host":
		case a == "--mount" && i+1 < len(args):
			i++
			var m mount
			for _, kv := range strings.Split(args[i], ",") {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "src", "source":
					m.src = v
				case "dst", "destination", "target":
					m.dst = v
				}
			}
			if m.src == "" || m.dst == "" {
				fmt.Fprintf(c.Stderr, "ctr: invalid mount %q\n", args[i])
				return 1
			}
			mounts = append(mounts, m)
		case strings.HasPrefix(a, "-"):
			fmt.Fprintf(c.Stderr, "ctr: the simulated ctr run does not know %s\n", a)
			return 1
		default:
			words = append(words, a)
		}
	}
	if len(words) < 3 {
		fmt.Fprintln(c.Stderr, "ctr: image ref and container id must be provided")
		return 1
	}
	image, cmd := words[0], words[2:]
	have, _ := os.ReadFile(c.Local(imagesFile))
	if !strings.Contains("\n"+string(have), "\n"+ns+" "+image+"\n") {
		fmt.Fprintf(c.Stderr, "ctr: image %q: not found\n", image)
		return 1
	}
	if !strings.Contains(image, "/etcd:") || cmd[0] != "etcdutl" {
		fmt.Fprintf(c.Stderr, "ctr: the simulated containers run etcdutl of an etcd image, not %q in %s\n", strings.Join(cmd, " "), image)
		return 1
	}
	local := func(p string) (string, bool) {
		p = path.Clean(p)
		for _, m := range slices.Backward(mounts) {
			if p == m.dst || strings.HasPrefix(p, strings.TrimSuffix(m.dst, "/")+"/") {
				return c.Local(path.Join(m.src, strings.TrimPrefix(p, m.dst))), true
			}
		}
		return "", false // in the container's own filesystem: gone with it (--rm)
	}
	return etcdutlRestore(c, cmd[1:], local)
}
