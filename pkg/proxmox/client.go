package proxmox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	pve "github.com/luthermonson/go-proxmox"

	"github.com/homelabctl/homelab/pkg/inventory"

	"github.com/homelabctl/homelab/pkg/step"
)

// Client is homelab's way onto a Proxmox VE cluster: go-proxmox, unmodified,
// used without its retries (they re-send POSTs, so a clone could be
// submitted twice), with every task waited on and its exit status checked.
//
// During planning it reads the whole cluster once (/cluster/resources) and
// shares that snapshot between steps and with the run. After a write it
// confirms through the guest's own status and config, never through the
// cluster list, which lags behind on real clusters.
type Client struct {
	api *pve.Client
	// TaskPoll is how often a running task is polled (default 1s).
	TaskPoll time.Duration
	// TaskTimeout bounds one task (default 10 minutes).
	TaskTimeout time.Duration

	mu       sync.Mutex
	snapshot []pve.ClusterResource
	fetched  bool
}

// NewClient wraps a go-proxmox client made with WithAPIToken and an HTTP
// client that verifies TLS (and has a timeout).
func NewClient(api *pve.Client) *Client {
	return &Client{api: api, TaskPoll: time.Second, TaskTimeout: 10 * time.Minute}
}

// API is the go-proxmox client underneath.
func (c *Client) API() *pve.Client { return c.api }

// clusterKey names a client's cluster list in an observation pass.
type clusterKey struct{ c *Client }

// Guests returns every VM and container in the cluster. An observation
// pass (step.WithPass) reads the list once and shares it between its
// steps; the run that follows keeps using it (and the client keeps it in
// step with its own creates and deletes, see remember and drop) instead of
// listing the whole cluster again for every guest. Forget drops it.
func (c *Client) Guests(ctx context.Context) ([]pve.ClusterResource, error) {
	if step.InPass(ctx) {
		return step.Shared(ctx, clusterKey{c}, c.list)
	}
	c.mu.Lock()
	if c.fetched {
		defer c.mu.Unlock()
		return c.snapshot, nil
	}
	c.mu.Unlock()
	return c.list(ctx)
}

