package kubeadm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/step"
)

// HostDialer reaches a guest over SSH by its inventory name.
type HostDialer func(guest string) (remote.Host, error)

// nodes is how the steps reach the nodes: dial, and the nodes that did
// not answer a moment ago (observing does not wait for them again).
type nodes struct {
	dial    HostDialer
	silence *remote.Silence
	// running, when set, says whether the hypervisor runs a node: one
	// not running is planned as fresh without waiting for its SSH.
	running func(ctx context.Context, node string) (bool, error)
	// masters are the control planes, in the inventory's order, that
	// manager picks from; chosen remembers its last pick.
	masters []*inventory.Guest
	chosen  *managers
}

// Timeouts bound the sequence's gates and commands. Zero fields take the
// defaults of DefaultTimeouts.
type Timeouts struct {
	// APIServer is how long master1's /readyz may take after init.
	APIServer time.Duration
	// ControlPlane is how long every apiserver and etcd member may take
	// after the joins.
	ControlPlane time.Duration
	// VIP is how long the path through HAProxy may take.
	VIP time.Duration
	// Endpoint is how long the name may take to answer on the VIP from
	// every node after the flip.
	Endpoint time.Duration
	// NodesReady is how long the nodes may take to turn Ready.
	NodesReady time.Duration
	// Command bounds one kubeadm init or join.
	Command time.Duration
	// Poll is the pause between two looks of a gate.
	Poll time.Duration
}

// DefaultTimeouts are the timeouts of a real lab.
var DefaultTimeouts = Timeouts{
	APIServer: 5 * time.Minute, ControlPlane: 5 * time.Minute, VIP: 3 * time.Minute,
	Endpoint: 3 * time.Minute, NodesReady: 10 * time.Minute, Command: 15 * time.Minute, Poll: 2 * time.Second,
}

func (t Timeouts) withDefaults() Timeouts {
	d := DefaultTimeouts
	for _, f := range []struct{ v, def *time.Duration }{
		{&t.APIServer, &d.APIServer}, {&t.ControlPlane, &d.ControlPlane}, {&t.VIP, &d.VIP},
		{&t.Endpoint, &d.Endpoint}, {&t.NodesReady, &d.NodesReady}, {&t.Command, &d.Command}, {&t.Poll, &d.Poll},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return t
}

// Lifetimes of what kubeadm hands out, and the margin homelab keeps before
// their end: a join never starts with a token or an upload about to lapse.
const (
	tokenLife  = 2 * time.Hour // TokenTTL
	certsLife  = 2 * time.Hour // kubeadm deletes the uploaded certificates after two hours
	lifeMargin = 15 * time.Minute
)

// credentials are the bootstrap token and certificate key of one run.
// homelab chooses them (nothing is parsed from kubeadm's output), keeps
// them only in memory and in 0600 files on the nodes while a command
// runs, and redacts them from everything it prints. A later run chooses
// new ones: a token or an upload of an earlier run is never relied on.
type credentials struct {
	now func() time.Time
	// tokenTurn is held by the one join that creates the run's token: the
	// others wait for it and find the token fresh, so a token is created
	// once per run, not once per joining node (kubeadm refuses a second
	// `token create` of the same id).
	tokenTurn chan struct{}

	mu      sync.Mutex
	token   string
	key     string
	caHash  string
	tokenAt time.Time // when the token was created on the cluster; zero: not yet
	certsAt time.Time // when the certificates were uploaded with key; zero: not yet
	retired []string  // earlier tokens and keys of this run, still redacted
}

func newCredentials(now func() time.Time) *credentials {
	if now == nil {
		now = time.Now
	}
	return &credentials{now: now, tokenTurn: make(chan struct{}, 1), token: newToken(), key: newCertificateKey()}
}

// tokenLock waits for the turn to create the run's token and returns its
// release, or ctx's error.
func (c *credentials) tokenLock(ctx context.Context) (release func(), err error) {
	select {
	case c.tokenTurn <- struct{}{}:
		return func() { <-c.tokenTurn }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// secrets lists every token and key of the run, for redaction.
func (c *credentials) secrets() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string{c.token, c.key}, c.retired...)
}

// current returns the secrets to render a file with.
func (c *credentials) current() Secrets {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Secrets{Token: c.token, CertificateKey: c.key, CACertHash: c.caHash}
}

// tokenFresh reports whether the run's token exists on the cluster with
// more than lifeMargin left; when not, it retires a token that lapsed and
// returns the one to create.
func (c *credentials) tokenFresh() (fresh bool, token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.tokenAt.IsZero() && c.now().Sub(c.tokenAt) < tokenLife-lifeMargin {
		return true, c.token
	}
	if !c.tokenAt.IsZero() {
		c.retired, c.token, c.tokenAt = append(c.retired, c.token), newToken(), time.Time{}
	}
	return false, c.token
}

// certsFresh reports whether the certificates were uploaded with the
// run's key less than certsLife-lifeMargin ago; when not, it returns a
// new key to upload them with.
func (c *credentials) certsFresh() (fresh bool, key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.certsAt.IsZero() && c.now().Sub(c.certsAt) < certsLife-lifeMargin {
		return true, c.key
	}
	if !c.certsAt.IsZero() {
		c.retired, c.key, c.certsAt = append(c.retired, c.key), newCertificateKey(), time.Time{}
	}
	return false, c.key
}

func (c *credentials) tokenCreated() { c.mu.Lock(); c.tokenAt = c.now(); c.mu.Unlock() }
func (c *credentials) certsUploaded() {
	c.mu.Lock()
	c.certsAt = c.now()
	c.mu.Unlock()
}

func (c *credentials) setCAHash(h string) { c.mu.Lock(); c.caHash = h; c.mu.Unlock() }

// newToken returns a bootstrap token, [a-z0-9]{6}.[a-z0-9]{16}.
func newToken() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 22)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:6]) + "." + string(b[6:])
}

