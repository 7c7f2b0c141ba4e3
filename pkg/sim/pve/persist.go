package pve

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"
)

// stateFormat is the version of what Save writes; Load refuses others.
const stateFormat = 1

// savedState is the simulator's state as Save writes it (JSON).
type savedState struct {
	FormatVersion int    `json:"format_version"`
	ClusterName   string `json:"cluster_name"`
	Version       string `json:"version"`
	// Certificate and Key are the HTTPS certificate and its key (PEM),
	// so the fingerprint stays what clients pinned.
	Certificate string         `json:"certificate"`
	Key         string         `json:"key"`
	Boot        time.Time      `json:"boot"`
	Nodes       []savedNode    `json:"nodes"`
	Storages    []savedStorage `json:"storages"`
	CTTemplates []string       `json:"ct_templates"`
	Guests      []savedGuest   `json:"guests"`
	PIDSeq      int            `json:"pid_seq"`
	MACSeq      int            `json:"mac_seq"`
}

type savedNode struct {
	NodeSpec
	ID     int  `json:"id"`
	Online bool `json:"online"`
}

type savedStorage struct {
	StorageSpec
	// Node is "" for a shared storage.
	Node string `json:"node"`
}

type savedGuest struct {
	VMID    int               `json:"vmid"`
	Kind    Kind              `json:"kind"`
	Node    string            `json:"node"`
	Running bool              `json:"running"`
	PID     int               `json:"pid,omitempty"`
	Lock    string            `json:"lock,omitempty"`
	Config  map[string]string `json:"config"`
	// AgentIPs is null when the agent reports ipconfig0's address, a
	// list (maybe empty) when a test set what it reports.
	AgentIPs []string `json:"agent_ips"`
	// Instance and HostKey are the guest's identity (identity.go).
	Instance string `json:"instance,omitempty"`
	HostKey  string `json:"host_key,omitempty"`
}

// Save writes the simulated cluster's state to w: the cluster's name and
// version, its nodes (online or not), storages, container templates,
// every guest (VM templates included) with its configuration, power state
// and lock, the ID sequences and the HTTPS certificate. A server Loaded
// from it answers as this one does. Tasks, the request log, injected
// faults and API tokens are not saved (tokens come from Options).
func (s *Server) Save(w io.Writer) error {
	s.mu.Lock()
	s.settle(s.clock.Now())
	st := s.st
	out := savedState{
		FormatVersion: stateFormat, ClusterName: s.opts.ClusterName, Version: s.opts.Version,
		Boot: st.boot, CTTemplates: slices.Clone(st.ctTmpls), PIDSeq: st.pidSeq, MACSeq: st.macSeq,
	}
	for _, n := range st.nodes {
		out.Nodes = append(out.Nodes, savedNode{NodeSpec: n.NodeSpec, ID: n.id, Online: n.online})
	}
	for _, key := range slices.Sorted(maps.Keys(st.storages)) {
		sto := st.storages[key]
		out.Storages = append(out.Storages, savedStorage{StorageSpec: sto.StorageSpec, Node: sto.node})
	}
	for _, id := range slices.Sorted(maps.Keys(st.guests)) {
		g := st.guests[id]
		sg := savedGuest{VMID: g.vmid, Kind: g.kind, Node: g.node, Running: g.running, Lock: g.lock,
			Config: maps.Clone(g.conf), AgentIPs: slices.Clone(g.agentIPs),
			Instance: g.id.instance, HostKey: string(g.id.hostKey)}
		if g.running {
			sg.PID = g.pid
		}
		out.Guests = append(out.Guests, sg)
	}
	cert, key := s.cert, s.cert.PrivateKey
	s.mu.Unlock()

	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("pve simulator: save the certificate key: %w", err)
	}
	out.Certificate = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}))
	out.Key = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("pve simulator: save: %w", err)
	}
	return nil
}

// Load replaces the server's cluster with one Save wrote, before Start.
// What Options said of nodes, storages and templates gives way to the
// saved state; tokens, latency, the clock and the listen address stay as
// Options say. Guests that were running run again, as after a power cut
// of the whole cluster: their uptime starts over and their agent answers
// after Latency.AgentBoot.
func (s *Server) Load(r io.Reader) error {
	if s.srv != nil {
		return errors.New("pve simulator: load: the server already serves; load before Start")
	}
	var in savedState
	if err := json.NewDecoder(r).Decode(&in); err != nil {
		return fmt.Errorf("pve simulator: load: %w", err)
	}
	if in.FormatVersion != stateFormat {
		return fmt.Errorf("pve simulator: load: state format %d, this simulator reads %d", in.FormatVersion, stateFormat)
	}
	cert, err := tls.X509KeyPair([]byte(in.Certificate), []byte(in.Key))
	if err != nil {
		return fmt.Errorf("pve simulator: load the certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return fmt.Errorf("pve simulator: load the certificate: %w", err)
	}
	cert.Leaf = leaf
	st := &state{
		storages: map[string]*storage{}, guests: map[int]*guest{}, tasks: map[string]*task{},
		pidSeq: in.PIDSeq, macSeq: in.MACSeq, boot: in.Boot, ctTmpls: in.CTTemplates,
	}
	for _, n := range in.Nodes {
		if !reNodeName.MatchString(n.Name) || st.node(n.Name) != nil {
			return fmt.Errorf("pve simulator: load: node %q: invalid or listed twice", n.Name)
		}
		st.nodes = append(st.nodes, &node{NodeSpec: n.NodeSpec, id: n.ID, online: n.Online})
	}
	for _, sto := range in.Storages {
		if sto.Node != "" && st.node(sto.Node) == nil {
			return fmt.Errorf("pve simulator: load: storage %s: unknown node %q", sto.Name, sto.Node)
		}
		st.storages[sto.Node+"/"+sto.Name] = &storage{StorageSpec: sto.StorageSpec, node: sto.Node}
	}
	now := s.clock.Now()
	for _, g := range in.Guests {
		if st.node(g.Node) == nil {
			return fmt.Errorf("pve simulator: load: guest %d: unknown node %q", g.VMID, g.Node)
		}
		if g.Kind != KindVM && g.Kind != KindCT {
			return fmt.Errorf("pve simulator: load: guest %d: unknown kind %q", g.VMID, g.Kind)
		}
		if _, dup := st.guests[g.VMID]; dup {
			return fmt.Errorf("pve simulator: load: guest %d listed twice", g.VMID)
		}
		conf := g.Config
		if conf == nil {
			conf = map[string]string{}
		}
		ng := &guest{vmid: g.VMID, kind: g.Kind, node: g.Node, lock: g.Lock, conf: conf, agentIPs: g.AgentIPs,
			id: identity{instance: g.Instance, hostKey: []byte(g.HostKey)}}
		if g.HostKey == "" {
			ng.id.hostKey = nil
		}
		if g.Running {
			ng.running, ng.pid = true, g.PID
			if ng.pid == 0 {
				ng.pid = st.nextPID()
			}
			ng.startedAt = now
			ng.agentAt = now.Add(s.opts.Latency.scale(s.opts.Latency.AgentBoot))
		}
		st.guests[g.VMID] = ng
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st = st
	s.opts.ClusterName, s.opts.Version = in.ClusterName, in.Version
	s.cert, s.leaf = cert, leaf
	s.resources = nil
	s.recordResources(now)
	return nil
}
