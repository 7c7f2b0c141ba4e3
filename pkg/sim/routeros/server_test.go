package routeros

import (
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	ros "github.com/go-routeros/routeros/v3"
)

func start(t *testing.T) (*Server, string) {
	t.Helper()
	s := New(Options{Users: map[string]string{"homelab": "pw"}})
	addr, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, addr
}

// deadlineConn sets a deadline on every read and write, the safe way to
// use go-routeros's synchronous client.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (c deadlineConn) Read(b []byte) (int, error) {
	c.SetReadDeadline(time.Now().Add(c.timeout))
	return c.Conn.Read(b)
}

func (c deadlineConn) Write(b []byte) (int, error) {
	c.SetWriteDeadline(time.Now().Add(c.timeout))
	return c.Conn.Write(b)
}

func dial(t *testing.T, addr string) *ros.Client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ros.NewClient(deadlineConn{conn, 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("homelab", "pw"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func deviceMessage(t *testing.T, err error) string {
	t.Helper()
	var de *ros.DeviceError
	if !errors.As(err, &de) {
		t.Fatalf("want a DeviceError, got %v", err)
	}
	return de.Sentence.Map["message"]
}

func TestLogin(t *testing.T) {
	_, addr := start(t)
	if _, err := ros.Dial(addr, "homelab", "wrong"); err == nil || !strings.Contains(err.Error(), "invalid user name or password (6)") {
		t.Fatalf("wrong password: %v", err)
	}
	c, err := ros.Dial(addr, "homelab", "pw")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestFactoryState(t *testing.T) {
	_, addr := start(t)
	c := dial(t, addr)
	rep, err := c.Run("/interface/print", "=.proplist=name,type", "?type=ether")
	if err != nil || len(rep.Re) != 10 || rep.Re[0].Map["name"] != "ether1" {
		t.Fatalf("%v %v", rep, err)
	}
	rep, err = c.Run("/ip/address/print")
	if err != nil || len(rep.Re) != 1 || rep.Re[0].Map["address"] != "192.168.88.1/24" || rep.Re[0].Map["comment"] != "defconf" {
		t.Fatalf("%v %v", rep, err)
	}
}

// The whole life of an entry through the unmodified client: add returns
// its .id, print finds it by its comment, set changes a field, remove
// deletes it, and an empty print is !empty then !done.
func TestAddPrintSetRemove(t *testing.T) {
	s, addr := start(t)
	c := dial(t, addr)
	const comment = "homelab:lab:router/dns/k8s-api.lab"
	rep, err := c.Run("/ip/dns/static/add", "=name=k8s-api.lab", "=address=10.0.20.10", "=comment="+comment)
	if err != nil {
		t.Fatal(err)
	}
	id := rep.Done.Map["ret"]
	if !strings.HasPrefix(id, "*") {
		t.Fatalf("ret %q", id)
	}
	rep, err = c.Run("/ip/dns/static/print", "=.proplist=.id,name,address,type,ttl", "?comment="+comment)
	if err != nil || len(rep.Re) != 1 || rep.Re[0].Map[".id"] != id || rep.Re[0].Map["type"] != "A" || rep.Re[0].Map["ttl"] != "1d" {
		t.Fatalf("print: %v %v", rep, err)
	}
	if _, err := c.Run("/ip/dns/static/set", "=.id="+id, "=address=10.0.20.11"); err != nil {
		t.Fatal(err)
	}
	rep, _ = c.Run("/ip/dns/static/print", "?address=10.0.20.11")
	if len(rep.Re) != 1 {
		t.Fatalf("set not applied: %v", rep)
	}
	if _, err := c.Run("/ip/dns/static/remove", "=.id="+id); err != nil {
		t.Fatal(err)
	}
	rep, err = c.Run("/ip/dns/static/print", "?comment="+comment)
	if err != nil || len(rep.Re) != 0 {
		t.Fatalf("after remove: %v %v", rep, err)
	}
	if n := len(s.Log()); n != 7 { // login + 6 commands
		t.Errorf("log has %d commands: %v", n, s.Log())
	}
	if strings.Contains(strings.Join(s.Log(), "\n"), "=password=pw") {
		t.Error("the command log shows a password")
	}
}

// RouterOS's own answers to bad requests reach the client as DeviceErrors
// with the router's words, and the connection stays usable.
func TestRouterOSErrors(t *testing.T) {
	_, addr := start(t)
	c := dial(t, addr)
	for _, setup := range [][]string{
		{"/ip/address/add", "=address=10.0.10.1/24", "=interface=bridge"},
		{"/ip/pool/add", "=name=pool-lab", "=ranges=10.0.10.100-10.0.10.199"},
		{"/ip/dhcp-server/add", "=name=dhcp-lab", "=interface=bridge", "=address-pool=pool-lab"},
		{"/ip/dhcp-server/lease/add", "=address=10.0.10.11", "=mac-address=02:00:00:00:00:01", "=server=dhcp-lab"},
	} {
		if _, err := c.Run(setup...); err != nil {
			t.Fatalf("%v: %v", setup, err)
		}
	}
	pool, server := "", ""
	if rep, err := c.Run("/ip/pool/print", "?name=pool-lab"); err == nil && len(rep.Re) == 1 {
		pool = rep.Re[0].Map[".id"]
	}
	if rep, err := c.Run("/ip/dhcp-server/print", "?name=dhcp-lab"); err == nil && len(rep.Re) == 1 {
		server = rep.Re[0].Map[".id"]
	}
	tests := []struct {
		name string
		cmd  []string
		want string
	}{
		{"unknown menu", []string{"/ip/firewall/bogus/print"}, "no such command prefix"},
		{"unknown verb", []string{"/ip/address/explode"}, "no such command"},
		{"unknown parameter", []string{"/ip/address/add", "=address=10.0.0.1/24", "=interface=bridge", "=colour=red"}, "unknown parameter colour"},
		{"no such interface", []string{"/ip/address/add", "=address=10.0.0.1/24", "=interface=asdf"}, "input does not match any value of interface"},
		{"duplicate address", []string{"/ip/address/add", "=address=192.168.88.1/24", "=interface=bridge"}, "failure: already have such address"},
		{"duplicate interface name", []string{"/interface/vlan/add", "=name=bridge", "=vlan-id=10", "=interface=ether2"}, "failure: already have interface with such name"},
		{"vlan id out of range", []string{"/interface/vlan/add", "=name=v", "=vlan-id=5000", "=interface=ether2"}, "value of vlan-id out of range (1..4094)"},
		{"no such item", []string{"/ip/dns/static/remove", "=.id=*99"}, "no such item"},
		{"lease ip taken", []string{"/ip/dhcp-server/lease/add", "=address=10.0.10.11", "=mac-address=02:00:00:00:00:02", "=server=dhcp-lab"}, "failure: already have static lease with this IP address"},
		{"lease mac taken", []string{"/ip/dhcp-server/lease/add", "=address=10.0.10.12", "=mac-address=02:00:00:00:00:01", "=server=dhcp-lab"}, "failure: already have static lease for this client"},
		{"read-only menu", []string{"/interface/ethernet/add", "=name=ether11"}, "no such command"},
		{"lease outside every network", []string{"/ip/dhcp-server/lease/add", "=address=172.16.0.5", "=mac-address=02:00:00:00:00:03", "=server=dhcp-lab"}, "failure: address 172.16.0.5 is not in any network"},
		{"remove an item in use", []string{"/ip/pool/remove", "=.id=" + pool}, "failure: pool-lab is in use by /ip/dhcp-server " + server},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Run(tt.cmd...)
			if got := deviceMessage(t, err); got != tt.want {
				t.Errorf("message %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := c.Run("/ip/address/print"); err != nil {
		t.Errorf("connection unusable after traps: %v", err)
	}
}

func TestInjectedTrapAndDrop(t *testing.T) {
	s, addr := start(t)
	c := dial(t, addr)
	s.TrapNext("/ip/dns/static/add", "failure: injected")
	_, err := c.Run("/ip/dns/static/add", "=name=a.lab", "=address=10.0.0.1")
	if got := deviceMessage(t, err); got != "failure: injected" {
		t.Fatalf("%q", got)
	}
	if rep, _ := c.Run("/ip/dns/static/print", "?name=a.lab"); len(rep.Re) != 0 {
		t.Fatal("an injected trap changed the model")
	}
	// A dropped connection mid-command: the add is applied, the answer lost.
	s.DropAfter(1)
	if _, err := c.Run("/ip/dns/static/add", "=name=b.lab", "=address=10.0.0.2"); err == nil {
		t.Fatal("no error on a dropped connection")
	}
	c2 := dial(t, addr)
	if rep, _ := c2.Run("/ip/dns/static/print", "?name=b.lab"); len(rep.Re) != 1 {
		t.Fatal("the write before the drop was lost; a re-run must re-observe before adding")
	}
}

// A router that stops answering does not hang a client whose connection
// has deadlines.
func TestSilentRouterTimesOut(t *testing.T) {
	s, addr := start(t)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := ros.NewClient(deadlineConn{conn, 200 * time.Millisecond})
	defer c.Close()
	if err := c.Login("homelab", "pw"); err != nil {
		t.Fatal(err)
	}
	s.SetSilent(true)
	begin := time.Now()
	if _, err := c.Run("/ip/address/print"); err == nil {
		t.Fatal("no error from a silent router")
	}
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("took %v", took)
	}
}

// Tagged commands on one connection get their own tagged replies, in the
// order the router answers them.
func TestTaggedCommands(t *testing.T) {
	_, addr := start(t)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var mu sync.Mutex
	send := func(words ...string) {
		mu.Lock()
		defer mu.Unlock()
		conn.Write(encodeSentence(words...))
	}
	send("/login", "=name=homelab", "=password=pw", ".tag=l")
	send("/ip/address/print", ".tag=a")
	send("/ip/pool/print", ".tag=b")
	r := newTestReader(conn)
	got := []string{}
	for range 4 {
		w := r.sentence(t)
		got = append(got, w[0]+" "+w[len(w)-1])
	}
	want := "!done .tag=l|!re .tag=a|!done .tag=a|!empty .tag=b"
	if strings.Join(got, "|") != want {
		t.Fatalf("got %q, want %q", strings.Join(got, "|"), want)
	}
}
