// Package sshd is an in-process SSH server on loopback for tests and for the
// simulated lab (`homelab up --simulate`).
//
// It speaks real SSH (golang.org/x/crypto/ssh, server side) to the unmodified
// client library: public-key authentication against the keys given in
// Options, an SFTP subsystem rooted in a per-host directory (the remote path
// /etc/haproxy/haproxy.cfg is <Root>/etc/haproxy/haproxy.cfg), `exec`
// requests answered by a pluggable Handler, and `direct-tcpip` channels to
// loopback ports so that one server can act as a jump host for another.
//
// Faults can be injected to exercise a client's error paths: refuse the next
// N connections (a guest still booting), drop the connection during the next
// SFTP write after N bytes or on the next `exec` (DropNextExec), and rotate
// the host key. Every command the server
// runs is recorded in a log (Log).
package sshd

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/crypto/ssh"
)

// Session is what a Handler sees of one `exec` request.
type Session struct {
	// Command is the command line exactly as the client sent it.
	Command string
	// User is the authenticated user name.
	User string
	// Root is the host's root directory on the local file system: a remote
	// path p lives at filepath.Join(Root, p).
	Root string
	// Stdin is the client's standard input; it ends when the client closes it.
	Stdin io.Reader
	// Stdout and Stderr go back to the client.
	Stdout, Stderr io.Writer
}

// Handler answers an `exec` request and returns the command's exit status.
// The context is cancelled when the client goes away or sends a signal.
type Handler func(ctx context.Context, s Session) int

// Options configure a Server.
type Options struct {
	// Addr is the listen address; default 127.0.0.1:0 (a free loopback port).
	Addr string
	// HostKey is the server's host key; a fresh ed25519 key when nil.
	HostKey ssh.Signer
	// AuthorizedKeys are the public keys allowed to log in (as any user).
	AuthorizedKeys []ssh.PublicKey
	// Root is the directory that holds the host's file system. A temporary
	// directory is created (and removed by Close) when empty.
	Root string
	// Handler answers `exec` requests; Builtin(nil) when nil.
	Handler Handler
	// Logger receives connection-level diagnostics; nil discards them.
	Logger *slog.Logger
}

