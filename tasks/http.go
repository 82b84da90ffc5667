package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxRedirects is how many redirects the http handler follows.
const maxRedirects = 5

// HTTPArgs are the args of the http handler.
type HTTPArgs struct {
	// URL is the http or https URL to request; an entry of the allow-list
	// must allow it (see ParseHTTPRule). Required.
	URL string `json:"url"`
	// Method defaults to GET, or POST when there is a body.
	Method string `json:"method,omitempty"`
	// Headers are set on the request, one value each.
	Headers map[string]string `json:"headers,omitempty"`
	// Body is sent as it is when it is a JSON string; any other JSON value
	// is sent as JSON, with Content-Type application/json unless Headers set
	// one. Missing or null: no body.
	Body json.RawMessage `json:"body,omitempty"`
}

// HTTPResult is the result of the http handler. Body keeps at most
// MaxOutputBytes; bytes that are not UTF-8 become U+FFFD when the result is
// stored as JSON.
type HTTPResult struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// HTTP returns the http handler, which reaches only what allow permits
// (each entry as ParseHTTPRule reads it), also when following redirects (at
// most 5), and never the addresses own returns (host:port to what each is:
// the daemon's own HTTP API and its Redis; nil for none), whatever allow
// says. own is called at each connection, so it may return addresses
// learnt after the handler was built. The address of each connection is
// checked after DNS, so a name that resolves to a loopback, link-local or
// private address is refused unless its entry writes the port. The handler
// connects directly, never through HTTP_PROXY or HTTPS_PROXY.
//
// Args {"url", "method", "headers", "body"} (see HTTPArgs) make one request;
// the result is {"status", "body"}. A status of 400 or more returns both the
// result and an error "HTTP N from HOST". The request ends when the context
// does. An entry that does not parse is an error.
func HTTP(allow []string, own func() map[string]string) (Handler, error) {
	if len(allow) == 0 {
		return nil, errors.New("handlers.http.allow is empty: list what the http handler may reach")
	}
	g := &httpGuard{own: own}
	for i, e := range allow {
		r, err := ParseHTTPRule(e)
		if err != nil {
			return nil, fmt.Errorf("handlers.http.allow: entry %d (%q): %w", i, e, err)
		}
		g.rules = append(g.rules, r)
	}
	client := g.client()
	return func(ctx context.Context, call *Call) (any, error) {
		return runHTTP(ctx, call, g, client)
	}, nil
}

func runHTTP(ctx context.Context, call *Call, g *httpGuard, client *http.Client) (any, error) {
	const want = `give {"url": "https://host/path", "method": "POST", "headers": {"K": "V"}, "body": ...}`
	var a HTTPArgs
	if err := decodeArgs("http", call, &a); err != nil {
		return nil, fmt.Errorf("%w: %s", err, want)
	}
	if a.URL == "" {
		return nil, fmt.Errorf("http: url is missing: %s", want)
	}
	body, contentType, err := requestBody(a.Body)
	if err != nil {
		return nil, fmt.Errorf("http: body: %w", err)
	}
	method := strings.ToUpper(a.Method)
	switch {
	case method != "":
	case body != nil:
		method = http.MethodPost
	default:
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, a.URL, body)
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	if err := g.rules.checkURL(req.URL); err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	for k, v := range a.Headers {
		req.Header.Set(k, v)
	}
	if contentType != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", contentType)
	}

	resp, err := client.Do(req)
	var refused *refusal
	switch {
	case errors.As(err, &refused):
		return nil, fmt.Errorf("http: %w", refused) // what was refused and why, without Go's "Get URL: dial tcp" wrapping
	case err != nil:
		return nil, fmt.Errorf("http: %w", err)
	}
	defer resp.Body.Close()
	host := resp.Request.URL.Hostname()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxOutputBytes+1))
	if err != nil {
		return nil, fmt.Errorf("http: reading the response from %s: %w", host, err)
	}
	res := HTTPResult{Status: resp.StatusCode, Body: string(data)}
	if len(data) > MaxOutputBytes {
		res.Body = string(data[:MaxOutputBytes]) + truncationNote(MaxOutputBytes, -1)
	}
	if resp.StatusCode >= 400 {
		return res, fmt.Errorf("HTTP %d from %s", resp.StatusCode, host)
	}
	return res, nil
}

// requestBody turns the body argument into a request body and the content
// type it implies: a JSON string as it is, any other value as JSON.
func requestBody(raw json.RawMessage) (io.Reader, string, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, "", nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, "", err
		}
		return strings.NewReader(s), "", nil
	}
	return bytes.NewReader(raw), "application/json", nil
}