// list reads the cluster's guests and keeps them as the snapshot.
func (c *Client) list(ctx context.Context) ([]pve.ClusterResource, error) {
	rs, err := (&pve.Cluster{}).New(c.api).Resources(ctx, "vm")
	if err != nil {
		return nil, classify(fmt.Errorf("list the cluster's guests: %w", err))
	}
	// A new slice: callers may still read the one an earlier snapshot
	// returned (reusing its array raced with them).
	snapshot := make([]pve.ClusterResource, 0, len(rs))
	for _, r := range rs {
		if r != nil && (r.Type == "qemu" || r.Type == "lxc") {
			snapshot = append(snapshot, *r)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snapshot, c.fetched = snapshot, true
	return snapshot, nil
}

// remember puts a guest homelab just made into the snapshot (stopped), so
// that later steps see it without listing the cluster again.
func (c *Client) remember(r pve.ClusterResource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.fetched {
		return
	}
	if !slices.ContainsFunc(c.snapshot, func(g pve.ClusterResource) bool { return g.VMID == r.VMID }) {
		// Callers read only up to the length they were given: appending
		// past it changes nothing they see, and a lab of 1,000 guests
		// copied the whole list for every create.
		c.snapshot = append(c.snapshot, r)
		return
	}
	next := make([]pve.ClusterResource, 0, len(c.snapshot))
	for _, g := range c.snapshot {
		if int(g.VMID) != int(r.VMID) {
			next = append(next, g)
		}
	}
	c.snapshot = append(next, r)
}

// drop removes a guest homelab just deleted from the snapshot.
func (c *Client) drop(vmid int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := make([]pve.ClusterResource, 0, len(c.snapshot))
	for _, g := range c.snapshot {
		if int(g.VMID) != vmid {
			next = append(next, g)
		}
	}
	c.snapshot = next
}

// Forget drops the shared snapshot, so the next Guests reads again.
func (c *Client) Forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fetched = false
}

// guestPath is the API path of a guest.
func guestPath(node, kind string, vmid int) string {
	return fmt.Sprintf("/nodes/%s/%s/%d", node, apiKind(kind), vmid)
}

func apiKind(kind string) string {
	if kind == "lxc" {
		return "lxc"
	}
	return "qemu"
}

// config reads a guest's configuration from its own endpoint; ok is false
// when PVE says the guest does not exist on that node.
func (c *Client) config(ctx context.Context, node, kind string, vmid int) (cfg map[string]any, ok bool, err error) {
	err = c.api.Get(ctx, guestPath(node, kind, vmid)+"/config", &cfg)
	if err != nil {
		if missing(err) {
			return nil, false, nil
		}
		return nil, false, classify(fmt.Errorf("read the config of %d on %s: %w", vmid, node, err))
	}
	return cfg, true, nil
}

// status reads a guest's status ("running", "stopped") from its own
// endpoint; "" when the guest does not exist on that node.
func (c *Client) status(ctx context.Context, node, kind string, vmid int) (string, error) {
	var st struct {
		Status string `json:"status"`
	}
	if err := c.api.Get(ctx, guestPath(node, kind, vmid)+"/status/current", &st); err != nil {
		if missing(err) {
			return "", nil
		}
		return "", classify(fmt.Errorf("read the status of %d on %s: %w", vmid, node, err))
	}
	return st.Status, nil
}

// Running reports whether PVE runs the guest (a guest that does not
// exist does not run). Phases that work on guests over SSH ask it before
// waiting for a guest to answer.
func (c *Client) Running(ctx context.Context, g *inventory.Guest) (bool, error) {
	status, err := c.runState(ctx, g.Node, g.Kind, g.VMID)
	return status == "running", err
}

// runState is a guest's status ("" when it does not exist). The shared
// cluster list answers "running" at no cost; since it lags, and may
// predate this run's creates, a guest it does not show running is asked
// on its own endpoint.
func (c *Client) runState(ctx context.Context, node, kind string, vmid int) (string, error) {
	guests, err := c.Guests(ctx)
	if err != nil {
		return "", err
	}
	for _, r := range guests {
		if int(r.VMID) == vmid && r.Node == node && r.Status == "running" {
			return "running", nil
		}
	}
	return c.status(ctx, node, kind, vmid)
}

// missing reports PVE's answer for a guest that does not exist: a 500
// whose reason phrase says the configuration file does not exist.
func missing(err error) bool {
	return err != nil && strings.Contains(err.Error(), "does not exist")
}

// wait waits for a task PVE started and returns an error unless it ended
// with OK (or only warnings). A nil task (PVE answered null) is done.
func (c *Client) wait(ctx context.Context, task *pve.Task, what string) error {
	if task == nil {
		return nil
	}
	poll, limit := c.TaskPoll, c.TaskTimeout
	if poll <= 0 {
		poll = time.Second
	}
	if limit <= 0 {
		limit = 10 * time.Minute
	}
	deadline := time.Now().Add(limit)
	for {
		if err := task.Ping(ctx); err != nil {
			// The task runs on regardless: a retry must observe, not dispatch again.
			return classify(fmt.Errorf("%s: task %s: %w", what, task.UPID, err))
		}
		if task.IsCompleted || (task.Status != "" && task.Status != pve.TaskRunning) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: task %s still running after %s", what, task.UPID, limit)
		}
		if err := step.Sleep(ctx, poll); err != nil {
			return fmt.Errorf("%s: task %s: %w", what, task.UPID, err)
		}
	}
	if task.ExitStatus == "OK" || strings.HasPrefix(task.ExitStatus, "WARNINGS") {
		return nil
	}
	err := fmt.Errorf("%s: task %s failed: %s%s", what, task.UPID, task.ExitStatus, c.logTail(ctx, task))
	return classify(err)
}

// logTail returns the last lines of a task's log, for error messages.
func (c *Client) logTail(ctx context.Context, task *pve.Task) string {
	log, err := task.Log(ctx, 0, 500)
	if err != nil || len(log) == 0 {
		return ""
	}
	lines := make([]string, 0, 3)
	for i := max(len(log)-3, 0); i < len(log); i++ {
		if l := strings.TrimSpace(log[i]); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return " (log: " + strings.Join(lines, " | ") + ")"
}

// classify marks the errors worth retrying (research/proxmox.md §5.1):
// lock timeouts, a worker that did not start, 5xx from the proxy between
// nodes, and broken connections. Authentication, bad requests and
// conflicts are returned as they are.
func classify(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, transient := range []string{"got timeout", "can't lock file", "cfs-lock", "got no worker upid", "got lock request timeout"} {
		if strings.Contains(msg, transient) {
			return step.Retryable(err)
		}
	}
	for _, code := range []string{"502 ", "503 ", "504 ", "595 ", "596 "} {
		if strings.Contains(msg, ": "+code) || strings.HasPrefix(msg, code) {
			return step.Retryable(err)
		}
	}
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) || strings.Contains(msg, "x509:") || strings.Contains(msg, "fingerprint") {
		return err // a certificate that fails verification stays failed
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return step.Retryable(err)
	}
	return err
}

// OfflineNodes returns the nodes of the cluster that PVE reports offline
// (/nodes: status "offline"; an unknown status counts as offline too):
// calls for them come back as pveproxy's 595, and their guests cannot be
// read or changed until they are back.
func (c *Client) OfflineNodes(ctx context.Context) ([]string, error) {
	nodes, err := c.api.Nodes(ctx)
	if err != nil {
		return nil, classify(fmt.Errorf("list the cluster's nodes: %w", err))
	}
	var out []string
	for _, n := range nodes {
		if n != nil && n.Status != "online" {
			out = append(out, n.Node)
		}
	}
	return out, nil
}
