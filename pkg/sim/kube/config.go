package kube

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// kubeadmConfig is what the simulation reads of a kubeadm config file
// (InitConfiguration, ClusterConfiguration, JoinConfiguration; v1beta3 or
// v1beta4).
type kubeadmConfig struct {
	kinds map[string]bool
	// InitConfiguration
	Tokens []struct {
		Token string `yaml:"token"`
		TTL   string `yaml:"ttl"`
	} `yaml:"bootstrapTokens"`
	CertificateKey   string `yaml:"certificateKey"`
	LocalAPIEndpoint struct {
		AdvertiseAddress string `yaml:"advertiseAddress"`
	} `yaml:"localAPIEndpoint"`
	NodeRegistration struct {
		Name      string `yaml:"name"`
		CRISocket string `yaml:"criSocket"`
		// IgnorePreflightErrors is merged with --ignore-preflight-errors.
		IgnorePreflightErrors []string `yaml:"ignorePreflightErrors"`
	} `yaml:"nodeRegistration"`
	// ClusterConfiguration
	KubernetesVersion    string `yaml:"kubernetesVersion"`
	ClusterName          string `yaml:"clusterName"`
	ImageRepository      string `yaml:"imageRepository"`
	ControlPlaneEndpoint string `yaml:"controlPlaneEndpoint"`
	APIServer            struct {
		CertSANs []string `yaml:"certSANs"`
	} `yaml:"apiServer"`
	Networking struct {
		PodSubnet     string `yaml:"podSubnet"`
		ServiceSubnet string `yaml:"serviceSubnet"`
		DNSDomain     string `yaml:"dnsDomain"`
	} `yaml:"networking"`
	// JoinConfiguration
	Discovery struct {
		BootstrapToken struct {
			APIServerEndpoint string   `yaml:"apiServerEndpoint"`
			Token             string   `yaml:"token"`
			CACertHashes      []string `yaml:"caCertHashes"`
		} `yaml:"bootstrapToken"`
	} `yaml:"discovery"`
	ControlPlane *struct {
		LocalAPIEndpoint struct {
			AdvertiseAddress string `yaml:"advertiseAddress"`
		} `yaml:"localAPIEndpoint"`
		CertificateKey string `yaml:"certificateKey"`
	} `yaml:"controlPlane"`
	// Kubelet is what the simulation reads of a KubeletConfiguration
	// document (kubelet.config.k8s.io/v1beta1), which kubeadm init writes
	// to /var/lib/kubelet/config.yaml and the kubelet-config ConfigMap.
	Kubelet kubeletConfig `yaml:"-"`
}

// kubeletConfig is the KubeletConfiguration's settings the simulated
// kubelet acts on.
type kubeletConfig struct {
	// FailCgroupV1 is failCgroupV1; nil: the kubelet's default (true
	// from 1.35, false before).
	FailCgroupV1 *bool `yaml:"failCgroupV1" json:"failCgroupV1,omitempty"`
}

// v1beta3LastMinor is the last kubeadm minor that reads
// kubeadm.k8s.io/v1beta3 (cmd/kubeadm/app/util/config/common.go of
// v1.37.2: "v1.37: only v1beta4 config").
const v1beta3LastMinor = 36

// parseConfig reads the documents of a kubeadm config file, as kubeadm of
// minor kubeadmMinor does: an unknown apiVersion or kind of kubeadm's
// group is an error (words of kubeadm's config loader), and so is
// v1beta3 from 1.37 (validateSupportedVersion's words).
func parseConfig(b []byte, kubeadmMinor int) (*kubeadmConfig, error) {
	cfg := &kubeadmConfig{kinds: map[string]bool{}}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("error converting YAML to JSON: %v", err)
		}
		var meta struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
		}
		if err := node.Decode(&meta); err != nil || meta.Kind == "" {
			continue
		}
		group, _, _ := strings.Cut(meta.APIVersion, "/")
		if group == "kubeadm.k8s.io" {
			if meta.APIVersion == "kubeadm.k8s.io/v1beta3" && kubeadmMinor > v1beta3LastMinor {
				//lint:ignore ST1005 kubeadm's own words, full stop included
				return nil, fmt.Errorf("your configuration file uses an old API spec: %q (kind: %q). Please use kubeadm v1.%d instead and run 'kubeadm config migrate --old-config old-config-file --new-config new-config-file', which will write the new, similar spec using a newer API version.", meta.APIVersion, meta.Kind, v1beta3LastMinor)
			}
			if meta.APIVersion != "kubeadm.k8s.io/v1beta3" && meta.APIVersion != "kubeadm.k8s.io/v1beta4" {
				return nil, fmt.Errorf("no kind %q is registered for version %q in scheme \"k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme/scheme.go:31\"", meta.Kind, meta.APIVersion)
			}
			if err := node.Decode(cfg); err != nil {
				return nil, fmt.Errorf("error unmarshaling JSON: %v", err)
			}
		}
		if meta.APIVersion == "kubelet.config.k8s.io/v1beta1" && meta.Kind == "KubeletConfiguration" {
			if err := node.Decode(&cfg.Kubelet); err != nil {
				return nil, fmt.Errorf("error unmarshaling JSON: %v", err)
			}
		}
		cfg.kinds[meta.Kind] = true
	}
	if cfg.Networking.DNSDomain == "" {
		cfg.Networking.DNSDomain = "cluster.local"
	}
	if cfg.Networking.ServiceSubnet == "" {
		cfg.Networking.ServiceSubnet = "10.96.0.0/12"
	}
	return cfg, nil
}

// flags are a command line's flags ("--name value" or "--name=value") and
// positional words.
type flags struct {
	values map[string]string
	words  []string
}

func parseFlags(args []string, boolean ...string) flags {
	f := flags{values: map[string]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			f.words = append(f.words, a)
			continue
		}
		name, val, has := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !has && !contains(boolean, name) && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			val = args[i+1]
			i++
		}
		f.values[name] = val
	}
	return f
}

func (f flags) has(name string) bool { _, ok := f.values[name]; return ok }
