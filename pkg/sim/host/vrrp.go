package host

import (
	"context"
	"io"
	"net/netip"
	"slices"
	"sort"
	"time"
)

// vrrpNode is one host's instance of a virtual router in an election.
type vrrpNode struct {
	h        *Host
	in       *vrrpInstance
	priority int
}

// better reports whether a wins an election against b: the higher
// priority, then the higher address (as VRRP breaks ties).
func (a vrrpNode) better(b vrrpNode) bool {
	if a.priority != b.priority {
		return a.priority > b.priority
	}
	return a.h.IP().Compare(b.h.IP()) > 0
}

// hears reports whether a receives and accepts b's advertisements: b sends
// them to its unicast peers (to everyone without), a accepts them from its
// peers (from everyone without) when the authentication matches.
func (a vrrpNode) hears(b vrrpNode) bool {
	if len(b.in.peers) > 0 && !slices.Contains(b.in.peers, a.h.IP()) {
		return false
	}
	if len(a.in.peers) > 0 && !slices.Contains(a.in.peers, b.h.IP()) {
		return false
	}
	return a.in.authType == b.in.authType && (a.in.authType != "PASS" || a.in.authPass == b.in.authPass)
}

// vrrpState is what a node of a virtual router remembers between
// elections: whether it is MASTER, and since when it has heard no master
// (its master-down timer).
type vrrpState struct {
	master bool
	quiet  time.Time
}

// masterDown is VRRP's master-down interval for a node, scaled by the
// lab's VRRPScale: three advertisement intervals plus a skew that is
// shorter for higher priorities, so the best backup takes over first.
func (l *Lab) masterDown(n vrrpNode) time.Duration {
	advert := time.Second
	d := 3*advert + time.Duration(256-n.priority)*advert/256
	scale := l.opts.VRRPScale
	if scale <= 0 {
		scale = 1
	}
	return time.Duration(float64(d) * scale)
}

// elect brings keepalived's VRRP elections up to date and moves the VIPs.
// Per virtual router ID: a master that hears a better master steps down;
// a backup that hears a master stays backup (nopreempt: even a better
// one); a backup that has heard no master for its master-down interval
// becomes master, the earliest expiring first. A node whose track script
// with weight 0 fails is in FAULT and takes no part; a node whose
// keepalived stops or whose host goes off leaves at once.
func (l *Lab) elect(ctx context.Context) {
	if inElection(ctx) {
		return
	}
	ctx = context.WithValue(ctx, electionKey{}, true)
	l.refreshMu.Lock()
	defer l.refreshMu.Unlock()
	now := time.Now()
	hosts := l.Hosts()
	byVRID := map[int][]vrrpNode{}
	for _, h := range hosts {
		if !h.powered() {
			continue
		}
		for _, n := range h.vrrpNodes(ctx) {
			byVRID[n.in.vrid] = append(byVRID[n.in.vrid], n)
		}
	}
	states := map[int]map[string]*vrrpState{}
	held := map[*Host][]netip.Prefix{}
	for vrid, nodes := range byVRID {
		sort.Slice(nodes, func(i, j int) bool { return nodes[i].better(nodes[j]) })
		old := l.vrrp[vrid]
		st := map[string]*vrrpState{}
		for _, n := range nodes {
			if s, ok := old[n.h.Name()]; ok {
				st[n.h.Name()] = s
			} else {
				st[n.h.Name()] = &vrrpState{quiet: now, master: l.restored[vrid][n.h.Name()]}
				delete(l.restored[vrid], n.h.Name())
			}
		}
		isMaster := func(n vrrpNode) bool { return st[n.h.Name()].master }
		// Masters that hear a better master step down.
		for _, m := range nodes {
			if isMaster(m) && slices.ContainsFunc(nodes, func(o vrrpNode) bool { return o.h != m.h && isMaster(o) && m.hears(o) && o.better(m) }) {
				st[m.h.Name()].master, st[m.h.Name()].quiet = false, now
			}
		}
		// Backups: adverts of a master reset their timers; the first
		// whose timer runs out becomes master (and is heard from then on).
		backups := slices.DeleteFunc(slices.Clone(nodes), isMaster)
		sort.SliceStable(backups, func(i, j int) bool {
			return st[backups[i].h.Name()].quiet.Add(l.masterDown(backups[i])).Before(st[backups[j].h.Name()].quiet.Add(l.masterDown(backups[j])))
		})
		for _, b := range backups {
			s := st[b.h.Name()]
			// Without nopreempt a better backup ignores a worse master's
			// adverts: it takes over when its timer runs out.
			heard := slices.ContainsFunc(nodes, func(m vrrpNode) bool {
				return isMaster(m) && b.hears(m) && (b.in.nopreempt || !b.better(m))
			})
			switch {
			case heard:
				s.quiet = now
			case !now.Before(s.quiet.Add(l.masterDown(b))):
				s.master = true
			}
		}
		for _, n := range nodes {
			if isMaster(n) {
				held[n.h] = append(held[n.h], n.in.vips...)
			}
		}
		states[vrid] = st
	}
	l.vrrp = states
	for _, h := range hosts {
		h.mu.Lock()
		h.held = held[h]
		h.mu.Unlock()
	}
}

// vrrpNodes are the host's VRRP instances taking part in elections: those
// of its running keepalived whose track scripts pass (weighted ones
// change the priority instead).
func (h *Host) vrrpNodes(ctx context.Context) []vrrpNode {
	h.mu.Lock()
	cfg := h.keepalived
	h.mu.Unlock()
	if cfg == nil {
		return nil
	}
	var nodes []vrrpNode
	results := map[string]bool{}
	for _, in := range cfg.instances {
		prio, fault := in.priority, false
		for _, t := range in.tracks {
			s := cfg.scripts[t]
			if s == nil {
				continue
			}
			ok, seen := results[t]
			if !seen {
				ok = h.runScript(ctx, cfg.scriptUser, s.command)
				results[t] = ok
			}
			switch {
			case s.weight == 0 && !ok:
				fault = true
			case s.weight > 0 && ok, s.weight < 0 && !ok:
				prio += s.weight
			}
		}
		if !fault {
			nodes = append(nodes, vrrpNode{h: h, in: in, priority: min(max(prio, 1), 254)})
		}
	}
	return nodes
}

// runScript runs a keepalived script (a command line, split into words,
// not run by a shell) as user, and reports whether it exited 0.
func (h *Host) runScript(ctx context.Context, user, command string) bool {
	words := haproxyWords(command)
	if len(words) == 0 {
		return false
	}
	if user == "" || !h.knownUser(user) {
		user = "root"
	}
	c := &Call{Host: h, Args: words, Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Dir: "/", User: user, Shell: "keepalived", Stdin: eofReader{}, Stdout: io.Discard, Stderr: io.Discard}
	return h.exec(ctx, c) == 0
}

// eofReader is an empty standard input.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
