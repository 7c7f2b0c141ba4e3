package kube

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/homelabctl/homelab/pkg/sim/host"
)

// stackTrace ends kubeadm's error output.
const stackTrace = "To see the stack trace of this error execute with --v=5 or higher"

// kubeadm is the kubeadm program: init, join, reset, token create|delete,
// init phase upload-certs, version.
func (s *Sim) kubeadm(ctx context.Context, c *host.Call) int {
	args := c.Args[1:]
	if len(args) == 0 {
		fmt.Fprintln(c.Stdout, "Usage:\n  kubeadm [command]")
		return 0
	}
	switch args[0] {
	case "version":
		v := kubeVersion(c.Host, "kubeadm")
		if f := parseFlags(args[1:]); f.values["o"] == "short" || f.values["output"] == "short" {
			fmt.Fprintln(c.Stdout, v)
		} else {
			fmt.Fprintf(c.Stdout, "kubeadm version: &version.Info{Major:\"1\", Minor:\"%s\", GitVersion:\"%s\", GoVersion:\"go1.22.10\", Compiler:\"gc\", Platform:\"linux/amd64\"}\n", strings.Split(v, ".")[1], v)
		}
		return 0
	case "init":
		if len(args) > 2 && args[1] == "phase" && args[2] == "upload-certs" {
			return s.uploadCerts(c, parseFlags(args[3:], "upload-certs"))
		}
		return s.initCmd(ctx, c, parseFlags(args[1:], "upload-certs"))
	case "join":
		return s.join(ctx, c, parseFlags(args[1:], "control-plane"))
	case "reset":
		return s.reset(ctx, c, parseFlags(args[1:], "f", "force"))
	case "token":
		return s.token(c, args[1:])
	case "config":
		if len(args) > 1 && args[1] == "images" {
			return s.configImages(ctx, c, args[2:])
		}
	}
	// cobra's error, printed by cmd/kubeadm/app/util/errors/errors.go.
	return fatal(c, "", "unknown command %q for \"kubeadm\"", args[0])
}

// fatal prints kubeadm's error of a phase and returns 1: the runner's
// "error execution phase %s" (cmd/kubeadm/app/cmd/phases/workflow/runner.go)
// and HandleError's "error: " and stack-trace hint, exit code 1
// (cmd/kubeadm/app/util/errors/errors.go).
func fatal(c *host.Call, phase, format string, a ...any) int {
	msg := fmt.Sprintf(format, a...)
	if phase != "" {
		msg = "error execution phase " + phase + ": " + msg
	}
	fmt.Fprintf(c.Stderr, "error: %s\n%s\n", msg, stackTrace)
	return 1
}

// readConfig reads --config.
func readConfig(c *host.Call, f flags) (*kubeadmConfig, int) {
	file := f.values["config"]
	if file == "" {
		return nil, fatal(c, "", "the simulated kubeadm needs --config")
	}
	b, err := files{c}.read(c.Path(file))
	if err != nil {
		return nil, fatal(c, "", "unable to read config from %q : open %s: no such file or directory", file, file) // cmd/kubeadm/app/util/config/initconfiguration.go
	}
	cfg, err := parseConfig(b, minorOf(kubeVersion(c.Host, "kubeadm")))
	if err != nil {
		return nil, fatal(c, "", "%v", err)
	}
	return cfg, 0
}

// problem is a failed preflight check: its name and error.
type problem struct{ name, err string }

// runChecks prints preflight problems as kubeadm's RunChecks does
// (cmd/kubeadm/app/preflight/checks.go: "\t[ERROR %s]: %v", the
// "Some fatal errors occurred" block on stderr, then the phase fails with
// "preflight checks failed") and reports whether there were none.
func runChecks(c *host.Call, errs []problem) bool {
	if len(errs) == 0 {
		return true
	}
	fmt.Fprint(c.Stderr, "[preflight] Some fatal errors occurred:\n")
	for _, p := range errs {
		fmt.Fprintf(c.Stderr, "\t[ERROR %s]: %s\n", p.name, p.err)
	}
	fmt.Fprint(c.Stderr, "[preflight] If you know what you are doing, you can make a check non-fatal with `--ignore-preflight-errors=...`\n")
	fatal(c, "preflight", "preflight checks failed")
	return false
}

