package sshd

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// serveSession answers the requests of one "session" channel: one `exec` or
// one `sftp` subsystem, plus env, pty and signal requests.
func (s *Server) serveSession(conn *ssh.ServerConn, raw net.Conn, ch ssh.Channel, reqs <-chan *ssh.Request) {
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	started := false
	var done sync.WaitGroup
	defer done.Wait()
	defer func() {
		// The client closed the channel (or the connection ended): whatever
		// still runs is cancelled.
		cancel()
		ch.Close()
	}()
	for req := range reqs {
		switch req.Type {
		case "exec":
			var p struct{ Command string }
			if started || ssh.Unmarshal(req.Payload, &p) != nil {
				req.Reply(false, nil)
				continue
			}
			started = true
			s.logCommand(p.Command)
			if s.takeDropExec() {
				raw.Close()
				continue
			}
			req.Reply(true, nil)
			done.Go(func() {
				sess := Session{Command: p.Command, User: conn.User(), Root: s.root,
					Stdin: ch, Stdout: ch, Stderr: ch.Stderr()}
				status := s.handler(ctx, sess)
				ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
				ch.CloseWrite()
				ch.Close()
			})
		case "subsystem":
			var p struct{ Name string }
			if started || ssh.Unmarshal(req.Payload, &p) != nil || p.Name != "sftp" {
				req.Reply(false, nil)
				continue
			}
			started = true
			req.Reply(true, nil)
			done.Go(func() {
				fs := &rootFS{root: s.root, srv: s, conn: raw}
				rs := sftp.NewRequestServer(ch, fs.handlers())
				rs.Serve()
				rs.Close()
			})
		case "signal":
			cancel()
			req.Reply(true, nil)
		case "env", "pty-req":
			req.Reply(true, nil)
		default:
			req.Reply(false, nil)
		}
	}
}

// serveDirect answers a "direct-tcpip" channel (a client using this server
// as a jump host). Only loopback destinations are allowed.
func (s *Server) serveDirect(nc ssh.NewChannel) {
	var p struct {
		Host       string
		Port       uint32
		OriginHost string
		OriginPort uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &p); err != nil {
		nc.Reject(ssh.ConnectionFailed, "bad direct-tcpip payload")
		return
	}
	if ip := net.ParseIP(p.Host); p.Host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		nc.Reject(ssh.Prohibited, fmt.Sprintf("sshd: only loopback destinations are allowed, not %s", p.Host))
		return
	}
	var d net.Dialer
	target, err := d.DialContext(s.ctx, "tcp", net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port))))
	if err != nil {
		nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		target.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	var wg sync.WaitGroup
	wg.Go(func() {
		io.Copy(target, ch)
		if tc, ok := target.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	})
	wg.Go(func() {
		io.Copy(ch, target)
		ch.CloseWrite()
	})
	stop := context.AfterFunc(s.ctx, func() { target.Close(); ch.Close() })
	wg.Wait()
	stop()
	target.Close()
	ch.Close()
}
