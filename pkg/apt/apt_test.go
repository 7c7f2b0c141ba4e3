package apt

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stub is a fake command for the scripts: a shell body that may read the
// files of the test's directory $T (to count calls and pick answers).
type stub map[string]string

// runScript runs script under /bin/sh with only the stubs (and the shell's
// builtins) on PATH, and returns its exit code, stderr and the calls the
// stubs logged in $T/calls, one line each.
func runScript(t *testing.T, script string, stubs stub) (code int, stderr string, calls []string) {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on this machine")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	stubs["sleep"] = ":" // the retries' pauses, instant here
	for name, body := range stubs {
		text := "#!" + sh + "\necho \"" + name + " $*\" >> \"$T/calls\"\n" + body + "\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(sh, "-c", "set -eu\n"+script)
	cmd.Env = []string{"PATH=" + bin, "T=" + dir}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "calls"))
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l != "" && !strings.HasPrefix(l, "sleep ") {
			calls = append(calls, l)
		}
	}
	return code, errb.String(), calls
}

// count is a stub body that answers the Nth call (1-based) with the Nth
// of answers (the last one repeats): each answer is a shell snippet.
func count(name string, answers ...string) string {
	var b strings.Builder
	// builtins only: the stubs' PATH has no cat
	b.WriteString("n=0; [ -f \"$T/" + name + ".n\" ] && read n < \"$T/" + name + ".n\"; n=$((n+1)); echo $n > \"$T/" + name + ".n\"\ncase $n in\n")
	for i, a := range answers[:len(answers)-1] {
		fmt.Fprintf(&b, "%d) %s ;;\n", i+1, a)
	}
	b.WriteString("*) " + answers[len(answers)-1] + " ;;\nesac")
	return b.String()
}