// rootCheck is kubeadm's RunRootCheckOnly, run alone before the other
// checks (cmd/kubeadm/app/preflight/checks_unix.go).
func rootCheck(c *host.Call) bool {
	if c.Root() {
		return true
	}
	return runChecks(c, []problem{{"IsPrivilegedUser", "user is not running as root"}})
}

// ignoredChecks is kubeadm's ValidateIgnorePreflightErrors: the names in
// the config's nodeRegistration.ignorePreflightErrors and in
// --ignore-preflight-errors, lower-cased, merged; "all" with any other
// name is refused (cmd/kubeadm/app/apis/kubeadm/validation/validation.go).
func ignoredChecks(c *host.Call, f flags, cfg *kubeadmConfig) ([]string, bool) {
	var list []string
	add := func(v string) {
		if v = strings.ToLower(strings.TrimSpace(v)); v != "" && !contains(list, v) {
			list = append(list, v)
		}
	}
	for _, v := range cfg.NodeRegistration.IgnorePreflightErrors {
		add(v)
	}
	if v, ok := f.values["ignore-preflight-errors"]; ok {
		for _, v := range strings.Split(v, ",") { // a string slice flag
			add(v)
		}
	}
	if contains(list, "all") && len(list) > 1 {
		sorted := slices.Clone(list)
		slices.Sort(sorted)
		fatal(c, "", "ignore-preflight-errors: Invalid value: %q: don't specify individual checks if 'all' is used", strings.Join(sorted, ","))
		return nil, false
	}
	return list, true
}

// ignoreChecks drops the problems the ignored names list (ignoredChecks;
// "all" for every one) and prints each as kubeadm's warning on stderr
// (cmd/kubeadm/app/preflight/checks.go RunChecks).
func ignoreChecks(c *host.Call, ignored []string, errs []problem) []problem {
	var kept []problem
	for _, p := range errs {
		if contains(ignored, "all") || contains(ignored, strings.ToLower(p.name)) {
			fmt.Fprintf(c.Stderr, "\t[WARNING %s]: %s\n", p.name, p.err)
			continue
		}
		kept = append(kept, p)
	}
	return kept
}

// fileChecks are FileAvailable checks (cmd/kubeadm/app/preflight/checks.go).
func fileChecks(c *host.Call, paths []string) []problem {
	var errs []problem
	for _, p := range paths {
		if (files{c}).exists(p) {
			errs = append(errs, problem{"FileAvailable-" + strings.ReplaceAll(p, "/", "-"), p + " already exists"})
		}
	}
	return errs
}

// commonChecks are kubeadm's addCommonChecks as far as simulated: CRI,
// ContainerRuntimeVersion (from 1.35 a warning for a runtime without the
// CRI RuntimeConfig call, containerd before 2.0), Swap (a warning),
// SystemVerification (systemVerification)
// (cmd/kubeadm/app/preflight/checks.go); warnings are printed at once.
func commonChecks(c *host.Call) []problem {
	var errs []problem
	if !c.Host.Unit("containerd").Active {
		// "container runtime is not running" is cmd/kubeadm/app/util/runtime/runtime.go;
		// the gRPC words after it are grpc-go's (not checked against its source).
		errs = append(errs, problem{"CRI", `container runtime is not running: rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial unix /var/run/containerd/containerd.sock: connect: no such file or directory"`})
	}
	if m := minorOf(kubeVersion(c.Host, "kubeadm")); m >= runtimeConfigWarningMinor && len(errs) == 0 && !runtimeConfigImplemented(c.Host) {
		// ContainerRuntimeVersionCheck (preflight/checks.go of v1.35.4,
		// v1.36.3 and v1.37.2, each naming the next minor).
		fmt.Fprintf(c.Stderr, "\t[WARNING ContainerRuntimeVersion]: You must update your container runtime to a version that supports the CRI method RuntimeConfig. Falling back to using cgroupDriver from kubelet config will be removed in 1.%d. For more information, see https://git.k8s.io/enhancements/keps/sig-node/4033-group-driver-detection-over-cri\n", m+1)
	}
	if swapOn(c.Host) {
		fmt.Fprintln(c.Stderr, "\t[WARNING Swap]: swap is supported for cgroup v2 only. The kubelet must be properly configured to use swap. Please refer to https://kubernetes.io/docs/concepts/architecture/nodes/#swap-memory, or disable swap on the node")
	}
	errs = append(errs, systemVerification(c)...)
	return errs
}