// newCertificateKey returns a certificate key: 32 random bytes, hex, as
// `kubeadm certs certificate-key` prints one.
func newCertificateKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// command is one script run as root on a node, its output streamed to out
// with the run's secrets redacted.
type command struct {
	script  string
	secrets []string
	timeout time.Duration
	out     io.Writer // nil: the output is only returned
}

// run runs c on h and returns its stdout. A non-zero exit is an error
// that carries the command and its stderr, redacted.
func run(ctx context.Context, h remote.Host, c command) (string, error) {
	cmd := remote.Command{Script: c.script, Secrets: c.secrets, Timeout: c.timeout}
	if cmd.Timeout == 0 {
		cmd.Timeout = time.Minute
	}
	if c.out != nil {
		w := &redactor{w: c.out, secrets: c.secrets}
		defer w.Flush()
		cmd.Stdout, cmd.Stderr = w, w
	}
	res, err := h.Run(ctx, cmd)
	return string(res.Stdout), err
}

// exited reports whether err is a command that ran and exited non-zero
// (as opposed to a host that could not be reached).
func exited(err error) bool {
	var exit *remote.ExitError
	return errors.As(err, &exit)
}

// redactor passes output on line by line with every secret redacted as
// remote redacts errors, so a secret split across two writes is still
// caught.
type redactor struct {
	w       io.Writer
	secrets []string
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (r *redactor) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf.Write(p)
	for {
		i := bytes.IndexByte(r.buf.Bytes(), '\n')
		if i < 0 {
			return len(p), nil
		}
		line := r.buf.Next(i + 1)
		if _, err := io.WriteString(r.w, remote.Redact(string(line), r.secrets)); err != nil {
			return len(p), err
		}
	}
}

// Flush writes what is left of an unfinished last line.
func (r *redactor) Flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.buf.Len() > 0 {
		io.WriteString(r.w, remote.Redact(r.buf.String(), r.secrets)+"\n")
		r.buf.Reset()
	}
}

// gateChange is a gate's change: it looks on every run.
func gateChange(reason string) step.Change {
	return step.Change{Action: step.Run, Reason: reason}
}

// observeTimeout bounds how long observing a node waits for SSH.
const observeTimeout = 20 * time.Second

// freshNode is what a step observes on a node that does not answer SSH
// yet (a guest still to be created or started): its intent. The engine
// observes the step again right before applying it.
func freshNode(node string, intent step.Change) step.Change {
	return intent.Unread(node + " does not answer SSH yet: planned as a fresh node")
}

// noCluster is what a step that asks the cluster observes when kubectl
// gets no answer: no cluster yet (it is made earlier in the run), or one
// whose endpoint does not answer yet (a lab that just booted). Its intent,
// marked as not read.
func noCluster(intent step.Change) step.Change {
	return intent.Unread("the cluster does not answer kubectl (yet): planned as on a new cluster")
}

// observeCluster runs look through the control plane manager picks,
// under observeTimeout; without one (no cluster yet, or none answering)
// the step's intent, marked as not read.
func observeCluster(ctx context.Context, hosts nodes, intent step.Change, look func(ctx context.Context, g *inventory.Guest, h remote.Host) (step.Change, error)) (step.Change, error) {
	octx, cancel := context.WithTimeout(ctx, observeTimeout)
	defer cancel()
	g, h, err := hosts.manager(octx)
	if err != nil {
		if noManager(err) || remote.NotAnswering(ctx, err) || (octx.Err() != nil && ctx.Err() == nil) {
			return noCluster(intent), nil
		}
		return step.Change{}, err
	}
	return look(octx, g, h)
}

// observeOn runs look against the node under observeTimeout, and turns a
// node that does not answer into the step's intent on a fresh node.
func observeOn(ctx context.Context, hosts nodes, node string, intent step.Change, look func(ctx context.Context, h remote.Host) (step.Change, error)) (step.Change, error) {
	if hosts.silence.Quiet(node) {
		return freshNode(node, intent), nil
	}
	if hosts.running != nil {
		if up, err := hosts.running(ctx, node); err == nil && !up {
			return freshNode(node, intent), nil
		}
	}
	octx, cancel := context.WithTimeout(ctx, observeTimeout)
	defer cancel()
	h, err := hosts.dial(node)
	if err == nil {
		var c step.Change
		c, err = look(octx, h)
		if err == nil {
			return c, nil
		}
	}
	if remote.NotAnswering(ctx, err) {
		// Only the node's own silence is remembered: a look that asks the
		// cluster through master1 fails when master1 does not answer, and
		// that says nothing of this node.
		var ce *remote.ConnectError
		if !errors.As(err, &ce) || ce.Host == "" || ce.Host == node {
			hosts.silence.Mark(node)
		}
		return freshNode(node, intent), nil
	}
	return step.Change{}, fmt.Errorf("%s: %w", node, err)
}
