package proxmox

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	pve "github.com/luthermonson/go-proxmox"

	"github.com/homelabctl/homelab/pkg/step"
)

// Dialer reaches guests' addresses. The simulated lab maps them to
// loopback listeners; the real lab uses net.Dialer.
type Dialer func(ctx context.Context, network, address string) (net.Conn, error)

// BootWork starts a guest and waits until its SSH port answers: a gate
// that runs on every run (a running guest only has to answer).
type BootWork struct {
	Client *Client
	Spec   Spec
	// Dial reaches the guest; nil means net.Dialer.
	Dial Dialer
	// SSHPort is the port that must answer (default 22).
	SSHPort int
	// Timeout bounds the wait for the port (default 5 minutes).
	Timeout time.Duration
	// Sleep waits between attempts (default: a timer that honours ctx).
	Sleep func(context.Context, time.Duration) error
	// HostKeys, when set, learns and checks the guest's SSH host key once
	// SSH answers (see HostKeys).
	HostKeys HostKeys
}

// Observe reads whether the guest runs (see Client.runState).
func (w BootWork) Observe(ctx context.Context) (step.Change, error) {
	status, err := w.Client.runState(ctx, w.Spec.Node, w.Spec.Kind, w.Spec.VMID)
	switch {
	case err != nil:
		return step.Change{}, err
	case status == "running":
		return step.Change{Action: step.Run, Reason: "running: wait until SSH answers"}, nil
	case status == "":
		status = notCreated
	}
	return startChange(status), nil
}

// notCreated is the status the boot step shows of a guest that does not
// exist yet.
const notCreated = "not created yet"

// startChange is the boot step's change on a guest that does not run:
// start it, then wait until SSH answers.
func startChange(status string) step.Change {
	return step.Change{Action: step.Update, Fields: []step.Field{{Name: "status", Old: status, New: "running"}},
		Reason: "start, then wait until SSH answers"}
}

// Apply starts the guest unless its own status says it runs, then waits
// for its SSH port.
func (w BootWork) Apply(ctx context.Context, _ step.Change, out io.Writer) error {
	s := w.Spec
	status, err := w.Client.status(ctx, s.Node, s.Kind, s.VMID)
	if err != nil {
		return err
	}
	switch status {
	case "":
		return fmt.Errorf("start %s: %d does not exist on %s", s.Name, s.VMID, s.Node)
	case "running":
	default:
		var upid pve.UPID
		if err := w.Client.API().Post(ctx, guestPath(s.Node, s.Kind, s.VMID)+"/status/start", nil, &upid); err != nil {
			return classify(fmt.Errorf("start %s (%d): %w", s.Name, s.VMID, err))
		}
		if err := w.Client.wait(ctx, pve.NewTask(upid, w.Client.API()), "start "+s.Name); err != nil {
			return err
		}
		fmt.Fprintf(out, "started %s\n", s.Name)
	}
	if err := w.waitSSH(ctx, out); err != nil {
		return err
	}
	if w.HostKeys == nil {
		return nil
	}
	return w.learnHostKey(ctx, out)
}

func (w BootWork) waitSSH(ctx context.Context, out io.Writer) error {
	dial, port, limit, sleep := w.Dial, w.SSHPort, w.Timeout, w.Sleep
	if dial == nil {
		dial = (&net.Dialer{Timeout: 5 * time.Second}).DialContext
	}
	if port == 0 {
		port = 22
	}
	if limit <= 0 {
		limit = 5 * time.Minute
	}
	if sleep == nil {
		sleep = step.Sleep
	}
	addr := net.JoinHostPort(w.Spec.IP.Addr().String(), strconv.Itoa(port))
	delay, waited := 500*time.Millisecond, time.Duration(0)
	for tries := 1; ; tries++ {
		c, err := dial(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			fmt.Fprintf(out, "%s answers on %s\n", w.Spec.Name, addr)
			return nil
		}
		if waited >= limit {
			return fmt.Errorf("wait for %s: nothing answered on %s after %s (%d attempts); last: %w", w.Spec.Name, addr, limit, tries, err)
		}
		if err := sleep(ctx, delay); err != nil {
			return fmt.Errorf("wait for %s on %s: %w", w.Spec.Name, addr, err)
		}
		waited += delay
		delay = min(2*delay, 10*time.Second)
	}
}