// cgroupV1ErrorMinor is the first kubelet minor for which kubeadm's
// SystemVerification fails on a cgroup v1 host.
const cgroupV1ErrorMinor = 35

// systemVerification is kubeadm's SystemVerificationCheck as far as
// simulated: its CgroupsValidator on a cgroup v1 host
// (k8s.io/system-validators validators/cgroup_validator_linux.go). kubeadm
// 1.35 to 1.37 (system-validators v1.12.1) fail for a kubelet of 1.35 or
// newer, whatever its failCgroupV1, and warn for an older one; kubeadm 1.34
// (v1.10.2) only warns. Warnings are printed at once. Not simulated: the
// other validators, the verification table kubeadm prints on failure, and
// the failure to get a missing kubelet's version.
func systemVerification(c *host.Call) []problem {
	if !cgroupV1(c.Host) {
		return nil
	}
	const name = "SystemVerification"
	if minorOf(kubeVersion(c.Host, "kubeadm")) < cgroupV1ErrorMinor {
		fmt.Fprintf(c.Stderr, "\t[WARNING %s]: cgroups v1 support is in maintenance mode, please migrate to cgroups v2\n", name)
		return nil
	}
	msg := "cgroups v1 support is deprecated and will be removed in a future release. " +
		"Please migrate to cgroups v2. To explicitly enable cgroups v1 support for kubelet v1.35 or newer, " +
		"you must set the kubelet configuration option 'FailCgroupV1' to 'false'. You must also explicitly " +
		"skip this validation. For more information, see https://git.k8s.io/enhancements/keps/sig-node/5573-remove-cgroup-v1"
	if kubelet := kubeVersion(c.Host, "kubelet"); kubelet == "" || minorOf(kubelet) < cgroupV1ErrorMinor {
		fmt.Fprintf(c.Stderr, "\t[WARNING %s]: %s\n", name, msg)
		return nil
	}
	return []problem{{name, msg}}
}

// ipv4Checks is kubeadm's addIPv4Checks: ip_forward
// (cmd/kubeadm/app/preflight/checks_linux.go, checks.go FileContentCheck).
func ipv4Checks(c *host.Call) []problem {
	var errs []problem
	if c.Host.Sysctl("net.ipv4.ip_forward") != "1" {
		errs = append(errs, problem{"FileContent--proc-sys-net-ipv4-ip_forward", "/proc/sys/net/ipv4/ip_forward contents are not set to 1"})
	}
	return errs
}

// controlPlaneChecks are kubeadm's InitNodeChecks as far as simulated:
// Port-6443, the manifests, then (a first control plane only) the common
// checks, then the etcd data directory.
func controlPlaneChecks(c *host.Call, port6443, first bool) []problem {
	var errs []problem
	if port6443 {
		errs = append(errs, problem{"Port-6443", "Port 6443 is in use"})
	}
	errs = append(errs, fileChecks(c, controlPlaneFiles)...)
	if first {
		errs = append(errs, commonChecks(c)...)
		errs = append(errs, ipv4Checks(c)...)
	}
	if (files{c}).nonEmpty(etcdDataDir) {
		errs = append(errs, problem{"DirAvailable--var-lib-etcd", etcdDataDir + " is not empty"})
	}
	return errs
}

// controlPlaneFiles are the files whose presence fails a control plane's
// preflight.
var controlPlaneFiles = []string{
	manifestsDir + "/kube-apiserver.yaml", manifestsDir + "/kube-controller-manager.yaml",
	manifestsDir + "/kube-scheduler.yaml", manifestsDir + "/etcd.yaml",
}

