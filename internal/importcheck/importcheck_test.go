package importcheck

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// root is the repository's root, from this package's directory.
const root = "../.."

// consumer copies testdata/consumer into a directory of its own, its
// go.mod replacing homelab with this repository and the repository's
// go.sum beside it, and returns the directory and the environment its go
// commands run in: no network (GOPROXY=off: what homelab needs is in the
// module cache once homelab builds), no workspace, and -mod=mod so that
// go adds the indirect requirements to the copy's go.mod.
func consumer(t *testing.T) (string, []string) {
	t.Helper()
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []string{"go.mod", "main.go"} {
		b, err := os.ReadFile(filepath.Join("testdata", "consumer", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "go.mod" {
			b = bytes.Replace(b, []byte("=> ../../../.."), []byte("=> "+abs), 1)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	return dir, env
}

func goCommand(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the consumer module: %v", err)
	}
	cmd := exec.Command(gobin, args...)
	cmd.Dir, cmd.Env = dir, env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// A module that imports only pkg/homelab compiles no simulator: none of
// pkg/sim/..., pkg/simlab, internal/lab, nor the simulated hosts' shell.
func TestHomelabAloneCompilesNoSimulator(t *testing.T) {
	dir, env := consumer(t)
	deps := strings.Fields(goCommand(t, dir, env, "list", "-deps", "."))
	const mod = "github.com/homelabctl/homelab/"
	var ours []string
	for _, d := range deps {
		if strings.HasPrefix(d, mod) {
			ours = append(ours, strings.TrimPrefix(d, mod))
		}
		if strings.HasPrefix(d, mod+"pkg/sim") || strings.HasPrefix(d, mod+"internal/lab") || strings.HasPrefix(d, "mvdan.cc/sh") {
			t.Errorf("importing pkg/homelab compiles %s", d)
		}
	}
	if !strings.Contains(" "+strings.Join(ours, " ")+" ", " pkg/homelab ") {
		t.Fatalf("the consumer does not import pkg/homelab: %v", ours)
	}
	t.Logf("our packages it compiles: %s", strings.Join(ours, " "))

	// The same listing of pkg/simlab shows the simulators: the check
	// above sees them where they are.
	sims := 0
	for _, d := range strings.Fields(goCommand(t, dir, env, "list", "-deps", mod+"pkg/simlab")) {
		if strings.HasPrefix(d, mod+"pkg/sim/") {
			sims++
		}
	}
	if sims < 4 {
		t.Errorf("pkg/simlab lists %d simulator packages, want the four and their helpers", sims)
	}
}

// The README's "Using it from Go" quotes the consumer program as it is,
// and the output it shows is what the program prints, run from the
// repository's root on the small lab.
func TestReadmeLibraryExample(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const heading = "\n## Using it from Go\n"
	at := strings.Index(string(readme), heading)
	if at < 0 {
		t.Fatal(`README.md has no "## Using it from Go" section`)
	}
	section := string(readme[at+len(heading):])
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	blocks := regexp.MustCompile("(?s)```(\\w+)\n(.*?)```").FindAllStringSubmatch(section, -1)
	var code, output, command string
	for _, b := range blocks {
		switch b[1] {
		case "go":
			code = b[2]
		case "text":
			output = b[2]
		case "sh":
			command = b[2]
		}
	}
	main, err := os.ReadFile("testdata/consumer/main.go")
	if err != nil {
		t.Fatal(err)
	}
	if code != string(main) {
		t.Errorf("the README's go block is not internal/importcheck/testdata/consumer/main.go:\n%s", code)
	}
	const args = "inventories/small.yaml plans/full-stack.yaml"
	if !strings.Contains(command, args) {
		t.Errorf("the README's sh block does not run the program on %s:\n%s", args, command)
	}

	dir, env := consumer(t)
	bin := filepath.Join(dir, "consumer")
	goCommand(t, dir, env, "build", "-o", bin, ".")
	run := exec.Command(bin, strings.Fields(args)...)
	run.Dir = root
	got, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("the consumer: %v\n%s", err, got)
	}
	if string(got) != output {
		t.Errorf("the consumer prints:\n%s\nthe README shows:\n%s", got, output)
	}
}
