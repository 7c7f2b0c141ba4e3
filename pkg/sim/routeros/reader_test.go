package routeros

import (
	"bufio"
	"net"
	"testing"
	"time"
)

type testReader struct {
	conn net.Conn
	r    *bufio.Reader
}

func newTestReader(c net.Conn) *testReader { return &testReader{conn: c, r: bufio.NewReader(c)} }

func (r *testReader) sentence(t *testing.T) []string {
	t.Helper()
	r.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	w, err := readSentence(r.r)
	if err != nil {
		t.Fatal(err)
	}
	return w
}
