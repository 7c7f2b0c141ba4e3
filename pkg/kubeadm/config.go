package kubeadm

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"embed"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/kubeversion"
	"github.com/homelabctl/homelab/pkg/step"
)

// The kubeadm files are text/template templates with typed data rather than
// Go structs marshalled with yaml.v3: the two API versions differ in shape
// (extraArgs as a map or a list), the output keeps a fixed, reviewable field
// order with a header comment, and STYLE.md §8 asks every rendered file to
// be a template parsed once from embed. Every string value goes through
// "q" (a double-quoted YAML scalar), so no value can change the structure.

//go:embed templates/*.tmpl
var templateFS embed.FS

// tmpl holds every template of the package, parsed once.
var tmpl = template.Must(template.New("kubeadm").
	Funcs(template.FuncMap{"q": quote, "deref": deref}).
	ParseFS(templateFS, "templates/*.tmpl"))

// deref renders the value an optional setting points at.
func deref(v any) string {
	switch p := v.(type) {
	case *int:
		return strconv.Itoa(*p)
	case *bool:
		return strconv.FormatBool(*p)
	}
	return fmt.Sprint(v)
}

// quote renders s as a double-quoted YAML scalar. Go's escapes (\n, \t,
// \", \\, \xNN, \uNNNN, \UNNNNNNNN) are all valid YAML escapes.
func quote(s string) string { return strconv.Quote(s) }

// Where the rendered files go on a node, and the mode they are written with
// (they hold the bootstrap token and the certificate key).
const (
	InitConfigPath = "/etc/kubernetes/homelab/init.yaml"
	JoinConfigPath = "/etc/kubernetes/homelab/join.yaml"
	ConfigMode     = "0600"
)

// Fixed parts of the rendered configuration.
const (
	// APIServerPort is the port every apiserver binds and the endpoint
	// name is reached at.
	APIServerPort = 6443
	// DNSDomain is the cluster's service DNS domain.
	DNSDomain = "cluster.local"
	// CRISocket is containerd's socket, which the prepare step installs.
	CRISocket = "unix:///var/run/containerd/containerd.sock"
	// TokenTTL is how long the bootstrap token homelab chooses lives:
	// as long as the certificates uploaded by --upload-certs.
	TokenTTL = "2h0m0s"
)

// APIVersion is the kubeadm config API homelab renders: kubeadm.k8s.io/v1beta4,
// the only one every minor homelab accepts (kubeversion.Releases) reads
// (kubeadm 1.37 no longer has v1beta3).
const APIVersion = "kubeadm.k8s.io/v1beta4"

// PendingCACertHash stands in a plan for the CA certificate hash, which is
// known only once master1 is initialised.
const PendingCACertHash = "(known after kubeadm init)"

// Secrets are the values homelab chooses (token, certificate key) or reads
// from master1 (CA hash) that go into kubeadm's files.
type Secrets struct {
	// Token is the bootstrap token, [a-z0-9]{6}.[a-z0-9]{16}.
	Token string
	// CertificateKey is the 32-byte AES key, hex, that encrypts the
	// control-plane certificates --upload-certs shares.
	CertificateKey string
	// CACertHash pins the cluster CA: sha256:<hex of the SPKI digest>.
	CACertHash string
}

// Redacted returns the secrets as a plan shows them: the token and the
// certificate key as step.Redacted, and the CA hash (not a secret) as it
// is, or PendingCACertHash when it is not known yet.
func (s Secrets) Redacted() Secrets {
	r := Secrets{Token: step.Redacted, CertificateKey: step.Redacted, CACertHash: s.CACertHash}
	if r.CACertHash == "" {
		r.CACertHash = PendingCACertHash
	}
	return r
}

