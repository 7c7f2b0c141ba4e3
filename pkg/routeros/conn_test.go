package routeros

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/homelabctl/homelab/pkg/step"
)

// A session's first command checks that the peer is a RouterOS router and
// logs its version; Close ends the session with /quit, whose !fatal answer
// is the expected end, not an error.
func TestSessionIdentifiesTheRouterAndQuits(t *testing.T) {
	s, c := startSim(t)
	var logs bytes.Buffer
	c.SetLogger(slog.New(slog.NewTextHandler(&logs, nil)))
	run(t, c, "/ip/address/print")
	if !strings.Contains(logs.String(), `msg="connected to the router"`) || !strings.Contains(logs.String(), `version="7.22.3 (stable)"`) ||
		!strings.Contains(logs.String(), "board=RB5009UG+S+IN") {
		t.Errorf("log: %s", logs.String())
	}
	if err := c.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	log := s.Log()
	if len(log) != 4 || !strings.HasPrefix(log[0], "/login") || !strings.HasPrefix(log[1], "/system/resource/print") || log[3] != "/quit" {
		t.Errorf("commands: %q", log)
	}
	// The next command dials again.
	run(t, c, "/ip/address/print")
}

// Close does not wait long on a router that stopped answering.
func TestCloseOnASilentRouter(t *testing.T) {
	s, c := startSim(t)
	run(t, c, "/ip/address/print")
	s.SetSilent(true)
	begin := time.Now()
	c.Close()
	if took := time.Since(begin); took > 1500*time.Millisecond {
		t.Errorf("Close took %v", took)
	}
}

// A user who may not read the router fails at the first command, with a
// hint, and is not retried.
func TestFirstCommandRefused(t *testing.T) {
	s, c := startSim(t)
	s.TrapNext("/system/resource/print", "not enough permissions (9)")
	_, err := c.Run(context.Background(), "/ip/address/print")
	if err == nil || step.IsRetryable(err) || !strings.Contains(err.Error(), "not enough permissions (9) (the user homelab needs the read policy)") {
		t.Fatalf("%v", err)
	}
}
