package pve

import (
	"fmt"
	"net/http"
	"path"
	"time"
)

// Fault makes matching requests fail before they reach the simulated
// cluster, as a broken proxy, an overloaded node or a flaky network
// would.
type Fault struct {
	// Method matches the HTTP method; "" matches any.
	Method string
	// Path matches the path below /api2/json in path.Match syntax, e.g.
	// "/nodes/*/qemu/*/clone"; "" matches any.
	Path string
	// Times is how many matching requests fail; 0 means 1, negative
	// means every one until ClearFaults.
	Times int
	// Status is the HTTP status; default 500.
	Status int
	// Message is the reason phrase and message, e.g. "got no worker upid
	// - start worker failed".
	Message string
	// Errors are the per-parameter errors of a 400.
	Errors map[string]string
	// EmptyBody answers without a body, as pveproxy does for 595/596.
	EmptyBody bool
	// Drop closes the connection without an answer.
	Drop bool
}

// TaskFault changes how matching tasks end.
type TaskFault struct {
	// Type matches the task type (qmclone, qmstart, vzcreate, ...); ""
	// matches any.
	Type string
	// ID matches the task's ID (the VMID for guest tasks); "" any.
	ID string
	// Times is how many matching tasks are affected; 0 means 1,
	// negative means all.
	Times int
	// ExitStatus ends the task with this status instead of running it:
	// an error text fails it (the task's effect is undone), "WARNINGS: n"
	// runs it and reports warnings. "" leaves the outcome alone.
	ExitStatus string
	// Delay adds running time (scaled by Latency.Scale).
	Delay time.Duration
}

type faults struct {
	requests []*Fault
	tasks    []*TaskFault
}

// takeRequest consumes the first fault matching a request.
func (f *faults) takeRequest(method, p string) *Fault {
	for i, ft := range f.requests {
		if ft.Method != "" && ft.Method != method {
			continue
		}
		if ft.Path != "" {
			if ok, _ := path.Match(ft.Path, p); !ok {
				continue
			}
		}
		out := *ft
		if ft.Times > 0 {
			ft.Times--
			if ft.Times == 0 {
				f.requests = append(f.requests[:i], f.requests[i+1:]...)
			}
		}
		return &out
	}
	return nil
}

func (f *faults) takeTask(typ, id string) *TaskFault {
	for i, ft := range f.tasks {
		if (ft.Type != "" && ft.Type != typ) || (ft.ID != "" && ft.ID != id) {
			continue
		}
		out := *ft
		if ft.Times > 0 {
			ft.Times--
			if ft.Times == 0 {
				f.tasks = append(f.tasks[:i], f.tasks[i+1:]...)
			}
		}
		return &out
	}
	return nil
}

// InjectFault makes the next matching requests fail (see Fault).
func (s *Server) InjectFault(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	if f.Status == 0 {
		f.Status = http.StatusInternalServerError
	}
	if f.Message == "" {
		f.Message = http.StatusText(f.Status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.requests = append(s.faults.requests, &f)
}

// FailNext makes the next n requests of method on a path pattern fail
// with status and message.
func (s *Server) FailNext(method, pattern string, n, status int, message string) {
	s.InjectFault(Fault{Method: method, Path: pattern, Times: n, Status: status, Message: message})
}

// DropNext closes the connection of the next n matching requests
// without answering.
func (s *Server) DropNext(method, pattern string, n int) {
	s.InjectFault(Fault{Method: method, Path: pattern, Times: n, Drop: true})
}

// InjectTaskFault changes how the next matching tasks end (see
// TaskFault).
func (s *Server) InjectTaskFault(f TaskFault) {
	if f.Times == 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.tasks = append(s.faults.tasks, &f)
}

// ClearFaults removes every pending request and task fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = faults{}
}

// SetNodeOnline powers a node on or off. Requests for an offline node
// get pveproxy's 595; it shows offline in /nodes and /cluster/status, and
// its guests are listed with status "unknown". Powered off, its guests
// stop; powered on again, those with onboot=1 start, as pve-guests starts
// them when a real node boots.
func (s *Server) SetNodeOnline(name string, online bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.st.node(name)
	if n == nil {
		return fmt.Errorf("set node online: no node %q", name)
	}
	booted := online && !n.online
	n.online = online
	for _, g := range s.st.guests {
		switch {
		case g.node != name:
		case !online:
			g.running = false
		case booted && !g.running && !g.template() && g.conf["onboot"] == "1":
			s.startGuest(g, s.clock.Now())
		}
	}
	s.recordResources(s.clock.Now())
	return nil
}

// SetStorage changes a storage's capacity and base usage in bytes, on
// node (any node for a shared storage): a test fills a storage to make
// the next clone fail.
func (s *Server) SetStorage(nodeName, name string, size, used uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st.storage(nodeName, name)
	if st == nil {
		return fmt.Errorf("set storage: no storage %q on node %q", name, nodeName)
	}
	st.Size, st.Used = size, used
	return nil
}

// SetAgentAddresses makes a VM's guest agent report these addresses
// (CIDR, IPv4 or IPv6) on its first NIC instead of ipconfig0's static
// address; none reports no address, as a guest still waiting for DHCP.
func (s *Server) SetAgentAddresses(vmid int, cidrs ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.st.guests[vmid]
	if g == nil || g.kind != KindVM {
		return fmt.Errorf("set agent addresses: no VM %d", vmid)
	}
	g.agentIPs = append([]string{}, cidrs...)
	if g.agentIPs == nil {
		g.agentIPs = []string{}
	}
	return nil
}