// CACertHash returns the pin a joining node checks the cluster CA against
// (discovery.bootstrapToken.caCertHashes), from master1's
// /etc/kubernetes/pki/ca.crt: "sha256:" and the hex SHA-256 of the
// certificate's DER SubjectPublicKeyInfo, as kubeadm's pubkeypin.Hash.
func CACertHash(caPEM []byte) (string, error) {
	block, _ := pem.Decode(caPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return "", errors.New("CA certificate: no PEM CERTIFICATE block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("CA certificate: %w", err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

var (
	tokenRE   = regexp.MustCompile(`^[a-z0-9]{6}\.[a-z0-9]{16}$`)
	certKeyRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	caHashRE  = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// check reports the secrets that are neither well formed nor placeholders
// of a redacted rendering.
func (s Secrets) check(needKey, needHash bool) error {
	var errs []error
	if s.Token != step.Redacted && !tokenRE.MatchString(s.Token) {
		errs = append(errs, errors.New("bootstrap token is not of the form [a-z0-9]{6}.[a-z0-9]{16}"))
	}
	if needKey && s.CertificateKey != step.Redacted && !certKeyRE.MatchString(s.CertificateKey) {
		errs = append(errs, errors.New("certificate key is not 64 lowercase hex characters"))
	}
	if needHash && s.CACertHash != PendingCACertHash && !caHashRE.MatchString(s.CACertHash) {
		errs = append(errs, errors.New("CA certificate hash is not of the form sha256:<64 hex>"))
	}
	return errors.Join(errs...)
}

// ParseVersion reads the inventory's kubernetes.version (1.35.4 or
// v1.35.4, the same release) and checks that its minor is one homelab
// accepts (kubeversion.Check); validation warns of one past its end of
// life.
func ParseVersion(s string) (kubeversion.Version, error) {
	v, err := kubeversion.Parse(s)
	if err == nil {
		_, err = kubeversion.Check(v)
	}
	if err != nil {
		return kubeversion.Version{}, fmt.Errorf("kubernetes.version: %w", err)
	}
	return v, nil
}

// arg is one extra command-line argument of a component.
type arg struct{ Name, Value string }

// argList is extra arguments, rendered as v1beta4's list of {name, value}
// at an indent.
type argList struct {
	Indent string
	Args   []arg
}

// nodeData is a node's nodeRegistration.
type nodeData struct {
	Name, IP, CRISocket string
	KubeletArgs         argList
	// IgnorePreflightErrors are the preflight checks kubeadm makes
	// warnings (ignoredChecks).
	IgnorePreflightErrors []string
}

// initData is the data of init.yaml.
type initData struct {
	Header, APIVersion       string
	Token, CertificateKey    string
	TokenTTL                 string
	BindPort                 int
	Node                     nodeData
	KubernetesVersion        string
	ControlPlaneEndpoint     string
	CertificatesDir          string
	CertSANs                 []string
	PodSubnet, ServiceSubnet string
	DNSDomain                string
	// ImageRepository is kubernetes.image_repository ("": kubeadm's).
	ImageRepository string
	// FailCgroupV1 and ConntrackMaxPerCore are optional settings of the
	// KubeletConfiguration and a KubeProxyConfiguration (nil: left out).
	FailCgroupV1        *bool
	ConntrackMaxPerCore *int
}

// joinData is the data of join.yaml.
type joinData struct {
	Header, APIVersion string
	APIServerEndpoint  string
	Token, CACertHash  string
	ControlPlane       bool
	CertificateKey     string
	BindPort           int
	Node               nodeData
}

// ManagedMark starts every file homelab renders for kubeadm.
const ManagedMark = "# managed by homelab"

func header(inv *inventory.Inventory) string {
	return fmt.Sprintf("%s (inventory %s); rewritten on every run", ManagedMark, strings.Join(strings.Fields(inv.Name), "_"))
}

// Endpoint returns the address every client reaches the API at:
// <kubernetes.endpoint>:6443.
func Endpoint(inv *inventory.Inventory) string {
	return fmt.Sprintf("%s:%d", inv.Kubernetes.Endpoint, APIServerPort)
}

// CertSANs returns the names and addresses the apiserver certificate
// carries beside kubeadm's own: the endpoint name, every VIP, every control
// plane's IP and hostname.
func CertSANs(inv *inventory.Inventory) []string { return certSANs(inv) }

// settings checks what every rendering needs and returns the version.
func settings(inv *inventory.Inventory, node *inventory.Guest) (kubeversion.Version, error) {
	k := inv.Kubernetes
	if k == nil {
		return kubeversion.Version{}, errors.New("the inventory has no kubernetes section")
	}
	if node == nil {
		return kubeversion.Version{}, errors.New("no node given")
	}
	if !node.IP.IsValid() {
		return kubeversion.Version{}, fmt.Errorf("guest %s has no IP", node.Name)
	}
	if k.Endpoint == "" {
		return kubeversion.Version{}, errors.New("kubernetes.endpoint is empty")
	}
	return ParseVersion(k.Version)
}

// nodeFor is g's nodeRegistration: its name, containerd, the kubelet's
// node-ip pinned to its real IP (the VIP also lives on its network), and
// the preflight checks kubeadm is to ignore (ignoredChecks).
func nodeFor(g *inventory.Guest, k *inventory.Kubernetes, v kubeversion.Version) nodeData {
	return nodeData{
		Name: g.Name, IP: g.IP.String(), CRISocket: CRISocket,
		KubeletArgs:           argList{Indent: "    ", Args: []arg{{"node-ip", g.IP.String()}}},
		IgnorePreflightErrors: ignoredChecks(k, v),
	}
}

// SystemVerificationCgroupV1Minor is the first Kubernetes minor whose
// kubeadm fails its SystemVerification preflight check on a cgroup v1
// node, whatever the kubelet's failCgroupV1 (k8s.io/system-validators
// CgroupsValidator, v1.12.1 in kubeadm 1.35 to 1.37).
const SystemVerificationCgroupV1Minor = 35

// ignoredChecks are the preflight checks kubeadm ignores on every node:
// SystemVerification when kubernetes.kubelet.fail_cgroup_v1 is false from
// 1.35. kubeadm then demands both failCgroupV1: false and the skipped
// check to run a cgroup v1 node; the inventory's false is that opt-in. On a
// cgroup v2 node the check passes; ignoring it only turns what its other
// validators (kernel, OS) find into warnings.
func ignoredChecks(k *inventory.Kubernetes, v kubeversion.Version) []string {
	if p := k.Kubelet.FailCgroupV1; p != nil && !*p && v.Minor >= SystemVerificationCgroupV1Minor {
		return []string{"SystemVerification"}
	}
	return nil
}

// InitConfig renders master's kubeadm init configuration: InitConfiguration
// (bootstrap token, certificate key, the node's real IP), ClusterConfiguration
// (controlPlaneEndpoint on the endpoint name, certSANs, networking) and
// KubeletConfiguration (systemd cgroups). Use s.Redacted() for plans.
func InitConfig(inv *inventory.Inventory, master *inventory.Guest, s Secrets) ([]byte, error) {
	return renderInit(inv, master, s, "")
}

// renderInit is InitConfig with an optional certificatesDir, which the
// validation tests point into a temporary directory.
func renderInit(inv *inventory.Inventory, master *inventory.Guest, s Secrets, certDir string) ([]byte, error) {
	v, err := settings(inv, master)
	if err == nil {
		err = s.check(true, false)
	}
	if err != nil {
		return nil, fmt.Errorf("kubeadm init configuration for %s: %w", guestName(master), err)
	}
	k := inv.Kubernetes
	return execute("init.yaml", initData{
		Header: header(inv), APIVersion: APIVersion,
		Token: s.Token, CertificateKey: s.CertificateKey, TokenTTL: TokenTTL,
		BindPort: APIServerPort, Node: nodeFor(master, k, v),
		KubernetesVersion: v.String(), ControlPlaneEndpoint: Endpoint(inv),
		CertificatesDir: certDir, CertSANs: certSANs(inv),
		PodSubnet: k.PodSubnet.String(), ServiceSubnet: k.ServiceSubnet.String(), DNSDomain: DNSDomain,
		ImageRepository: k.ImageRepository, FailCgroupV1: k.Kubelet.FailCgroupV1, ConntrackMaxPerCore: k.KubeProxy.ConntrackMaxPerCore,
	}, master)
}

// JoinConfig renders node's kubeadm join configuration: discovery through
// the endpoint name with the token and the CA hash, and for a control plane
// its own advertise address and the certificate key. Use s.Redacted() for
// plans.
func JoinConfig(inv *inventory.Inventory, node *inventory.Guest, controlPlane bool, s Secrets) ([]byte, error) {
	v, err := settings(inv, node)
	if err == nil {
		err = s.check(controlPlane, true)
	}
	if err != nil {
		return nil, fmt.Errorf("kubeadm join configuration for %s: %w", guestName(node), err)
	}
	d := joinData{
		Header: header(inv), APIVersion: APIVersion,
		APIServerEndpoint: Endpoint(inv), Token: s.Token, CACertHash: s.CACertHash,
		ControlPlane: controlPlane, BindPort: APIServerPort, Node: nodeFor(node, inv.Kubernetes, v),
	}
	if controlPlane {
		d.CertificateKey = s.CertificateKey
	}
	return execute("join.yaml", d, node)
}

// initOptionFields are the init configuration's optional settings the
// inventory sets, as a plan shows them (none when it sets none).
func initOptionFields(k *inventory.Kubernetes) []step.Field {
	var fields []step.Field
	if k.ImageRepository != "" {
		fields = append(fields, step.Set("imageRepository", k.ImageRepository))
	}
	if p := k.Kubelet.FailCgroupV1; p != nil {
		fields = append(fields, step.Set("kubelet failCgroupV1", deref(p)))
	}
	if p := k.KubeProxy.ConntrackMaxPerCore; p != nil {
		fields = append(fields, step.Set("kube-proxy conntrack.maxPerCore", deref(p)))
	}
	return fields
}

func guestName(g *inventory.Guest) string {
	if g == nil {
		return "(no node)"
	}
	return g.Name
}

func execute(name string, data any, g *inventory.Guest) ([]byte, error) {
	var b bytes.Buffer
	if err := tmpl.ExecuteTemplate(&b, name, data); err != nil {
		return nil, fmt.Errorf("render kubeadm %s for %s: %w", name, guestName(g), err)
	}
	if b.Len() > 0 && b.Bytes()[b.Len()-1] != '\n' {
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}
