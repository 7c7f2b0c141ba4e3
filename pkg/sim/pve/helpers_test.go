package pve

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"
)

// schemaFile is PVE 9.1's API schema, test data kept outside the
// repository (see /work/shared/pve-api/README.md).
var schemaFile = filepath.Join("..", "..", "..", "..", "shared", "pve-api", "apidata-9.min.json.gz")

var pveSchema struct {
	once sync.Once
	s    *Schema
	err  error
}

// loadPVESchema returns PVE's schema, or skips the test when the test
// data is absent.
func loadPVESchema(t testing.TB) *Schema {
	t.Helper()
	pveSchema.once.Do(func() { pveSchema.s, pveSchema.err = LoadSchema(schemaFile) })
	if pveSchema.err != nil {
		if os.IsNotExist(pveSchema.err) || errorsIsNotExist(pveSchema.err) {
			t.Skipf("PVE schema test data absent (%s): %v", schemaFile, pveSchema.err)
		}
		t.Fatalf("loading PVE schema: %v", pveSchema.err)
	}
	return pveSchema.s
}

func errorsIsNotExist(err error) bool {
	_, statErr := os.Stat(schemaFile)
	return os.IsNotExist(statErr)
}

// schemaOrBuiltin is PVE's schema when the test data is there, else the
// built-in one (said in the test log).
func schemaOrBuiltin(t testing.TB) *Schema {
	t.Helper()
	if _, err := os.Stat(schemaFile); err != nil {
		t.Logf("PVE schema test data absent (%s); validating with the built-in schema", schemaFile)
		return BuiltinSchema()
	}
	return loadPVESchema(t)
}

// start runs a simulator for the test and returns it with a go-proxmox
// client using the default token.
func start(t testing.TB, opts Options) (*Server, *proxmox.Client) {
	t.Helper()
	if opts.Schema == nil && opts.SchemaPath == "" {
		opts.Schema = schemaOrBuiltin(t)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, client(s, DefaultTokenID, DefaultTokenSecret)
}

func client(s *Server, id, secret string) *proxmox.Client {
	return proxmox.NewClient(s.URL(), proxmox.WithAPIToken(id, secret), proxmox.WithHTTPClient(s.HTTPClient()))
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// waiter returns a function that waits for a task with zero latency
// and fails the test if it did not finish; it returns the task for exit
// status checks. Use as wait(vm.Start(cx)).
func waiter(t testing.TB, c context.Context) func(*proxmox.Task, error) *proxmox.Task {
	return func(task *proxmox.Task, err error) *proxmox.Task {
		t.Helper()
		if err != nil {
			t.Fatalf("starting task: %v", err)
		}
		if task == nil {
			t.Fatal("no task returned")
		}
		if err := task.Wait(c, 5*time.Millisecond, 10*time.Second); err != nil {
			t.Fatalf("waiting for %s: %v", task.UPID, err)
		}
		if !task.IsCompleted {
			t.Fatalf("task %s did not complete", task.UPID)
		}
		return task
	}
}

// okWaiter is waiter that also wants exit status OK.
func okWaiter(t testing.TB, c context.Context) func(*proxmox.Task, error) {
	w := waiter(t, c)
	return func(task *proxmox.Task, err error) {
		t.Helper()
		task = w(task, err)
		if task.ExitStatus != "OK" {
			t.Fatalf("task %s ended %q, want OK", task.UPID, task.ExitStatus)
		}
	}
}

// raw sends one request with net/http and returns status line, status
// code and body.
func raw(t testing.TB, s *Server, method, path, token, body string) (string, int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "PVEAPIToken="+token)
	}
	res, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.Status, res.StatusCode, string(b)
}

const goodToken = DefaultTokenID + "=" + DefaultTokenSecret
