package pve

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// task is a PVE worker: it runs from start to end on the simulated clock
// and then applies its effect.
type task struct {
	seq     int
	upid    string
	node    string
	typ     string
	id      string
	user    string // user@realm
	tokenid string // token name, or ""
	pid     int
	pstart  uint64
	start   time.Time
	end     time.Time
	log     []string
	done    bool
	exit    string
	// finish applies the effect at the end; an error fails the task.
	finish func(at time.Time) error
	// abort undoes what the request already did when the task fails
	// before finish runs (an injected failure).
	abort func(at time.Time)
	// forced is an injected exit status.
	forced string
	// warnings are what the worker logged with log_warn: a task that
	// otherwise succeeds ends in "WARNINGS: N".
	warnings int
}

// warn logs a warning as PVE's log_warn does ("WARN: ..."); the task
// then ends in WARNINGS.
func (t *task) warn(msg string) {
	t.log = append(t.log, "WARN: "+msg)
	t.warnings++
}

// TaskInfo is a snapshot of one task.
type TaskInfo struct {
	UPID       string
	Node       string
	Type       string
	ID         string
	User       string
	Start, End time.Time
	Running    bool
	ExitStatus string
	Log        []string
}

// newTask starts a worker of type typ on node for the caller.
func (s *Server) newTask(c *call, nodeName, typ, id string, lines []string, finish func(time.Time) error, abort func(time.Time)) *task {
	st := s.st
	pid := st.nextPID()
	t := &task{
		seq: len(st.order), node: nodeName, typ: typ, id: id,
		user: c.tok.user, tokenid: c.tok.name, pid: pid,
		pstart: uint64(c.now.Sub(st.boot)/(10*time.Millisecond)) + uint64(pid),
		start:  c.now, log: lines, finish: finish, abort: abort,
	}
	d := s.opts.Latency.task(typ)
	if f := s.faults.takeTask(typ, id); f != nil {
		d += s.opts.Latency.scale(f.Delay)
		t.forced = f.ExitStatus
	}
	t.end = c.now.Add(d)
	t.upid = fmt.Sprintf("UPID:%s:%08X:%08X:%08X:%s:%s:%s:", nodeName, pid, t.pstart, c.now.Unix(), typ, id, c.tok.id)
	st.tasks[t.upid] = t
	st.order = append(st.order, t)
	return t
}

// settle finishes every task whose end has come, in order, recording
// what /cluster/resources shows after each.
func (s *Server) settle(now time.Time) {
	var due []*task
	for _, t := range s.st.order {
		if !t.done && !t.end.After(now) {
			due = append(due, t)
		}
	}
	sort.SliceStable(due, func(i, j int) bool {
		if !due[i].end.Equal(due[j].end) {
			return due[i].end.Before(due[j].end)
		}
		return due[i].seq < due[j].seq
	})
	for _, t := range due {
		s.complete(t)
		s.recordResources(t.end)
	}
}

func (s *Server) complete(t *task) {
	t.done = true
	warnings := strings.HasPrefix(t.forced, "WARNINGS")
	var err error
	switch {
	case t.forced != "" && !warnings:
		if t.abort != nil {
			t.abort(t.end)
		}
		err = fmt.Errorf("%s", t.forced)
	case t.finish != nil:
		err = t.finish(t.end)
	}
	switch {
	case err != nil:
		msg := strings.TrimRight(err.Error(), "\n")
		t.exit = msg
		t.log = append(t.log, "TASK ERROR: "+msg)
	case warnings:
		t.exit = t.forced
		t.log = append(t.log, "WARN: simulated warning", "TASK "+t.forced)
	case t.warnings > 0:
		t.exit = fmt.Sprintf("WARNINGS: %d", t.warnings)
		t.log = append(t.log, "TASK "+t.exit)
	default:
		t.exit = "OK"
		t.log = append(t.log, "TASK OK")
	}
	s.logger.Debug("pve sim: task done", "upid", t.upid, "exit", t.exit)
}

// runningTask finds an unfinished task of typ on id and node.
func (st *state) runningTask(nodeName, typ, id string) *task {
	for _, t := range st.order {
		if !t.done && t.node == nodeName && t.typ == typ && t.id == id {
			return t
		}
	}
	return nil
}

func (t *task) info() TaskInfo {
	return TaskInfo{
		UPID: t.upid, Node: t.node, Type: t.typ, ID: t.id, User: t.user,
		Start: t.start, End: t.end, Running: !t.done, ExitStatus: t.exit,
		Log: append([]string(nil), t.log...),
	}
}

func (s *Server) taskFor(c *call) (*task, *apiError) {
	upid := c.vars["upid"]
	if _, err := parseUPID(upid); err != nil {
		return nil, paramError(map[string]string{"upid": "unable to parse worker upid '" + upid + "'"})
	}
	t, ok := s.st.tasks[upid]
	if !ok {
		return nil, paramError(map[string]string{"upid": "no such task"})
	}
	return t, nil
}

// handleTaskStatus is GET /nodes/{node}/tasks/{upid}/status.
func (s *Server) handleTaskStatus(c *call) (any, *apiError) {
	t, err := s.taskFor(c)
	if err != nil {
		return nil, err
	}
	out := map[string]any{
		"upid": t.upid, "node": t.node, "pid": t.pid, "pstart": t.pstart,
		"starttime": t.start.Unix(), "type": t.typ, "id": t.id, "user": t.user,
		"status": "running",
	}
	if t.tokenid != "" {
		out["tokenid"] = t.tokenid
	}
	if t.done {
		out["status"] = "stopped"
		out["exitstatus"] = t.exit
	}
	return out, nil
}

// handleTaskLog is GET /nodes/{node}/tasks/{upid}/log: lines numbered
// from 1, start counted from 0, 50 lines unless limit says otherwise.
func (s *Server) handleTaskLog(c *call) (any, *apiError) {
	t, err := s.taskFor(c)
	if err != nil {
		return nil, err
	}
	start, _ := strconv.Atoi(c.params["start"])
	limit := 50
	if v, ok := c.params["limit"]; ok {
		limit, _ = strconv.Atoi(v)
	}
	lines := make([]map[string]any, 0, limit)
	for i := start; i < len(t.log) && len(lines) < limit; i++ {
		lines = append(lines, map[string]any{"n": i + 1, "t": t.log[i]})
	}
	if len(t.log) == 0 && start == 0 && limit > 0 {
		lines = append(lines, map[string]any{"n": 1, "t": "no content"})
	}
	return lines, nil
}

// upid is a decoded UPID.
type upid struct {
	node, typ, id, user string
}

// parseUPID decodes PVE's UPID:node:pid:pstart:starttime:type:id:user:.
func parseUPID(s string) (upid, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 9 || parts[0] != "UPID" || parts[8] != "" || !reNodeName.MatchString(parts[1]) {
		return upid{}, fmt.Errorf("unable to parse worker upid '%s'", s)
	}
	for _, hexpart := range parts[2:5] {
		if _, err := strconv.ParseUint(hexpart, 16, 64); err != nil || len(hexpart) < 8 {
			return upid{}, fmt.Errorf("unable to parse worker upid '%s'", s)
		}
	}
	return upid{node: parts[1], typ: parts[5], id: parts[6], user: parts[7]}, nil
}
