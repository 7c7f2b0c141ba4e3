package host_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/sim/host"
)

// An apt-get install killed while dpkg unpacks (a session's SIGKILL
// reaches its whole process group) leaves dpkg interrupted: every later
// apt-get install refuses with apt's words until `dpkg --configure -a`
// has run, which refuses while another apt holds the lock. Killed while
// it downloads, it leaves nothing.
func TestKilledInstallLeavesDpkgInterrupted(t *testing.T) {
	_, h := newHost(t, host.LabOptions{Latency: host.Latency{Install: 4 * time.Second}})
	journal := "test -e /var/lib/dpkg/updates/0000"

	// Killed while it downloads.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	status := h.Run(ctx, "root", "apt-get install -y haproxy", nil, io.Discard, io.Discard)
	cancel()
	if status != 130 {
		t.Fatalf("apt-get install killed: exit %d, want 130", status)
	}
	cmdCase{cmd: journal, status: 1}.check(t, h)

	// Killed once dpkg has started: the test waits for dpkg's journal,
	// then kills the session.
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- h.Run(ctx, "root", "apt-get install -y haproxy", nil, io.Discard, io.Discard) }()
	for {
		if s, _, _ := run(h, "root", journal); s == 0 {
			break
		}
		select {
		case s := <-done:
			t.Fatalf("apt-get install ended (%d) before dpkg started", s)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if s := <-done; s != 130 {
		t.Fatalf("apt-get install killed: exit %d, want 130", s)
	}
	for _, c := range []cmdCase{
		{cmd: journal},
		{cmd: "dpkg-query -W haproxy", status: 1, stderr: "dpkg-query: no packages found matching haproxy\n"},
		{cmd: "apt-get -o DPkg::Lock::Timeout=5 install -y openssh-server", status: 100,
			stderr: "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem. \n"},
		{user: "debian", cmd: "dpkg --configure -a", status: 2, stderr: "dpkg: error: requested operation requires superuser privilege\n"},
		{cmd: "dpkg --configure -a"},
		{cmd: journal, status: 1},
	} {
		c.check(t, h)
	}

	// dpkg does not wait for the lock another apt-get holds.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go func() { done <- h.Run(ctx, "root", "apt-get install -y haproxy", nil, io.Discard, io.Discard) }()
	for {
		if s, _, _ := run(h, "root", journal); s == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmdCase{cmd: "dpkg --configure -a", status: 2, stderr: "~dpkg: error: dpkg frontend lock was locked by another process with pid "}.check(t, h)
	cancel()
	<-done
}
