package proxmox

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"time"

	pve "github.com/luthermonson/go-proxmox"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/step"
)

// HostKeys is homelab's record of its guests' SSH host keys, which the
// guests phase keeps: a guest homelab creates or removes has its old keys
// forgotten, and the new guest's keys are learned through PVE's
// authenticated API where it tells them (a container's create task log
// lists their fingerprints; a VM's guest agent reads its public key)
// before anything connects to it. pkg/homelab implements it over
// pkg/remote's known_hosts file.
type HostKeys interface {
	// Forget drops what is recorded for guest's SSH address.
	Forget(guest string) error
	// Expect records the fingerprints (SHA256:...) of the keys guest will
	// present, learned from source.
	Expect(guest string, fingerprints []string, source string) error
	// Learn records guest's public host key (authorized_keys format).
	Learn(guest string, authorizedKey []byte) error
	// Known reports whether a key or a fingerprint is recorded for guest.
	Known(guest string) bool
	// Check connects to guest as far as its host key and checks it; note
	// says how an unknown key came to be trusted ("" for a known one).
	Check(ctx context.Context, guest string) (note string, err error)
}

// hostKeyDone matches pve-container's log line for a generated host key:
// "done: SHA256:<fingerprint> root@<hostname>".
var hostKeyDone = regexp.MustCompile(`^done: (SHA256:[A-Za-z0-9+/]{43}) `)

// logFingerprints are the host key fingerprints a vzcreate task logged.
func logFingerprints(log []string) []string {
	var out []string
	for _, l := range log {
		if m := hostKeyDone.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

// taskLog reads a finished task's whole log, in order.
func (c *Client) taskLog(ctx context.Context, task *pve.Task) ([]string, error) {
	log, err := task.Log(ctx, 0, 5000)
	if err != nil {
		return nil, classify(fmt.Errorf("read the log of task %s: %w", task.UPID, err))
	}
	out := make([]string, 0, len(log))
	for i := 0; i < len(log); i++ {
		out = append(out, log[i])
	}
	return out, nil
}

// waitLog waits for a task as wait does and returns its log; a task that
// ended in WARNINGS succeeded, and its warnings are written to out.
func (c *Client) waitLog(ctx context.Context, task *pve.Task, what string, out io.Writer) ([]string, error) {
	if err := c.wait(ctx, task, what); err != nil {
		return nil, err
	}
	if task == nil {
		return nil, nil
	}
	log, err := c.taskLog(ctx, task)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(task.ExitStatus, "WARNINGS") {
		n := 0
		for _, l := range log {
			if w, ok := strings.CutPrefix(strings.TrimSpace(l), "WARN: "); ok {
				fmt.Fprintf(out, "warning: %s: %s\n", what, w)
				n++
			}
		}
		if n == 0 {
			fmt.Fprintf(out, "warning: %s: task %s ended with %s\n", what, task.UPID, task.ExitStatus)
		}
	}
	return log, nil
}

// agentTimeout bounds the wait for a VM's guest agent to read its host
// key, after SSH answers.
const agentTimeout = 2 * time.Minute

// agentHostKey reads a VM's public ed25519 host key through its guest
// agent, waiting (within agentTimeout) for the agent to start.
func (c *Client) agentHostKey(ctx context.Context, s Spec, poll time.Duration) ([]byte, error) {
	path := fmt.Sprintf("%s/agent/file-read?file=%s", guestPath(s.Node, s.Kind, s.VMID), url.QueryEscape("/etc/ssh/ssh_host_ed25519_key.pub"))
	deadline := time.Now().Add(agentTimeout)
	for {
		var got pve.AgentFileRead
		err := c.api.Get(ctx, path, &got)
		if err == nil {
			return []byte(got.Content), nil
		}
		if time.Now().After(deadline) || !strings.Contains(err.Error(), "not running") {
			return nil, fmt.Errorf("read the host key of %s through its guest agent: %w", s.Name, err)
		}
		if err := step.Sleep(ctx, poll); err != nil {
			return nil, err
		}
	}
}

// learnHostKey runs once SSH answers on a guest: a VM whose template has
// the guest agent and whose key is not recorded has it read through the
// agent; then the key the guest presents is checked, and how an unknown
// one came to be trusted is said.
func (w BootWork) learnHostKey(ctx context.Context, out io.Writer) error {
	s := w.Spec
	if s.Kind == inventory.KindVM && s.Template != nil && s.Template.Agent && !w.HostKeys.Known(s.Name) {
		// Polled as often as a task: the agent answers when the guest
		// has booted, and a coarser poll only adds to the wait.
		poll := w.Client.TaskPoll
		if poll <= 0 {
			poll = time.Second
		}
		key, err := w.Client.agentHostKey(ctx, s, poll)
		if err == nil {
			err = w.HostKeys.Learn(s.Name, key)
		}
		if err != nil {
			fmt.Fprintf(out, "could not learn the host key of %s through the guest agent: %v\n", s.Name, err)
		} else {
			fmt.Fprintf(out, "learned the host key of %s through the guest agent\n", s.Name)
		}
	}
	note, err := w.HostKeys.Check(ctx, s.Name)
	if err != nil {
		return err
	}
	if note != "" {
		fmt.Fprintln(out, note)
	}
	return nil
}
