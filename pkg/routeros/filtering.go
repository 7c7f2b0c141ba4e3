package routeros

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/homelabctl/homelab/pkg/step"
)

// FilteringWork turns VLAN filtering on for the router's bridge: the last
// router step in bridge-filtering mode, and the classic way to lock
// yourself out of a MikroTik (research/routeros.md §4.3, pitfall 9). It
// refuses unless the VLAN table already covers the path homelab's own API
// session takes, expects the session to drop when filtering goes on,
// redials with backoff and verifies.
type FilteringWork struct {
	Conn   *Conn
	Bridge string
	// Management is the router address the API session reaches; when
	// unset, the session's remote address. The simulated lab sets it,
	// because there the session really reaches a loopback port.
	Management netip.Addr
	// Wait bounds how long to redial after the drop (default 1 minute).
	Wait time.Duration
	// Sleep waits between redials; tests pass a fake (default: time-based,
	// honouring ctx).
	Sleep func(context.Context, time.Duration) error
}

// Observe reads the bridge's vlan-filtering.
func (w FilteringWork) Observe(ctx context.Context) (step.Change, error) {
	b, err := w.bridge(ctx)
	if err != nil {
		return step.Change{}, err
	}
	if b == nil {
		return step.Change{Action: step.Conflict, Reason: fmt.Sprintf("the router has no bridge %s: create it (or fix router.bridge) first", w.Bridge)}, nil
	}
	if same("vlan-filtering", b["vlan-filtering"], "yes") {
		return step.Change{Action: step.None}, nil
	}
	return step.Change{Action: step.Update,
		Fields: []step.Field{{Name: "vlan-filtering", Old: "no", New: "yes"}},
		Reason: "enabled last, and only when the VLAN table covers homelab's own API connection"}, nil
}

func (w FilteringWork) bridge(ctx context.Context) (row, error) {
	rep, err := w.Conn.Run(ctx, "/interface/bridge/print", "=.proplist=.id,name,vlan-filtering,frame-types,pvid", "?name="+w.Bridge)
	if err != nil {
		return nil, fmt.Errorf("observe bridge %s: %w", w.Bridge, err)
	}
	if len(rep.Re) == 0 {
		return nil, nil
	}
	return row(rep.Re[0].Map), nil
}

// Apply checks the management path, enables filtering, and verifies it
// through a new session.
func (w FilteringWork) Apply(ctx context.Context, _ step.Change, out io.Writer) error {
	b, err := w.bridge(ctx)
	if err != nil {
		return err
	}
	if b == nil {
		return fmt.Errorf("enable VLAN filtering: the router has no bridge %s", w.Bridge)
	}
	if same("vlan-filtering", b["vlan-filtering"], "yes") {
		return nil
	}
	if err := w.covered(ctx, b); err != nil {
		return fmt.Errorf("refusing to enable VLAN filtering on %s: %w", w.Bridge, err)
	}
	_, err = w.Conn.Run(ctx, "/interface/bridge/set", "=.id="+b[".id"], "=vlan-filtering=yes")
	var de *DeviceError
	if errors.As(err, &de) {
		return fmt.Errorf("enable VLAN filtering on %s: %w", w.Bridge, err)
	}
	// The session may have dropped (the bridge re-forms): that is expected.
	tries, err := w.verify(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "VLAN filtering is on for %s (verified after %d attempt(s))\n", w.Bridge, tries)
	return nil
}

// verify redials with backoff until the bridge reads back filtering on.
func (w FilteringWork) verify(ctx context.Context) (int, error) {
	wait, sleep := w.Wait, w.Sleep
	if wait <= 0 {
		wait = time.Minute
	}
	if sleep == nil {
		sleep = step.Sleep
	}
	delay, spent := 200*time.Millisecond, time.Duration(0)
	var last error
	for tries := 1; ; tries++ {
		b, err := w.bridge(ctx)
		switch {
		case err == nil && b != nil && same("vlan-filtering", b["vlan-filtering"], "yes"):
			return tries, nil
		case err == nil:
			return tries, fmt.Errorf("enable VLAN filtering on %s: the router answers but filtering is %q", w.Bridge, b["vlan-filtering"])
		case !step.IsRetryable(err):
			return tries, err
		}
		last = err
		if spent >= wait {
			return tries, fmt.Errorf("enabled VLAN filtering on %s, but the router no longer answers after %s: %w; restore access from its console: /interface/bridge/set %s vlan-filtering=no", w.Bridge, spent, last, w.Bridge)
		}
		if err := sleep(ctx, delay); err != nil {
			return tries, err
		}
		spent += delay
		delay = min(2*delay, 5*time.Second)
	}
}

// covered returns nil when the API session's path survives filtering:
//   - the management address on the bridge itself is reached untagged
//     through the PVID (RouterOS adds the dynamic rows), unless the bridge
//     admits only tagged frames;
//   - on a VLAN interface over the bridge it needs a bridge VLAN row for
//     that VLAN that tags the bridge itself;
//   - on any other interface, filtering does not touch it.
func (w FilteringWork) covered(ctx context.Context, bridge row) error {
	mgmt := w.Management
	if !mgmt.IsValid() {
		mgmt = w.Conn.RemoteAddr()
	}
	if !mgmt.IsValid() {
		return errors.New("cannot tell which address the API session reaches the router at")
	}
	rep, err := w.Conn.Run(ctx, "/ip/address/print", "=.proplist=address,interface,disabled,dynamic")
	if err != nil {
		return err
	}
	iface := ""
	for _, r := range rep.Re {
		if p, err := netip.ParsePrefix(r.Map["address"]); err == nil && p.Addr() == mgmt && r.Map["disabled"] != "true" {
			iface = r.Map["interface"]
		}
	}
	switch {
	case iface == "":
		return fmt.Errorf("the API session reaches the router at %s, which is on none of its interfaces, so homelab cannot prove filtering leaves it a path", mgmt)
	case iface == w.Bridge:
		if bridge["frame-types"] == "admit-only-vlan-tagged" {
			return fmt.Errorf("the API session reaches %s untagged on %s, which admits only tagged frames", mgmt, w.Bridge)
		}
		return nil
	}
	rep, err = w.Conn.Run(ctx, "/interface/vlan/print", "=.proplist=name,vlan-id,interface", "?name="+iface)
	if err != nil {
		return err
	}
	if len(rep.Re) == 0 || rep.Re[0].Map["interface"] != w.Bridge {
		return nil
	}
	id := rep.Re[0].Map["vlan-id"]
	rep, err = w.Conn.Run(ctx, "/interface/bridge/vlan/print", "=.proplist=bridge,vlan-ids,tagged,disabled,dynamic", "?bridge="+w.Bridge)
	if err != nil {
		return err
	}
	for _, r := range rep.Re {
		if r.Map["dynamic"] != "true" && r.Map["disabled"] != "true" && vlanListHas(r.Map["vlan-ids"], id) &&
			slices.Contains(strings.Split(r.Map["tagged"], ","), w.Bridge) {
			return nil
		}
	}
	return fmt.Errorf("the API session reaches %s on %s (VLAN %s), and no bridge VLAN entry tags %s in VLAN %s: filtering would cut homelab off; add VLAN %s with %s tagged to the inventory's networks", mgmt, iface, id, w.Bridge, id, id, w.Bridge)
}

// vlanListHas reports whether a vlan-ids list ("10,20,30-39") holds id.
func vlanListHas(list, id string) bool {
	n, err := strconv.Atoi(id)
	if err != nil {
		return false
	}
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		if a <= n && n <= b {
			return true
		}
	}
	return false
}
