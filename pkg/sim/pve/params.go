package pve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// maxBody bounds a request body; PVE's own limit is 64 KiB for API calls.
const maxBody = 1 << 20

// readParams collects a request's parameters as PVE's extract_params
// does: the body (JSON or form-encoded), then the query string, which
// wins. JSON numbers become their text, booleans 1 and 0.
func readParams(r *http.Request) (map[string]string, *apiError) {
	params := map[string]string{}
	if r.Body != nil {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			return params, paramError(map[string]string{"body": "unable to read request body: " + err.Error()})
		}
		if len(body) > maxBody {
			return params, &apiError{status: http.StatusRequestEntityTooLarge, msg: "request entity too large"}
		}
		if len(bytes.TrimSpace(body)) > 0 {
			if err := decodeBody(r.Header.Get("Content-Type"), body, params); err != nil {
				return params, err
			}
		}
	}
	for k, vs := range r.URL.Query() {
		if len(vs) > 0 {
			params[k] = vs[len(vs)-1]
		}
	}
	return params, nil
}

func decodeBody(ct string, body []byte, params map[string]string) *apiError {
	mt, _, _ := mime.ParseMediaType(ct)
	if mt == "application/json" {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return &apiError{status: http.StatusBadRequest, msg: "malformed JSON body: " + err.Error()}
		}
		errs := map[string]string{}
		for k, v := range m {
			s, ok := scalarText(v)
			if !ok {
				errs[k] = fmt.Sprintf("type check ('string') failed - got %s", jsonKind(v))
				continue
			}
			if v != nil {
				params[k] = s
			}
		}
		if len(errs) > 0 {
			return paramError(errs)
		}
		return nil
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return &apiError{status: http.StatusBadRequest, msg: "malformed form body: " + err.Error()}
	}
	for k, vs := range vals {
		if len(vs) > 0 {
			params[k] = vs[len(vs)-1]
		}
	}
	return nil
}

// scalarText is how PVE's Perl sees a JSON scalar.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		if x {
			return "1", true
		}
		return "0", true
	}
	return "", false
}

func jsonKind(v any) string {
	if _, ok := v.([]any); ok {
		return "ARRAY"
	}
	return "HASH"
}

// secretParams are never written to the request log.
var secretParams = []string{"password", "cipassword", "new_password"}

func redact(params map[string]string) map[string]string {
	out := make(map[string]string, len(params))
	for k, v := range params {
		if slices.Contains(secretParams, k) || strings.Contains(k, "secret") {
			v = "<redacted>"
		}
		out[k] = v
	}
	return out
}
