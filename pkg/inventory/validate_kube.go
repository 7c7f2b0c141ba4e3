package inventory

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
	"unicode"

	"github.com/homelabctl/homelab/pkg/kubeversion"
)

// DefaultImageRepository is where kubeadm pulls the control-plane images
// from when kubernetes.image_repository is empty.
const DefaultImageRepository = "registry.k8s.io"

var (
	// imageRepository is a registry host (and port) and an optional path,
	// as kubeadm's imageRepository and image references take it.
	imageRepository = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)*$`)
	// imagePath is a repository path inside a registry (components
	// separated by "/").
	imagePath = regexp.MustCompile(`^[a-z0-9]+([.-][a-z0-9]+)*(/[a-z0-9]+([.-][a-z0-9]+)*)*$`)
	// imageTag is an image tag without underscores (the file name's last
	// underscore separates it).
	imageTag = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,127}$`)
)

const (
	wantImageRepository = "a registry and optional path such as registry.k8s.io or registry.lab.example:5000/k8s (lower case, no scheme)"
	wantArchiveName     = "named <path>_<tag>.tar after the image it holds, with \"_\" for each \"/\" of the path (kube-apiserver_v1.34.2.tar, coredns_coredns_v1.12.1.tar)"
)

// ArchiveImage returns the image an archive of kubernetes.image_archives
// holds, from its URL's file name: <path>_<tag>.tar, where the last "_"
// separates the tag and every other "_" stands for a "/" of the path,
// holds <repository>/<path>:<tag>, with repository the inventory's
// image_repository or registry.k8s.io. kube-apiserver_v1.34.2.tar is
// registry.k8s.io/kube-apiserver:v1.34.2, coredns_coredns_v1.12.1.tar
// registry.k8s.io/coredns/coredns:v1.12.1.
func ArchiveImage(rawURL, repository string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	name, ok := strings.CutSuffix(path.Base(u.Path), ".tar")
	i := strings.LastIndex(name, "_")
	if !ok || i <= 0 {
		return "", fmt.Errorf("%q is not %s", path.Base(u.Path), wantArchiveName)
	}
	p, tag := strings.ReplaceAll(name[:i], "_", "/"), name[i+1:]
	if !imagePath.MatchString(p) || !imageTag.MatchString(tag) {
		return "", fmt.Errorf("%q is not %s", path.Base(u.Path), wantArchiveName)
	}
	if repository == "" {
		repository = DefaultImageRepository
	}
	return repository + "/" + p + ":" + tag, nil
}

// downloadURL reports what is wrong with an http(s) URL homelab hands to
// curl or apt, or "".
func downloadURL(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`"'\[]`, r)
	}) {
		return fmt.Sprintf("%q contains a space, a quote, a bracket or a control character", s)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return fmt.Sprintf("%q is not an http:// or https:// URL", s)
	}
	if !isHost(u.Hostname()) {
		return fmt.Sprintf("%q: %q is not a DNS name or IP address", s, u.Hostname())
	}
	return ""
}

// kubernetesVersion checks kubernetes.version against the releases
// homelab accepts (kubeversion.Releases): an error for a version that is
// not a release or of a minor homelab does not accept, a warning for one
// past its upstream end of life.
func (v *validator) kubernetesVersion(s string) {
	ver, err := kubeversion.Parse(s)
	if err != nil {
		v.errorf("kubernetes.version", "%v", err)
		return
	}
	warning, err := kubeversion.Check(ver)
	if err != nil {
		v.errorf("kubernetes.version", "%v", err)
		return
	}
	if warning != "" {
		v.warnf("kubernetes.version", "%s", warning)
	}
}

// kubernetesSources checks where the nodes get packages and images from,
// and the node options.
func (v *validator) kubernetesSources(k *Kubernetes) {
	p := &k.Packages
	switch p.Source {
	case PackagesMirror:
		for _, f := range []struct{ field, value string }{{"kubernetes.packages.repository", p.Repository}, {"kubernetes.packages.key_url", p.KeyURL}} {
			if !v.required(f.field, f.value == "") {
				continue
			}
			if msg := downloadURL(f.value); msg != "" {
				v.errorf(f.field, "%s", msg)
			}
		}
	case PackagesUpstream, PackagesPreinstalled:
		if p.Repository != "" {
			v.errorf("kubernetes.packages.repository", "only for source: mirror (source is %s)", p.Source)
		}
		if p.KeyURL != "" {
			v.errorf("kubernetes.packages.key_url", "only for source: mirror (source is %s)", p.Source)
		}
	default:
		v.errorf("kubernetes.packages.source", "%q: want %s, %s or %s", p.Source, PackagesUpstream, PackagesMirror, PackagesPreinstalled)
	}
	if k.ImageRepository != "" && !imageRepository.MatchString(k.ImageRepository) {
		v.errorf("kubernetes.image_repository", "%q is not %s", k.ImageRepository, wantImageRepository)
	}
	seen := map[string]string{}
	for i, a := range k.ImageArchives {
		f := fmt.Sprintf("kubernetes.image_archives[%d]", i)
		if msg := downloadURL(a); msg != "" {
			v.errorf(f, "%s", msg)
			continue
		}
		image, err := ArchiveImage(a, k.ImageRepository)
		if err != nil {
			v.errorf(f, "%v", err)
			continue
		}
		if first, dup := seen[image]; dup {
			v.errorf(f, "holds the image %s, as %s does", image, v.where(first))
			continue
		}
		seen[image] = f
	}
	if n := k.KubeProxy.ConntrackMaxPerCore; n != nil && *n < 0 {
		v.errorf("kubernetes.kube_proxy.conntrack_max_per_core", "%d: want 0 (leave nf_conntrack_max alone) or more", *n)
	}
	switch k.CNI.Name {
	case CNICalico:
		v.required("kubernetes.cni.version", k.CNI.Version == "")
	case CNIBridge:
		if k.CNI.Version != "" {
			v.errorf("kubernetes.cni.version", "the bridge CNI takes no version (it uses the node's containernetworking plugins)")
		}
	default:
		v.errorf("kubernetes.cni.name", "%q: want %s or %s", k.CNI.Name, CNICalico, CNIBridge)
	}
}
