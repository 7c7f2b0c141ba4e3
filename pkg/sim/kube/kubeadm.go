package kube

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/http"
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
	}
	fmt.Fprintf(c.Stderr, "unknown command %q for \"kubeadm\"\nTo see the stack trace of this error execute with --v=5 or higher\n", args[0])
	return 1
}

// fatal prints kubeadm's error of a phase and returns 1.
func fatal(c *host.Call, phase, format string, a ...any) int {
	msg := fmt.Sprintf(format, a...)
	if phase != "" {
		msg = "error execution phase " + phase + ": " + msg
	}
	fmt.Fprintf(c.Stderr, "%s\n%s\n", msg, stackTrace)
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
		return nil, fatal(c, "", "unable to read config from %q : open %s: no such file or directory", file, file)
	}
	cfg, err := parseConfig(b)
	if err != nil {
		return nil, fatal(c, "", "%v", err)
	}
	return cfg, 0
}

// preflight runs the checks init and join share and the files given;
// it prints the fatal ones as kubeadm does and reports whether all passed.
func preflight(c *host.Call, paths []string, etcd bool, port6443 bool) bool {
	var errs []string
	fs := files{c}
	if !c.Root() {
		errs = append(errs, "[ERROR IsPrivilegedUser]: user is not running as root")
	}
	if c.Host.Sysctl("net.ipv4.ip_forward") != "1" {
		errs = append(errs, "[ERROR FileContent--proc-sys-net-ipv4-ip_forward]: /proc/sys/net/ipv4/ip_forward contents are not set to 1")
	}
	if !c.Host.Unit("containerd").Active {
		errs = append(errs, `[ERROR CRI]: container runtime is not running: output: time="2024-12-01T10:00:00Z" level=fatal msg="validate service connection: validate CRI v1 runtime API for endpoint \"unix:///var/run/containerd/containerd.sock\": rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing: dial unix /var/run/containerd/containerd.sock: connect: no such file or directory\""`+"\n, error: exit status 1")
	}
	if port6443 {
		errs = append(errs, "[ERROR Port-6443]: Port 6443 is in use")
	}
	for _, p := range paths {
		if fs.exists(p) {
			name := strings.ReplaceAll(strings.TrimPrefix(p, "/"), "/", "-")
			errs = append(errs, fmt.Sprintf("[ERROR FileAvailable--%s]: %s already exists", name, p))
		}
	}
	if etcd && fs.nonEmpty(etcdDataDir) {
		errs = append(errs, "[ERROR DirAvailable--var-lib-etcd]: /var/lib/etcd is not empty")
	}
	if swapOn(c.Host) {
		fmt.Fprintln(c.Stderr, "\t[WARNING Swap]: swap is supported for cgroup v2 only. The kubelet must be properly configured to use swap. Please refer to https://kubernetes.io/docs/concepts/architecture/nodes/#swap-memory, or disable swap on the node")
	}
	if len(errs) == 0 {
		return true
	}
	fmt.Fprintf(c.Stderr, "error execution phase preflight: [preflight] Some fatal errors occurred:\n\t%s\n[preflight] If you know what you are doing, you can make a check non-fatal with `--ignore-preflight-errors=...`\n%s\n",
		strings.Join(errs, "\n\t"), stackTrace)
	return false
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
	case wm < hm-1:
		fatal(c, "", "this version of kubeadm only supports deploying clusters with the control plane version >= 1.%d.0. Current version: %s", hm-1, want)
		return false
	case wm > hm:
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
		return fatal(c, "", "missing subcommand; \"token\" is not meant to be run on its own")
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
				code = fatal(c, "", "the bootstrap token %q was not of the form %q", tok, `\A([a-z0-9]{6})\.([a-z0-9]{16})\z`)
				return
			}
			for _, t := range cl.Tokens {
				if t.ID == id {
					code = fatal(c, "", "a token with id %q already exists", id)
					return
				}
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
					code = fatal(c, "", "failed to delete bootstrap token with id %q: secrets \"bootstrap-token-%s\" not found", id, id)
					return
				}
				fmt.Fprintf(c.Stdout, "bootstrap token %q deleted\n", id)
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
		fmt.Fprintln(c.Stdout, "[upload-certs] Skipping phase. Please see --upload-certs")
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
			code = fatal(c, "upload-certs", "error uploading certs: Get \"https://%s/api/v1/namespaces/kube-system/secrets/kubeadm-certs?timeout=10s\": dial tcp: connect: connection refused", cl.endpointOr())
			return
		}
		cl.Certs = &UploadedCerts{Uploaded: now, KeyDigest: digest(key)}
	})
	if code != 0 {
		return code
	}
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