func TestInstall(t *testing.T) {
	lock := `echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 812 (apt-get)" >&2; exit 100`
	interrupted := `echo "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem. " >&2; exit 100`
	// timeout N CMD...: runs CMD (the stub's own bound is not needed here).
	passTimeout := `shift; exec "$@"`
	tests := []struct {
		name      string
		stubs     stub
		code      int
		stderr    string
		wantCalls []string
	}{
		{
			name:  "a container: no cloud-init, the lists updated, then the install with the lock timeout",
			stubs: stub{"apt-get": "exit 0"},
			wantCalls: []string{
				"apt-get -q update",
				"apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends haproxy keepalived=1:2.2.7-1",
			},
		},
		{
			name:  "a VM: cloud-init waited for first",
			stubs: stub{"apt-get": "exit 0", "timeout": passTimeout, "cloud-init": "echo 'status: done'"},
			wantCalls: []string{
				"timeout 600 cloud-init status --wait",
				"cloud-init status --wait",
				"apt-get -q update",
				"apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends haproxy keepalived=1:2.2.7-1",
			},
		},
		{
			name:  "cloud-init's recoverable error (exit 2) counts as done",
			stubs: stub{"apt-get": "exit 0", "timeout": passTimeout, "cloud-init": "echo 'status: degraded done'; exit 2"},
			wantCalls: []string{
				"timeout 600 cloud-init status --wait",
				"cloud-init status --wait",
				"apt-get -q update",
				"apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends haproxy keepalived=1:2.2.7-1",
			},
		},
		{
			name:   "cloud-init failed: its status and words, nothing installed",
			stubs:  stub{"apt-get": "exit 0", "timeout": passTimeout, "cloud-init": "echo 'status: error'; exit 1"},
			code:   1,
			stderr: "cloud-init status --wait exited 1: status: error",
			wantCalls: []string{
				"timeout 600 cloud-init status --wait",
				"cloud-init status --wait",
			},
		},
		{
			name: "cloud-init still running at the bound: what it said last",
			stubs: stub{"apt-get": "exit 0", "timeout": "exit 124",
				"cloud-init": `echo "status: running"; echo "detail: running modules:final (package_upgrade)"`},
			code:   124,
			stderr: "cloud-init had not finished after 10m0s (the first boot's package upgrade holds apt's locks); it last said: status: running\ndetail: running modules:final (package_upgrade)",
			wantCalls: []string{
				"timeout 600 cloud-init status --wait",
				"cloud-init status --long",
			},
		},
		{
			name:  "the lists' lock held twice: update tried again, then the install",
			stubs: stub{"apt-get": `case $* in *update*) ` + count("update", lock, lock, "exit 0") + ` ;; esac`},
			wantCalls: []string{
				"apt-get -q update", "apt-get -q update", "apt-get -q update",
				"apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends haproxy keepalived=1:2.2.7-1",
			},
		},
		{
			name:   "the lists' lock never freed: 30 tries, apt's words, nothing installed",
			stubs:  stub{"apt-get": lock},
			code:   100,
			stderr: "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 812 (apt-get)",
			wantCalls: func() []string {
				out := make([]string, updateTries)
				for i := range out {
					out[i] = "apt-get -q update"
				}
				return out
			}(),
		},
		{
			name:   "another update error is not retried",
			stubs:  stub{"apt-get": `echo "E: The repository 'http://deb.debian.org/debian bookworm Release' does not have a Release file." >&2; exit 100`},
			code:   100,
			stderr: "does not have a Release file",
			wantCalls: []string{
				"apt-get -q update",
			},
		},
		{
			name: "dpkg interrupted: apt's words, dpkg --configure -a, the install again",
			stubs: stub{"apt-get": `case $* in *install*) ` + count("install", interrupted, "exit 0") + ` ;; esac`,
				"dpkg": "exit 0"},
			wantCalls: []string{
				"apt-get -q update",
				"apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends haproxy keepalived=1:2.2.7-1",
				"dpkg --configure -a",
				"apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends haproxy keepalived=1:2.2.7-1",
			},
		},
		{
			name: "dpkg interrupted, and dpkg cannot take its lock: dpkg's words, not installed again",
			stubs: stub{"apt-get": `case $* in *install*) ` + interrupted + ` ;; esac`,
				"dpkg": `echo "dpkg: error: dpkg frontend lock was locked by another process with pid 4242" >&2; exit 2`},
			code:   2,
			stderr: "dpkg frontend lock was locked by another process with pid 4242",
			wantCalls: []string{
				"apt-get -q update",
				"apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends haproxy keepalived=1:2.2.7-1",
				"dpkg --configure -a",
			},
		},
		{
			name:      "a failed install fails the script with apt's status",
			stubs:     stub{"apt-get": `case $* in *install*) echo "E: Unable to locate package keepalived" >&2; exit 100 ;; esac`},
			code:      100,
			stderr:    "E: Unable to locate package keepalived",
			wantCalls: []string{"apt-get -q update", "apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends haproxy keepalived=1:2.2.7-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stderr, calls := runScript(t, Install([]string{"--no-install-recommends"}, "haproxy", "keepalived=1:2.2.7-1"), tt.stubs)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q does not say %q", stderr, tt.stderr)
			}
			if strings.Join(calls, "\n") != strings.Join(tt.wantCalls, "\n") {
				t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(tt.wantCalls, "\n"))
			}
		})
	}
}

// A package name is one shell word, however it is spelled.
func TestInstallQuotesPackages(t *testing.T) {
	// The stub fails, so that the script passes apt's words on to stderr.
	code, stderr, _ := runScript(t, UpdateAndInstall(nil, "a b", "$(touch x)"),
		stub{"apt-get": `case $* in *update*) exit 0 ;; esac; for a in "$@"; do echo "[$a]" >&2; done; exit 100`})
	if code != 100 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"[a b]", "[$(touch x)]", "[DPkg::Lock::Timeout=300]"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("apt-get's arguments %q lack %s", stderr, want)
		}
	}
}

func TestWorst(t *testing.T) {
	if got, want := Worst(0), CloudInitWait+UpdateTime+LockTimeout; got != want {
		t.Errorf("Worst(0) = %v, want %v", got, want)
	}
	// The install may run twice: once refused for an interrupted dpkg.
	if got, want := Worst(time.Minute), CloudInitWait+UpdateTime+LockTimeout+2*time.Minute; got != want {
		t.Errorf("Worst(1m) = %v, want %v", got, want)
	}
}
