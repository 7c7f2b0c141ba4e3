package inventory

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// testKey returns a new ed25519 public key as one authorized_keys line.
func testKey(t *testing.T, comment string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
	if comment != "" {
		line += " " + comment
	}
	return line
}

// The example inventories' file:~/.ssh/id_ed25519.pub is read, and every
// guest that inherits defaults.vm.ssh / defaults.lxc.ssh gets the key, not
// the reference's text.
func TestAuthorizedKeysResolveAndInherit(t *testing.T) {
	line := withKey(t)
	inv, diags, err := Load("../../inventories/rachuna-net.yaml")
	if err != nil || len(diags) != 0 {
		t.Fatalf("err %v, diags %v", err, diags)
	}
	for _, g := range inv.Guests {
		if g.SSH == nil || !slices.Equal(g.SSH.Keys, []string{line}) {
			t.Errorf("%s (%s): keys %v, want the file's key", g.Name, g.Kind, g.SSH.Keys)
		}
		if err := inv.CheckKeys(g.Name); err != nil {
			t.Errorf("%s: %v", g.Name, err)
		}
	}
}

// Without the file (CI, a reviewer's machine), validate still works: a
// warning at the entry; CheckKeys, which commands that make guests call,
// turns it into an error there.
func TestAuthorizedKeysFileMissing(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	inv, diags, err := Load("../../inventories/small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := "../../inventories/small.yaml:50:25: defaults.vm.ssh.authorized_keys[0]: warning: file:~/.ssh/id_ed25519.pub cannot be read here"
	if len(diags) != 1 || !strings.HasPrefix(diags[0].String(), want) {
		t.Fatalf("diags %v, want one warning %q...", diags, want)
	}
	g := inv.Guests[0]
	if len(g.SSH.Keys) != 0 {
		t.Errorf("keys %v, want none", g.SSH.Keys)
	}
	err = inv.CheckKeys(g.Name)
	var verr *ValidationError
	if !errors.As(err, &verr) || len(verr.Diagnostics) != 1 {
		t.Fatalf("CheckKeys: %v", err)
	}
	if d := verr.Diagnostics[0]; d.Pos.Line != 50 || d.Pos.Col != 25 || d.Field != "defaults.vm.ssh.authorized_keys[0]" || !strings.Contains(d.Message, "no such file") {
		t.Errorf("CheckKeys: %s", d)
	}
	if err := inv.CheckSecrets(Resolver{LookupEnv: func(string) (string, bool) { return "x", true }}); err == nil || !strings.Contains(err.Error(), "authorized_keys[0]") {
		t.Errorf("CheckSecrets: %v", err)
	}
}

// Every way a key entry can be wrong is an error at the entry's line and
// column, in the file, whatever the machine.
func TestAuthorizedKeysInvalid(t *testing.T) {
	dir := t.TempDir()
	good := testKey(t, "")
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	goodFile := write("good.pub", "# my keys\n\n"+good+"\n"+testKey(t, "second key")+"\n")
	badFile := write("bad.pub", good+"\nssh-ed25519 AAAAnot-base64 me\n")
	emptyFile := write("empty.pub", "# nothing\n")
	fifo := filepath.Join(dir, "fifo.pub")
	if err := mkfifo(fifo); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, entry, want string
	}{
		{"literal, not a key", `"ssh-ed25519 AAAA"`, "not an SSH public key"},
		{"literal, a private key path", `"~/.ssh/id_ed25519.pub"`, "not an SSH public key"},
		{"literal with options", `'from="10.0.0.0/8" ` + good + `'`, "options (from=\"10.0.0.0/8\") are not supported"},
		{"literal, two lines", `"` + good + `\n` + good + `"`, "one key per entry"},
		{"file, a bad line", "file:" + badFile, "bad.pub: line 2: not an SSH public key"},
		{"file, no key", "file:" + emptyFile, "holds no public key"},
		{"file, a FIFO", "file:" + fifo, "is not a regular file but a named pipe"},
		{"file, a device", "file:/dev/zero", "is not a regular file but a device"},
		{"file, a directory", "file:" + dir, "is not a regular file but a directory"},
		{"file:, no path", "file:", "names no file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, pos := keysInventory(t, tt.entry)
			_, diags, err := Parse("x.yaml", data)
			if err == nil {
				t.Fatal("accepted")
			}
			errs := diags.Errors()
			if len(errs) != 1 || errs[0].String() != pos+": guests[0].ssh.authorized_keys[0]: "+errs[0].Message || !strings.Contains(errs[0].Message, tt.want) {
				t.Errorf("got %v, want one error at %s containing %q", diagsString(errs), pos, tt.want)
			}
		})
	}
	t.Run("file with comments and two keys", func(t *testing.T) {
		data, _ := keysInventory(t, "file:"+goodFile)
		inv, _, err := Parse("x.yaml", data)
		if err != nil {
			t.Fatal(err)
		}
		keys := inv.Guests[0].SSH.Keys
		if len(keys) != 2 || keys[0] != good || !strings.HasSuffix(keys[1], " second key") {
			t.Errorf("keys %q", keys)
		}
	})
}

// keysInventory is base.yaml with one authorized_keys entry on lb-1; it
// returns the document and the entry's position as file:line:col.
func keysInventory(t *testing.T, entry string) ([]byte, string) {
	t.Helper()
	base, err := os.ReadFile("../../inventories/testdata/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(base), "\n")
	for i, l := range lines {
		if strings.Contains(l, "{ name: lb-1,") {
			lines[i] = strings.Replace(l, "{ name: lb-1,", "{ name: lb-1, ssh: { authorized_keys: ["+entry+"] },", 1)
			col := strings.Index(lines[i], entry) + 1
			return []byte(strings.Join(lines, "\n")), fmt.Sprintf("x.yaml:%d:%d", i+1, col)
		}
	}
	t.Fatal("no lb-1 in base.yaml")
	return nil, ""
}
