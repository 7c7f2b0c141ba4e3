package routeros

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/homelabctl/homelab/pkg/step"
)

// LANList is the interface list of RouterOS's default configuration whose
// members its input chain accepts ("defconf: drop all not coming from
// LAN"): a network's interface must be in it for its guests to use the
// router's DNS.
const LANList = "LAN"

// LANMemberWork puts a network's router interface (its bridge, or its
// VLAN interface in bridge-filtering mode) into the LAN interface list,
// with an owned /interface/list/member entry. When the interface is
// already a member through an entry that is not homelab's, nothing
// changes (and down leaves that entry alone). When the router has no LAN
// list (it was not reset to its default configuration), there is nothing
// to join: the step changes nothing and says so, and the router's own
// firewall is the operator's to open.
type LANMemberWork struct {
	Conn *Conn
	// Entry is the member entry: Menu /interface/list/member, Props list
	// and interface.
	Entry Entry
}

// LANMemberEntry is the member entry that puts iface into the LAN list,
// marked with comment.
func LANMemberEntry(comment, iface string) Entry {
	return Entry{Menu: "/interface/list/member", Comment: comment,
		Props: []Prop{{Name: "list", Value: LANList}, {Name: "interface", Value: iface}}}
}

// Observe says whether the interface must join the list.
func (w LANMemberWork) Observe(ctx context.Context) (step.Change, error) {
	return w.observe(ctx)
}

func (w LANMemberWork) observe(ctx context.Context) (step.Change, error) {
	iface := w.Entry.value("interface")
	rep, err := w.Conn.Run(ctx, "/interface/list/print", "=.proplist=.id,name", "?name="+LANList)
	if err != nil {
		return step.Change{}, fmt.Errorf("observe /interface/list: %w", err)
	}
	if len(rep.Re) == 0 {
		return step.Change{Action: step.None, Reason: fmt.Sprintf(
			"the router has no interface list %s (it does not run RouterOS's default configuration): nothing to join; its own firewall must let %s reach the router", LANList, iface)}, nil
	}
	entry := EntryWork(w)
	ch, err := entry.Observe(ctx)
	if err != nil || ch.Action != step.Create {
		return ch, err
	}
	rep, err = w.Conn.Run(ctx, "/interface/list/member/print", "=.proplist=.id,comment,disabled,dynamic", "?list="+LANList, "?interface="+iface)
	if err != nil {
		return step.Change{}, fmt.Errorf("observe /interface/list/member: %w", err)
	}
	for _, s := range rep.Re {
		if r := s.Map; r["disabled"] != "true" && r["dynamic"] != "true" {
			return step.Change{Action: step.None, Reason: fmt.Sprintf(
				"%s is already in %s through /interface/list/member %s (comment %q), which is not homelab's", iface, LANList, r[".id"], r["comment"])}, nil
		}
	}
	return ch, nil
}

// Apply adds or corrects the member entry, observing again first.
func (w LANMemberWork) Apply(ctx context.Context, _ step.Change, out io.Writer) error {
	ch, err := w.observe(ctx)
	if err != nil || ch.Action == step.None {
		return err
	}
	return EntryWork(w).Apply(ctx, ch, out)
}

// RemoteDNSWork makes sure the router answers DNS queries from other hosts
// (/ip/dns allow-remote-requests=yes) when networks give their guests the
// router as DNS server. /ip/dns is one router-wide setting homelab does
// not own: when it is off, the step is a conflict that names it, unless
// the inventory allows homelab to turn it on (router.dns.
// allow_remote_requests). homelab never turns it off.
type RemoteDNSWork struct {
	Conn *Conn
	// Networks name the networks whose DNS servers include the router,
	// with that address ("lab (192.168.30.1)"), for messages.
	Networks []string
	// Allow lets the step turn remote requests on.
	Allow bool
}

// Observe reads /ip/dns allow-remote-requests.
func (w RemoteDNSWork) Observe(ctx context.Context) (step.Change, error) {
	rep, err := w.Conn.Run(ctx, "/ip/dns/print", "=.proplist=allow-remote-requests")
	if err != nil {
		return step.Change{}, fmt.Errorf("observe /ip/dns: %w", err)
	}
	have := ""
	if len(rep.Re) > 0 {
		have = rep.Re[0].Map["allow-remote-requests"]
	}
	if same("allow-remote-requests", have, "yes") {
		return step.Change{Action: step.None}, nil
	}
	users := strings.Join(w.Networks, ", ")
	if !w.Allow {
		return step.Change{Action: step.Conflict, Reason: fmt.Sprintf(
			"/ip/dns allow-remote-requests is %s, and the guests of %s use the router as DNS server: it would drop their queries. "+
				"homelab does not change this router-wide setting on its own: set it on the router (/ip/dns/set allow-remote-requests=yes), "+
				"or let homelab do it with router.dns.allow_remote_requests: true", orNone(have), users)}, nil
	}
	return step.Change{Action: step.Update, Fields: []step.Field{{Name: "allow-remote-requests", Old: have, New: "yes"}},
		Reason: fmt.Sprintf("the guests of %s use the router as DNS server (router.dns.allow_remote_requests)", users)}, nil
}

// Apply turns remote requests on, observing again first.
func (w RemoteDNSWork) Apply(ctx context.Context, _ step.Change, out io.Writer) error {
	ch, err := w.Observe(ctx)
	switch {
	case err != nil:
		return err
	case ch.Action == step.None:
		return nil
	case ch.Action == step.Conflict:
		return fmt.Errorf("/ip/dns: %s", ch.Reason)
	}
	if _, err := w.Conn.Run(ctx, "/ip/dns/set", "=allow-remote-requests=yes"); err != nil {
		return fmt.Errorf("set /ip/dns allow-remote-requests: %w", err)
	}
	fmt.Fprintln(out, "set /ip/dns allow-remote-requests=yes")
	return nil
}

func orNone(v string) string {
	if v == "" {
		return "unset"
	}
	return v
}
