package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxRedirects is how many redirects the http handler follows.
const maxRedirects = 5

// HTTPArgs are the args of the http handler.
type HTTPArgs struct {
	// URL is the http or https URL to request; its host must be allowed.
	// Required.
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

// httpClient is the client of every http handler. The task's context (its
// timeout) bounds a request further; the allow-list of the handler that made
// a request travels in its context, for checkRedirect.
var httpClient = &http.Client{
	Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	},
	CheckRedirect: checkRedirect,
	Timeout:       10 * time.Minute,
}

// allowKey is the context key of the allow-list of the request's handler.
type allowKey struct{}

// HTTP returns the http handler, which reaches only the hosts named in
// allow, also when following redirects (at most 5). Args {"url", "method",
// "headers", "body"} (see HTTPArgs) make one request; the result is
// {"status", "body"}. A status of 400 or more returns both the result and an
// error "HTTP N from HOST". The request ends when the context does.
func HTTP(allow []string) Handler {
	allowed := newAllowList(allow, true)
	return func(ctx context.Context, call *Call) (any, error) {
		return runHTTP(context.WithValue(ctx, allowKey{}, allowed), call, allowed)
	}
}

func runHTTP(ctx context.Context, call *Call, allowed allowList) (any, error) {
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
	if err := checkURL(req.URL, allowed); err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	for k, v := range a.Headers {
		req.Header.Set(k, v)
	}
	if contentType != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", contentType)
	}

	resp, err := httpClient.Do(req)
	if err != nil {
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

// checkURL reports whether u may be requested: http or https, to an allowed
// host.
func checkURL(u *url.URL, allowed allowList) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("url %q: use an http or https URL", u.Redacted())
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return fmt.Errorf("url %q has no host", u.Redacted())
	}
	if !allowed[host] {
		return fmt.Errorf("host %q is not in handlers.http.allow (allowed: %s)", host, allowed)
	}
	return nil
}

// checkRedirect follows at most maxRedirects redirects, each to a host the
// request's handler allows.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	allowed, _ := req.Context().Value(allowKey{}).(allowList) // none: refuse all
	if err := checkURL(req.URL, allowed); err != nil {
		return fmt.Errorf("redirect refused: %w", err)
	}
	return nil
}
