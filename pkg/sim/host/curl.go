package host

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// curlCAError is curl's advice after a certificate it could not verify.
const curlCAError = `More details here: https://curl.se/docs/sslcerts.html

curl failed to verify the legitimacy of the server and therefore could not
establish a secure connection to it. To learn more about this situation and
how to fix it, please visit the web page mentioned above.
`

// curl is `curl [-sSfkLI] [-o FILE] [-m SECS] [-X METHOD] [-d DATA] [-w
// FORMAT] [--cacert FILE] [--resolve HOST:PORT:ADDR] URL`, over the lab's
// simulated network (and its Internet, see LabOptions.Internet). A TLS
// service's certificate (Host.ServeTLS) is verified against --cacert by
// the name asked for, unless -k.
func curl(ctx context.Context, c *Call) int {
	var rawURL, output, method, data, writeOut, cacert, maxTime string
	var resolves []string
	silent, showErr, fail, insecure := false, false, false, false
	args := c.Args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() string {
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		switch {
		case a == "-o" || a == "--output":
			output = next()
		case a == "-X" || a == "--request":
			method = next()
		case a == "-d" || a == "--data" || a == "--data-raw":
			data = next()
		case a == "-w" || a == "--write-out":
			writeOut = next()
		case a == "--cacert":
			cacert = next()
		case a == "--resolve":
			resolves = append(resolves, next())
		case a == "-m" || a == "--max-time":
			maxTime = next()
		case a == "--connect-timeout" || a == "-H" || a == "--header" ||
			a == "-u" || a == "--retry" || a == "--retry-delay" || a == "-A":
			next()
		case a == "--silent":
			silent = true
		case a == "--show-error":
			showErr = true
		case a == "--fail":
			fail = true
		case a == "--insecure":
			insecure = true
		case strings.HasPrefix(a, "--"):
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for _, f := range a[1:] {
				switch f {
				case 's':
					silent = true
				case 'S':
					showErr = true
				case 'f':
					fail = true
				case 'k':
					insecure = true
				case 'o':
					output = next()
				case 'm':
					maxTime = next()
				}
			}
		default:
			rawURL = a
		}
	}
	report := func(code int, format string, a ...any) int {
		if !silent || showErr {
			fmt.Fprintf(c.Stderr, "curl: (%d) %s\n", code, fmt.Sprintf(format, a...))
			if code == 60 {
				fmt.Fprint(c.Stderr, curlCAError)
			}
		}
		return code
	}
	if rawURL == "" {
		fmt.Fprintln(c.Stderr, "curl: no URL specified!\ncurl: try 'curl --help' or 'curl --manual' for more information")
		return 2
	}
	if !strings.Contains(rawURL, "://") {
		rawURL = "http://" + rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return report(3, "URL using bad/illegal format or missing URL")
	}
	port := 80
	if u.Scheme == "https" {
		port = 443
	}
	if u.Port() != "" {
		port, _ = strconv.Atoi(u.Port())
	}
	ip, ok := c.Host.resolve(u.Hostname())
	if u.Hostname() == "localhost" {
		ip, ok = netip.MustParseAddr("127.0.0.1"), true
	}
	for _, r := range resolves {
		f := strings.SplitN(r, ":", 3)
		if len(f) == 3 && f[0] == u.Hostname() && f[1] == strconv.Itoa(port) {
			if a, err := netip.ParseAddr(strings.Trim(f[2], "[]")); err == nil {
				ip, ok = a, true
			}
		}
	}
	if method == "" {
		method = "GET"
		if data != "" {
			method = "POST"
		}
	}
	var res httpResult
	switch {
	case ok:
		path := u.EscapedPath()
		if path == "" {
			path = "/"
		}
		if u.RawQuery != "" {
			path += "?" + u.RawQuery
		}
		res = c.Host.lab.request(ctx, c.Host, netip.AddrPortFrom(ip, uint16(port)), method, path, strings.NewReader(data), 0)
	default:
		status, body, reachable := c.Host.lab.fetch(ctx, rawURL)
		if !reachable {
			return report(6, "Could not resolve host: %s", u.Hostname())
		}
		res = httpResult{status: status, body: body}
	}
	switch res.fail {
	case "refused":
		return report(7, "Failed to connect to %s port %d after 0 ms: Couldn't connect to server", u.Hostname(), port)
	case "unreachable":
		if maxTime != "" {
			secs, _ := strconv.ParseFloat(maxTime, 64)
			return report(28, "Connection timed out after %d milliseconds", int(secs*1000)+1)
		}
		return report(28, "Failed to connect to %s port %d after 3001 ms: Timeout was reached", u.Hostname(), port)
	case "reset":
		if u.Scheme == "https" {
			return report(35, "OpenSSL SSL_connect: Connection reset by peer in connection to %s:%d ", u.Hostname(), port)
		}
		return report(52, "Empty reply from server")
	}
	if u.Scheme == "https" && res.cert != nil && !insecure {
		if code, msg := verifyPeer(c, cacert, res.cert, u.Hostname()); code != 0 {
			return report(code, "%s", msg)
		}
	}
	if fail && res.status >= 400 {
		return report(22, "The requested URL returned error: %d", res.status)
	}
	var out io.Writer = c.Stdout
	if output != "" && output != "-" {
		p := c.Path(output)
		if p != "/dev/null" {
			if !c.Host.writable(c.User, p) {
				return report(23, "Failure writing output to destination")
			}
			f, err := os.Create(c.Local(p))
			if err != nil {
				return report(23, "Failure writing output to destination")
			}
			defer f.Close()
			out = f
		} else {
			out = io.Discard
		}
	}
	out.Write(res.body)
	if writeOut != "" {
		fmt.Fprint(c.Stdout, strings.ReplaceAll(writeOut, "%{http_code}", fmt.Sprintf("%03d", res.status)))
	}
	return 0
}

// verifyPeer checks a served certificate chain as curl with OpenSSL does:
// against the CA file (none: Debian's bundle, which holds no lab CA) and
// the name asked for. It returns curl's exit code and words.
func verifyPeer(c *Call, cacert string, chain []byte, name string) (int, string) {
	roots := x509.NewCertPool()
	if cacert != "" {
		b, err := readAs(c, cacert)
		if err != nil || !roots.AppendCertsFromPEM(b) {
			return 77, fmt.Sprintf("error setting certificate file: %s", cacert)
		}
	}
	var certs []*x509.Certificate
	for rest := chain; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if cert, err := x509.ParseCertificate(block.Bytes); err == nil {
			certs = append(certs, cert)
		}
	}
	if len(certs) == 0 {
		return 35, "OpenSSL SSL_connect: SSL_ERROR_SYSCALL"
	}
	inter := x509.NewCertPool()
	for _, ic := range certs[1:] {
		inter.AddCert(ic)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return 60, "SSL certificate problem: certificate has expired"
	case err != nil && certs[0].Issuer.String() == certs[0].Subject.String():
		return 60, "SSL certificate problem: self-signed certificate"
	case err != nil:
		return 60, "SSL certificate problem: unable to get local issuer certificate"
	}
	if err := certs[0].VerifyHostname(name); err != nil {
		return 60, fmt.Sprintf("SSL: no alternative certificate subject name matches target host name '%s'", name)
	}
	return 0, ""
}
