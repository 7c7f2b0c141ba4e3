package remote_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/homelabctl/homelab/pkg/remote"
)

func TestQuote(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "''"},
		{"plain", "plain"},
		{"/etc/haproxy/haproxy.cfg", "/etc/haproxy/haproxy.cfg"},
		{"user@host:22", "user@host:22"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"'", `''\'''`},
		{"$HOME", "'$HOME'"},
		{"`id`", "'`id`'"},
		{"a\nb", "'a\nb'"},
		{`back\slash`, `'back\slash'`},
		{"*", "'*'"},
		{"~root", "'~root'"},
		{"x;rm -rf /", "'x;rm -rf /'"},
		{`"dq"`, `'"dq"'`},
	} {
		if got := remote.Quote(c.in); got != c.want {
			t.Errorf("Quote(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

// FuzzQuote checks that the shell reads a quoted word back as the input.
func FuzzQuote(f *testing.F) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		f.Skip("no sh")
	}
	for _, s := range []string{"", "a b", "it's", "'''", "$(id)", "`x`", "a\nb", `\`, "\t", "!", "~", "*?[", "é ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.IndexByte(s, 0) >= 0 {
			t.Skip("a shell word cannot hold NUL")
		}
		out, err := exec.Command(sh, "-c", "printf %s "+remote.Quote(s)).Output()
		if err != nil {
			t.Fatalf("sh: %v", err)
		}
		if string(out) != s {
			t.Fatalf("quoted %q, shell read %q", s, out)
		}
	})
}

func TestRedact(t *testing.T) {
	secrets := []string{"", "s3cret", "it's"}
	for _, c := range []struct{ in, want string }{
		{"token s3cret here", "token *** here"},
		{"s3crets3cret", "******"},
		{"echo " + remote.Quote("it's"), "echo '***'"},
		{"sudo -n sh -c " + remote.Quote("echo "+remote.Quote("it's")), `sudo -n sh -c 'echo '\''***'\'''`},
		{"nothing to hide", "nothing to hide"},
	} {
		got := remote.Redact(c.in, secrets)
		if got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
		if strings.Contains(got, "s3cret") || strings.Contains(got, "it's") || strings.Contains(got, `it'\''s`) {
			t.Errorf("Redact(%q) = %q leaks", c.in, got)
		}
	}
}
