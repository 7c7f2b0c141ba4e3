package routeros

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/go-routeros/routeros/v3/proto"
)

// Every length-prefix boundary encodes to the documented byte count and
// reads back; go-routeros's own reader agrees with our encoding.
func TestWordLengthBoundaries(t *testing.T) {
	cases := []struct{ n, prefix int }{
		{0, 1}, {1, 1}, {0x7F, 1}, {0x80, 2}, {0x3FFF, 2}, {0x4000, 3},
		{0x1FFFFF, 3}, {0x200000, 4}, {0xFFFFFFF, 4}, {0x10000000, 5},
	}
	for _, c := range cases {
		b := appendLength(nil, c.n)
		if len(b) != c.prefix {
			t.Errorf("length %#x: %d prefix bytes, want %d", c.n, len(b), c.prefix)
		}
		got, err := readLength(bufio.NewReader(bytes.NewReader(b)))
		if err != nil || got != c.n {
			t.Errorf("length %#x read back as %#x (%v)", c.n, got, err)
		}
	}
	// Whole words up to the 3-byte boundary, through go-routeros's reader.
	for _, n := range []int{0x7F, 0x80, 0x3FFF, 0x4000, 0x1FFFFF, 0x200000 - 1} {
		word := "=comment=" + strings.Repeat("x", n-len("=comment="))
		r := proto.NewReader(bytes.NewReader(encodeSentence("!re", word)))
		s, err := r.ReadSentence()
		if err != nil || len(s.Map["comment"]) != n-len("=comment=") {
			t.Errorf("word of %#x bytes: %v", n, err)
		}
	}
}

func TestSentencesFromGoRouterOSWriter(t *testing.T) {
	var buf bytes.Buffer
	w := proto.NewWriter(&buf)
	w.BeginSentence()
	w.WriteWord("/ip/address/print")
	w.WriteWord("?#|!")
	w.WriteWord("=.proplist=.id,address")
	if err := w.EndSentence(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(bytes.NewReader(append([]byte{0}, buf.Bytes()...))) // an empty sentence first is skipped
	words, err := readSentence(r)
	if err != nil || strings.Join(words, " ") != "/ip/address/print ?#|! =.proplist=.id,address" {
		t.Fatalf("%q %v", words, err)
	}
	if _, err := readWord(bufio.NewReader(bytes.NewReader([]byte{0xF8}))); err != errControlByte {
		t.Errorf("control byte: %v", err)
	}
}

func TestQueries(t *testing.T) {
	item := map[string]string{"type": "vlan", "name": "ether2-vlan-lab", "comment": "homelab:lab:x"}
	tests := []struct {
		q    []string
		want bool
	}{
		{nil, true},
		{[]string{"?type=vlan"}, true},
		{[]string{"?=type=vlan"}, true},
		{[]string{"?type=ether"}, false},
		{[]string{"?type=ether", "?type=vlan", "?#|"}, true},
		{[]string{"?type=ether", "?type=vlan", "?#|!"}, false},
		{[]string{"?comment"}, true},
		{[]string{"?-comment"}, false},
		{[]string{"?-disabled"}, true},
		{[]string{"?>comment=homelab:", "?<comment=homelab;"}, true},
		{[]string{"?>comment="}, true},
		{[]string{"?type=ether", "?#!"}, true},
		{[]string{"?type=vlan", "?name=x", "?#&"}, false},
		{[]string{"?type=ether", "?type=vlan", "?#0"}, true},
		{[]string{"?type=ether", "?type=vlan", "?#1"}, false},
	}
	for _, tt := range tests {
		got, err := matchQuery(item, tt.q)
		if err != nil || got != tt.want {
			t.Errorf("%v: %v (%v), want %v", tt.q, got, err, tt.want)
		}
	}
	if _, err := matchQuery(item, []string{"?#~"}); err == nil {
		t.Error("unknown operator accepted")
	}
}