// Server is a running SSH server. Its methods are safe for concurrent use.
type Server struct {
	ln      net.Listener
	root    string
	tmpRoot bool
	handler Handler
	log     *slog.Logger
	authz   [][]byte

	mu        sync.Mutex
	hostKey   ssh.Signer
	refuse    int
	dropAfter int64 // -1: disarmed
	dropExec  bool
	cmdLog    []string
	conns     map[net.Conn]struct{}
	accepted  int
	closed    bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New starts a server listening on opts.Addr.
func New(opts Options) (*Server, error) {
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	key := opts.HostKey
	if key == nil {
		var err error
		if key, err = newHostKey(); err != nil {
			return nil, err
		}
	}
	s := &Server{
		handler:   opts.Handler,
		log:       opts.Logger,
		hostKey:   key,
		dropAfter: -1,
		conns:     map[net.Conn]struct{}{},
	}
	if s.handler == nil {
		s.handler = Builtin(nil)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, k := range opts.AuthorizedKeys {
		s.authz = append(s.authz, k.Marshal())
	}
	s.root = opts.Root
	if s.root == "" {
		dir, err := os.MkdirTemp("", "sshd-root-")
		if err != nil {
			return nil, fmt.Errorf("sshd: root: %w", err)
		}
		s.root, s.tmpRoot = dir, true
	}
	root, err := filepath.Abs(s.root)
	if err != nil {
		return nil, fmt.Errorf("sshd: root: %w", err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("sshd: root: %w", err)
	}
	if s.root, err = filepath.EvalSymlinks(root); err != nil {
		return nil, fmt.Errorf("sshd: root: %w", err)
	}
	s.ln, err = net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sshd: listen %s: %w", addr, err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

func newHostKey() (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sshd: host key: %w", err)
	}
	return ssh.NewSignerFromKey(priv)
}

// Addr is the address the server listens on (host:port).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Root is the directory holding the host's file system.
func (s *Server) Root() string { return s.root }

// HostKey is the public half of the current host key.
func (s *Server) HostKey() ssh.PublicKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hostKey.PublicKey()
}

// SetHostKey replaces the host key with key (the key a re-created
// guest's disk holds); connections made afterwards see it.
func (s *Server) SetHostKey(key ssh.Signer) {
	s.mu.Lock()
	s.hostKey = key
	s.mu.Unlock()
}

// RotateHostKey replaces the host key with a fresh ed25519 key (a
// reinstalled host); connections made afterwards see the new key.
func (s *Server) RotateHostKey() error {
	key, err := newHostKey()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.hostKey = key
	s.mu.Unlock()
	return nil
}

// RefuseNext makes the server close the next n TCP connections before the
// SSH handshake, as a guest that is still booting would.
func (s *Server) RefuseNext(n int) {
	s.mu.Lock()
	s.refuse = n
	s.mu.Unlock()
}

// DropNextWriteAfter makes the server drop the whole connection during the
// next SFTP file write, once n bytes of that file have been written.
func (s *Server) DropNextWriteAfter(n int64) {
	s.mu.Lock()
	s.dropAfter = n
	s.mu.Unlock()
}

// DropNextExec makes the server drop the whole connection when the next
// `exec` request arrives (after recording the command), as a host that
// reboots or crashes while a command runs would.
func (s *Server) DropNextExec() {
	s.mu.Lock()
	s.dropExec = true
	s.mu.Unlock()
}

// takeDropExec disarms and returns the pending exec-drop fault.
func (s *Server) takeDropExec() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dropExec
	s.dropExec = false
	return d
}

// Log returns the commands run so far, in order.
func (s *Server) Log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.cmdLog...)
}

// Connections is the number of TCP connections accepted (and not refused)
// so far: tests use it to check that a client reuses its connection.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Close stops the server, drops every connection and waits for them to end.
// A temporary Root is removed.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.cancel()
	err := s.ln.Close()
	s.wg.Wait()
	if s.tmpRoot {
		os.RemoveAll(s.root)
	}
	return err
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		if s.refuse > 0 {
			s.refuse--
			s.mu.Unlock()
			c.Close()
			continue
		}
		s.accepted++
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

func (s *Server) config() *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			m := key.Marshal()
			for _, k := range s.authz {
				if bytes.Equal(k, m) {
					return &ssh.Permissions{}, nil
				}
			}
			return nil, fmt.Errorf("sshd: key %s not authorized for %s", ssh.FingerprintSHA256(key), meta.User())
		},
	}
	s.mu.Lock()
	cfg.AddHostKey(s.hostKey)
	s.mu.Unlock()
	return cfg
}

func (s *Server) serveConn(c net.Conn) {
	conn, chans, reqs, err := ssh.NewServerConn(c, s.config())
	if err != nil {
		s.log.Debug("sshd: handshake", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	var wg sync.WaitGroup
	defer wg.Wait()
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			ch, creqs, err := nc.Accept()
			if err != nil {
				continue
			}
			wg.Go(func() { s.serveSession(conn, c, ch, creqs) })
		case "direct-tcpip":
			wg.Go(func() { s.serveDirect(nc) })
		default:
			nc.Reject(ssh.UnknownChannelType, "unsupported channel type")
		}
	}
}

func (s *Server) logCommand(cmd string) {
	s.mu.Lock()
	s.cmdLog = append(s.cmdLog, cmd)
	s.mu.Unlock()
}

// takeDrop disarms and returns the pending write-drop budget (-1: none).
func (s *Server) takeDrop() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.dropAfter
	s.dropAfter = -1
	return n
}

var errDropped = errors.New("sshd: connection dropped (injected fault)")
