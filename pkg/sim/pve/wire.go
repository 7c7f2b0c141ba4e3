package pve

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// apiError is an answer other than 200, as PVE gives it: the message's
// first line becomes the HTTP reason phrase.
type apiError struct {
	status int
	msg    string
	// errors names the parameters of a 400.
	errors map[string]string
	// noBody answers with an empty body, as pveproxy does for 595.
	noBody bool
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.status, e.msg) }

// fail is a handler's 500 with PVE's message.
func fail(format string, args ...any) *apiError {
	return &apiError{status: http.StatusInternalServerError, msg: fmt.Sprintf(format, args...)}
}

// paramError is PVE's 400 "Parameter verification failed.".
func paramError(errs map[string]string) *apiError {
	return &apiError{status: http.StatusBadRequest, msg: "Parameter verification failed.", errors: errs}
}

func notImplemented(method, path string) *apiError {
	return &apiError{status: http.StatusNotImplemented, msg: fmt.Sprintf("Method '%s %s' not implemented", method, path)}
}

func missingConfig(node string, kind Kind, vmid int) *apiError {
	dir := "qemu-server"
	if kind == KindCT {
		dir = "lxc"
	}
	return fail("Configuration file 'nodes/%s/%s/%d.conf' does not exist", node, dir, vmid)
}

const (
	serverHeader = "pve-api-daemon/3.0"
	contentType  = "application/json;charset=UTF-8"
)

// answer is how a request is answered, decided before anything is
// written: a 200 with its encoded body, an error, or a dropped
// connection.
type answer struct {
	body []byte
	err  *apiError
	drop bool
}

// dataAnswer is a 200 with {"data": v}.
func dataAnswer(v any) answer {
	body, err := json.Marshal(map[string]any{"data": v})
	if err != nil {
		return answer{err: fail("simulator: encoding response: %v", err)}
	}
	return answer{body: body}
}

// status is the HTTP status the answer gives, 0 for a dropped connection.
func (a answer) status() int {
	switch {
	case a.drop:
		return 0
	case a.err != nil:
		return a.err.status
	}
	return http.StatusOK
}

// write puts the answer on the wire.
func (a answer) write(w http.ResponseWriter) {
	switch {
	case a.drop:
		dropConnection(w)
	case a.err != nil:
		writeError(w, a.err)
	default:
		writeData(w, a.body)
	}
}

// writeData answers 200 with an encoded {"data": ...} body.
func writeData(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Server", serverHeader)
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "max-age=0")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// errorBody is what PVE (libpve-http-server-perl >= 5.2) sends with an
// error: data null, the message, and the parameter errors of a 400.
func errorBody(e *apiError) []byte {
	if e.noBody {
		return nil
	}
	m := map[string]any{"data": nil, "message": e.msg + "\n"}
	if len(e.errors) > 0 {
		m["errors"] = e.errors
	}
	body, _ := json.Marshal(m)
	return body
}

// reasonPhrase is the first line of msg, safe for a status line.
func reasonPhrase(msg string) string {
	line, _, _ := strings.Cut(msg, "\n")
	line = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, line)
	if line == "" {
		line = http.StatusText(500)
	}
	return line
}

// writeError answers with PVE's status line. net/http cannot set a reason
// phrase, so the connection is hijacked and the response written by hand;
// PVE closes the connection after every error too.
func writeError(w http.ResponseWriter, e *apiError) {
	body := errorBody(e)
	hj, ok := w.(http.Hijacker)
	if !ok {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(e.status)
		_, _ = w.Write(body)
		return
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		w.WriteHeader(e.status)
		return
	}
	defer conn.Close()
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", e.status, reasonPhrase(e.msg))
	fmt.Fprintf(&b, "Cache-Control: max-age=0\r\nConnection: close\r\n")
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().UTC().Format(http.TimeFormat))
	fmt.Fprintf(&b, "Pragma: no-cache\r\nServer: %s\r\n", serverHeader)
	fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	if len(body) > 0 {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", contentType)
	}
	b.WriteString("\r\n")
	b.Write(body)
	writeRaw(rw, b.Bytes())
}

// dropConnection closes the connection without answering.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func writeRaw(rw *bufio.ReadWriter, b []byte) {
	_, _ = rw.Write(b)
	_ = rw.Flush()
}
