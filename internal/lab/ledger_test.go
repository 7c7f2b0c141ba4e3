package lab

import (
	"bufio"
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// A lab whose process is killed leaves its hosts, namespaces, cgroups and
// files behind; the next lab to take the lock removes them all, from the
// dead lab's ledger, and the machine is as before.
func TestDeadLabIsSwept(t *testing.T) {
	if err := Available(); err != nil {
		if os.Getenv("HOMELAB_REQUIRE_LAB") == "1" {
			t.Fatalf("lab required: %v", err)
		}
		t.Skipf("no lab here: %v", err)
	}
	hold := exclusiveLab(t)
	before := machineBaseline(t)
	hold.Release()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	child := osexec.CommandContext(ctx, os.Args[0], "-test.run=^TestDeadLabChild$", "-test.v")
	child.Env = append(os.Environ(), "HOMELAB_LAB_CHILD=1")
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	var ready string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "lab ready ") {
			ready = strings.TrimPrefix(line, "lab ready ")
			break
		}
	}
	child.Process.Kill()
	child.Wait()
	if ready == "" {
		t.Fatal("the child's lab did not start")
	}
	f := strings.Fields(ready)
	if len(f) != 3 {
		t.Fatalf("the child said %q", ready)
	}
	// The lab's directory, a host's cgroup, the bare host's server.
	dir, cgroup, server := f[0], f[1], "/proc/"+f[2]
	leftovers := []string{"/run/netns/hld-node", "/run/netns/hld-client", "/run/netns/hld-sw", "/sys/class/net/hldbr", dir, cgroup, server}
	for _, p := range leftovers {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("the killed lab left no %s (%v): nothing to sweep", p, err)
		}
	}

	hold = exclusiveLab(t)
	t.Logf("swept: %v", hold.Swept)
	for _, p := range leftovers {
		if _, err := os.Stat(p); err == nil && !zombie(p) {
			t.Errorf("%s is still there after the next lab took the lock", p)
		}
	}
	if ledgers, _ := filepath.Glob(filepath.Join(LedgerDir, "*.json")); len(ledgers) != 0 {
		t.Errorf("ledgers left: %v", ledgers)
	}
	if len(hold.Swept) > 0 && !slices.Contains(hold.Swept, "netns hld-node") {
		t.Errorf("swept %v, not the dead lab's host namespace", hold.Swept)
	}
	assertUnchanged(t, before)
}

// zombie says whether p is a process that has exited and waits for its
// parent (here the machine's init) to reap it.
func zombie(p string) bool {
	b, err := os.ReadFile(filepath.Join(p, "stat"))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z")
}

// TestDeadLabChild is the lab TestDeadLabIsSwept kills: it starts, says
// where it is, and waits to be killed.
func TestDeadLabChild(t *testing.T) {
	if os.Getenv("HOMELAB_LAB_CHILD") != "1" {
		t.Skip("run by TestDeadLabIsSwept")
	}
	l, err := Start(context.Background(), Options{Prefix: "hld", Hosts: []HostSpec{{Name: "node"}, {Name: "client", Bare: true}}})
	if err != nil {
		t.Fatal(err)
	}
	// A bare host's server, outside every cgroup of the lab.
	srv, err := l.Command("client", "sleep", "infinity")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("lab ready %s %s %d\n", l.dir, l.Host("node").Cgroups[0], srv.Process.Pid)
	time.Sleep(time.Hour)
}
