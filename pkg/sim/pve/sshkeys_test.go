package pve

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	proxmox "github.com/luthermonson/go-proxmox"
	"golang.org/x/crypto/ssh"
)

// newAuthorizedKey is a fresh ed25519 public key as one authorized_keys
// line, without the newline.
func newAuthorizedKey(t *testing.T, comment string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " " + comment
}

// TestSSHKeyValidation: PVE runs `ssh-keygen -l` on every line of sshkeys
// (VM create and config, after uri_unescape) and ssh-public-keys (CT
// create) and refuses the call with a plain 500 on a bad one. An
// unresolved "file:" reference is such a line.
func TestSSHKeyValidation(t *testing.T) {
	const fileRef = "file:~/.ssh/id_ed25519.pub"
	good := newAuthorizedKey(t, "ops@homelab")
	other := newAuthorizedKey(t, "ci@homelab")
	const want = "500 SSH public key validation error"
	cases := []struct {
		name string
		keys string
		ok   bool
	}{
		{"file reference", fileRef, false},
		{"one key", good, true},
		{"two keys and blank lines", good + "\n\n  \n" + other + "\n", true},
		{"options before the key", `from="10.0.0.0/8" ` + good, true},
		{"one bad line among good ones", good + "\n" + fileRef, false},
		{"truncated blob", good[:40], false},
		{"comment line", "# ops key", false},
	}
	for _, src := range []string{"pve", "builtin"} {
		t.Run(src, func(t *testing.T) {
			opts := Options{Schema: BuiltinSchema()}
			if src == "pve" {
				opts.Schema = loadPVESchema(t)
			}
			s, c := start(t, opts)
			cx := ctx(t)
			node, err := c.Node(cx, "pve-s1")
			if err != nil {
				t.Fatal(err)
			}
			node2, err := c.Node(cx, "pve-s2")
			if err != nil {
				t.Fatal(err)
			}
			vm := &proxmox.VirtualMachine{}
			vm.New(c, "pve-s1", 9000)
			for i, tc := range cases {
				vmid := 200 + i
				// VM create.
				task, err := node.NewVirtualMachine(cx, vmid, proxmox.VirtualMachineOption{Name: "sshkeys", Value: proxmox.EncodeSSHKeys(tc.keys)})
				checkKeyAnswer(t, "VM create "+tc.name, tc.ok, err, want)
				if err == nil {
					if werr := task.WaitFor(cx, 10); werr != nil {
						t.Fatalf("%s: VM create task: %v", tc.name, werr)
					}
				}
				if _, exists := s.Guest(vmid); exists != tc.ok {
					t.Errorf("VM create %s: VM %d exists %v", tc.name, vmid, exists)
				}
				// VM config, synchronous and as a task.
				err = vm.ConfigSync(cx, proxmox.VirtualMachineOption{Name: "sshkeys", Value: proxmox.EncodeSSHKeys(tc.keys)})
				checkKeyAnswer(t, "VM config "+tc.name, tc.ok, err, want)
				_, err = vm.Config(cx, proxmox.VirtualMachineOption{Name: "sshkeys", Value: proxmox.EncodeSSHKeys(tc.keys)})
				checkKeyAnswer(t, "VM config (async) "+tc.name, tc.ok, err, want)
				// CT create: plain text, not URI-encoded.
				ctid := 300 + i
				_, err = node2.NewContainer(cx, ctid,
					proxmox.ContainerOption{Name: "ostemplate", Value: DefaultCTTemplate},
					proxmox.ContainerOption{Name: "rootfs", Value: "local-lvm:1"},
					proxmox.ContainerOption{Name: "ssh-public-keys", Value: tc.keys})
				checkKeyAnswer(t, "CT create "+tc.name, tc.ok, err, want)
				if _, exists := s.Guest(ctid); exists != tc.ok {
					t.Errorf("CT create %s: CT %d exists %v", tc.name, ctid, exists)
				}
			}
			g, _ := s.Guest(9000)
			if strings.Contains(g.Config["sshkeys"], "file") {
				t.Errorf("a refused key was stored: %q", g.Config["sshkeys"])
			}
		})
	}
}

func checkKeyAnswer(t *testing.T, what string, ok bool, err error, want string) {
	t.Helper()
	switch {
	case ok && err != nil:
		t.Errorf("%s: %v", what, err)
	case !ok && (err == nil || err.Error() != want):
		t.Errorf("%s: %v, want %q", what, err, want)
	}
}

// TestSSHKeysRawAnswer: the refusal is PVE's 500 with the message as the
// reason phrase and in the body, not a 400 parameter error.
func TestSSHKeysRawAnswer(t *testing.T) {
	s, _ := start(t, Options{})
	status, code, body := raw(t, s, "PUT", "/nodes/pve-s1/qemu/9000/config", goodToken, `{"sshkeys":"file%3A~%2F.ssh%2Fid_ed25519.pub"}`)
	if code != 500 || status != "500 SSH public key validation error" || body != `{"data":null,"message":"SSH public key validation error\n"}` {
		t.Errorf("answer: %d %q %q", code, status, body)
	}
}

// TestStartupOrderFormat: startup is pve-startup-order, `[[order=]\d+]
// [,up=\d+] [,down=\d+]`, checked by the schema on VM and CT config.
func TestStartupOrderFormat(t *testing.T) {
	for _, src := range []string{"pve", "builtin"} {
		t.Run(src, func(t *testing.T) {
			opts := Options{Schema: BuiltinSchema()}
			if src == "pve" {
				opts.Schema = loadPVESchema(t)
			}
			s, c := start(t, opts)
			cx := ctx(t)
			vm := &proxmox.VirtualMachine{}
			vm.New(c, "pve-s1", 9000)
			const bad = `bad request: 400 Parameter verification failed. - {"startup":"invalid format - unable to parse startup options"}`
			for _, tc := range []struct {
				v  string
				ok bool
			}{
				{"order=1", true},
				{"3", true},
				{"order=2,up=30", true},
				{"order=2,up=30,down=60", true},
				{"up=5", true},
				{"order=1,,up=2", true},
				{"0", false},
				{"order=-1", false},
				{"order=a", false},
				{"order=1;up=2", false},
				{"order=1,up=", false},
				{"order=1,delay=2", false},
				{"order = 1", false},
			} {
				err := vm.ConfigSync(cx, proxmox.VirtualMachineOption{Name: "startup", Value: tc.v})
				if tc.ok && err != nil {
					t.Errorf("VM startup=%q: %v", tc.v, err)
				}
				if !tc.ok && (err == nil || err.Error() != bad) {
					t.Errorf("VM startup=%q: %v", tc.v, err)
				}
			}
			if g, _ := s.Guest(9000); g.Config["startup"] != "order=1,,up=2" {
				t.Errorf("stored startup %q", g.Config["startup"])
			}
			node2, err := c.Node(cx, "pve-s2")
			if err != nil {
				t.Fatal(err)
			}
			_, err = node2.NewContainer(cx, 130,
				proxmox.ContainerOption{Name: "ostemplate", Value: DefaultCTTemplate},
				proxmox.ContainerOption{Name: "startup", Value: "order=x"})
			if err == nil || err.Error() != bad {
				t.Errorf("CT create with startup=order=x: %v", err)
			}
		})
	}
}