// checkVersion compares kubernetesVersion with kubeadm's own, as
// kubeadm's validation does (the newer-than text is written here).
func checkVersion(c *host.Call, want, have string) bool {
	wm, hm := minorOf(want), minorOf(have)
	switch {
	case wm == 0:
		fatal(c, "", "couldn't parse Kubernetes version %q", want)
		return false
	case wm < hm-1: // cmd/kubeadm/app/util/config/common.go
		fatal(c, "", "this version of kubeadm only supports deploying clusters with the control plane version >= 1.%d.0. Current version: %s", hm-1, want)
		return false
	case wm > hm: // written here: kubeadm 1.34 only warns ([WARNING KubernetesVersion], cmd/kubeadm/app/preflight/checks.go)
		fatal(c, "", "the specified Kubernetes version %s is newer than kubeadm's own %s", want, have)
		return false
	}
	return true
}

func minorOf(v string) int {
	var major, minor int
	fmt.Sscanf(strings.TrimPrefix(v, "v"), "%d.%d", &major, &minor)
	return minor
}

// serveAPI serves the apiserver of h on :6443 with the certificate on
// its disk.
func (s *Sim) serveAPI(h *host.Host) {
	cert, _ := readHostFile(h, pkiDir+"/apiserver.crt")
	h.ServeTLS(6443, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		healthy := false
		s.with(func(c *Cluster, _ time.Time) { healthy = c != nil && c.quorum() })
		switch r.URL.Path {
		case "/readyz", "/livez", "/healthz":
			if !healthy {
				http.Error(w, "[-]etcd failed: reason withheld\nreadyz check failed", http.StatusInternalServerError)
				return
			}
			w.Write([]byte("ok"))
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"forbidden: User \"system:anonymous\" cannot get path \"%s\"","reason":"Forbidden","details":{},"code":403}`+"\n", r.URL.Path)
		}
	}), cert)
}

// memberID makes a random etcd member ID.
func memberID() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:]) | 1<<60
}

// token is `kubeadm token create [TOKEN] [--ttl D]` and `token delete ID`.
func (s *Sim) token(c *host.Call, args []string) int {
	f := parseFlags(args)
	if len(f.words) == 0 {
		return fatal(c, "", "missing subcommand; \"token\" is not meant to be run on its own") // written here
	}
	if !(files{c}).exists(kubeDir + "/admin.conf") {
		return fatal(c, "", "failed to load admin kubeconfig: open /etc/kubernetes/admin.conf: no such file or directory")
	}
	code := 0
	s.with(func(cl *Cluster, now time.Time) {
		if cl == nil {
			code = fatal(c, "", "Get \"https://%s/api/v1/namespaces/kube-system/secrets\": dial tcp: connect: connection refused", "127.0.0.1:6443")
			return
		}
		switch f.words[0] {
		case "create":
			tok := ""
			if len(f.words) > 1 {
				tok = f.words[1]
			} else {
				tok = randomToken()
			}
			id, secret, ok := strings.Cut(tok, ".")
			if !ok || len(id) != 6 || len(secret) != 16 {
				code = fatal(c, "", "the bootstrap token %q was not of the form %q", tok, `\A([a-z0-9]{6})\.([a-z0-9]{16})\z`) // cmd/kubeadm/app/apis/bootstraptoken/v1/utils.go
				return
			}
			// cmd/kubeadm/app/cmd/token.go RunCreateToken returns
			// UpdateOrCreateTokens's error unwrapped
			// (cmd/kubeadm/app/phases/bootstraptoken/node/token.go): the
			// Secret read first, an existing one refused; then the
			// create, whose API errors kubeadm retries for its
			// KubernetesAPICall timeout and reports wrapped.
			for _, t := range cl.Tokens {
				if t.ID == id {
					code = fatal(c, "", "a token with id %q already exists", id)
					return
				}
			}
			if !cl.quorum() {
				code = fatal(c, "", "failed to create or update bootstrap token with name bootstrap-token-%s: unable to create *v1.Secret: etcdserver: request timed out", id) // cmd/kubeadm/app/util/apiclient/idempotency.go CreateOrUpdate
				return
			}
			ttl := 24 * time.Hour
			if v, given := f.values["ttl"]; given {
				d, err := time.ParseDuration(v)
				if err != nil {
					code = fatal(c, "", "invalid argument %q for \"--ttl\" flag: time: invalid duration %q", v, v)
					return
				}
				ttl = d
			}
			cl.Tokens = append(cl.Tokens, Token{ID: id, Secret: secret, Expires: now.Add(ttl)})
			fmt.Fprintln(c.Stdout, tok)
		case "delete":
			for _, id := range f.words[1:] {
				id, _, _ = strings.Cut(id, ".")
				found := false
				for i, t := range cl.Tokens {
					if t.ID == id {
						cl.Tokens = append(cl.Tokens[:i], cl.Tokens[i+1:]...)
						found = true
						break
					}
				}
				if !found {
					code = fatal(c, "", "failed to delete bootstrap token %q: secrets \"bootstrap-token-%s\" not found", id, id) // cmd/kubeadm/app/cmd/token.go
					return
				}
				fmt.Fprintf(c.Stdout, "bootstrap token %q deleted\n", id) // cmd/kubeadm/app/cmd/token.go
			}
		case "list":
			fmt.Fprintln(c.Stdout, "TOKEN                     TTL         EXPIRES                USAGES                   DESCRIPTION   EXTRA GROUPS")
			for _, t := range cl.Tokens {
				fmt.Fprintf(c.Stdout, "%s.%s   %-11s %s   authentication,signing   <none>        system:bootstrappers:kubeadm:default-node-token\n",
					t.ID, t.Secret, t.Expires.Sub(now).Round(time.Hour).String(), t.Expires.UTC().Format(time.RFC3339))
			}
		default:
			code = fatal(c, "", "unknown command %q for \"kubeadm token\"", f.words[0])
		}
	})
	return code
}

func randomToken() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 22)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:6]) + "." + string(b[6:])
}

// uploadCerts is `kubeadm init phase upload-certs --upload-certs
// [--config F | --certificate-key K]`.
func (s *Sim) uploadCerts(c *host.Call, f flags) int {
	key := f.values["certificate-key"]
	if f.has("config") {
		cfg, code := readConfig(c, f)
		if cfg == nil {
			return code
		}
		key = cfg.CertificateKey
	}
	if !f.has("upload-certs") {
		fmt.Fprintln(c.Stdout, "[upload-certs] Skipping phase. Please see --upload-certs") // cmd/kubeadm/app/cmd/phases/init/uploadcerts.go
		return 0
	}
	if !(files{c}).exists(kubeDir + "/admin.conf") {
		return fatal(c, "upload-certs", "failed to load admin kubeconfig: open /etc/kubernetes/admin.conf: no such file or directory")
	}
	if key == "" {
		key = randomHex(32)
	}
	code := 0
	s.with(func(cl *Cluster, now time.Time) {
		if cl == nil || !cl.quorum() {
			// "error uploading certs" is cmd/kubeadm/app/cmd/phases/init/uploadcerts.go; the cause is written here.
			code = fatal(c, "upload-certs", "error uploading certs: Get \"https://%s/api/v1/namespaces/kube-system/secrets/kubeadm-certs?timeout=10s\": dial tcp: connect: connection refused", cl.endpointOr())
			return
		}
		cl.Certs = &UploadedCerts{Uploaded: now, KeyDigest: digest(key)}
	})
	if code != 0 {
		return code
	}
	// cmd/kubeadm/app/phases/copycerts/copycerts.go, cmd/kubeadm/app/cmd/phases/init/uploadcerts.go
	fmt.Fprintf(c.Stdout, "[upload-certs] Storing the certificates in Secret \"kubeadm-certs\" in the \"kube-system\" Namespace\n[upload-certs] Using certificate key:\n%s\n", key)
	return 0
}

func (c *Cluster) endpointOr() string {
	if c == nil {
		return "127.0.0.1:6443"
	}
	return c.Endpoint
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// readHostFile reads a host's file by its host path.
func readHostFile(h *host.Host, p string) ([]byte, error) {
	return (files{&host.Call{Host: h, Dir: "/"}}).read(p)
}

// runtimeConfigWarningMinor is the first kubeadm minor whose preflight
// warns of a container runtime without the CRI RuntimeConfig call.
const runtimeConfigWarningMinor = 35

// runtimeConfigImplemented reports whether the host's containerd answers
// the CRI RuntimeConfig call: containerd 2.0 and later.
func runtimeConfigImplemented(h *host.Host) bool {
	v, ok := installedVersion(h, "containerd")
	major, _, _ := strings.Cut(v, ".")
	return ok && major != "0" && major != "1"
}
