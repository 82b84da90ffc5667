package tasks_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

// testServer is an httptest server on 127.0.0.1 that reports what it got.
type testServer struct {
	*httptest.Server
	localhostHits atomic.Int64 // requests that came for the host "localhost"
	hits          atomic.Int64 // every request
}

// newTestServer starts a server with these paths:
//
//	/echo          200 and {"method", "content_type", "x_test", "body"}
//	/missing       404 and "no such thing"
//	/redirect-in   302 to /echo on the same host
//	/redirect-out  302 to /echo on localhost
//	/loop          302 to /loop
//	/hang          waits until the client goes away
//	/to?u=URL      302 to URL
func newTestServer(t *testing.T) *testServer {
	t.Helper()
	s := &testServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_ = json.NewEncoder(w).Encode(map[string]string{
			"method": r.Method, "content_type": r.Header.Get("Content-Type"),
			"x_test": r.Header.Get("X-Test"), "body": string(body),
		})
	})
	mux.HandleFunc("/missing", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no such thing", http.StatusNotFound)
	})
	mux.HandleFunc("/redirect-in", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/echo", http.StatusFound)
	})
	mux.HandleFunc("/redirect-out", func(w http.ResponseWriter, r *http.Request) {
		_, port, _ := net.SplitHostPort(r.Host)
		http.Redirect(w, r, "http://localhost:"+port+"/echo", http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/hang", func(_ http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	mux.HandleFunc("/to", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("u"), http.StatusFound)
	})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if host, _, _ := net.SplitHostPort(r.Host); host == "localhost" {
			s.localhostHits.Add(1)
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// entry is the allow-list entry of s: 127.0.0.1:PORT.
func (s *testServer) entry() string { return s.Listener.Addr().String() }

// httpArgs encodes the args of an http task.
func httpArgs(t *testing.T, a tasks.HTTPArgs) string {
	t.Helper()
	b, err := json.Marshal(a)
	require.NoError(t, err)
	return string(b)
}

// decodeHTTP decodes an http result.
func decodeHTTP(t *testing.T, res json.RawMessage) tasks.HTTPResult {
	t.Helper()
	require.NotNil(t, res, "no result")
	var out tasks.HTTPResult
	require.NoError(t, json.Unmarshal(res, &out))
	return out
}

func TestHTTPGet(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	r := setup(t, tasks.BuiltinConfig{HTTPAllow: []string{s.entry()}})

	res, err := run(context.Background(), t, r, "http",
		httpArgs(t, tasks.HTTPArgs{URL: s.URL + "/echo", Headers: map[string]string{"X-Test": "yes"}}))
	require.NoError(t, err)
	out := decodeHTTP(t, res)
	require.Equal(t, http.StatusOK, out.Status)
	require.JSONEq(t, `{"method": "GET", "content_type": "", "x_test": "yes", "body": ""}`, out.Body)
}

func TestHTTPPostJSONBody(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	r := setup(t, tasks.BuiltinConfig{HTTPAllow: []string{s.entry()}})

	res, err := run(context.Background(), t, r, "http",
		httpArgs(t, tasks.HTTPArgs{URL: s.URL + "/echo", Body: json.RawMessage(`{"a":[1,2]}`)}))
	require.NoError(t, err)
	out := decodeHTTP(t, res)
	require.Equal(t, http.StatusOK, out.Status)
	require.JSONEq(t, `{"method": "POST", "content_type": "application/json", "x_test": "", "body": "{\"a\":[1,2]}"}`, out.Body)
}

func TestHTTPStringBodyAndHeaders(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	r := setup(t, tasks.BuiltinConfig{HTTPAllow: []string{s.entry()}})

	res, err := run(context.Background(), t, r, "http", httpArgs(t, tasks.HTTPArgs{
		URL: s.URL + "/echo", Method: "put", Body: json.RawMessage(`"plain text"`),
		Headers: map[string]string{"content-type": "text/plain"},
	}))
	require.NoError(t, err)
	require.JSONEq(t, `{"method": "PUT", "content_type": "text/plain", "x_test": "", "body": "plain text"}`,
		decodeHTTP(t, res).Body)

	// A JSON body keeps a Content-Type the headers set.
	res, err = run(context.Background(), t, r, "http", httpArgs(t, tasks.HTTPArgs{
		URL: s.URL + "/echo", Body: json.RawMessage(`[1]`),
		Headers: map[string]string{"Content-Type": "application/vnd.api+json"},
	}))
	require.NoError(t, err)
	require.JSONEq(t, `{"method": "POST", "content_type": "application/vnd.api+json", "x_test": "", "body": "[1]"}`,
		decodeHTTP(t, res).Body)
}

func TestHTTPErrorStatusFailsWithResult(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	r := setup(t, tasks.BuiltinConfig{HTTPAllow: []string{s.entry()}})

	res, err := run(context.Background(), t, r, "http", httpArgs(t, tasks.HTTPArgs{URL: s.URL + "/missing"}))
	require.EqualError(t, err, "HTTP 404 from 127.0.0.1")
	require.Equal(t, tasks.HTTPResult{Status: http.StatusNotFound, Body: "no such thing\n"}, decodeHTTP(t, res))
}

func TestHTTPRejectsHostNotAllowed(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	r := setup(t, tasks.BuiltinConfig{HTTPAllow: []string{s.entry()}})
	u, err := url.Parse(s.URL)
	require.NoError(t, err)

	res, err := run(context.Background(), t, r, "http",
		httpArgs(t, tasks.HTTPArgs{URL: "http://localhost:" + u.Port() + "/echo"}))
	require.Nil(t, res)
	require.ErrorContains(t, err, "http: http://localhost:"+u.Port()+"/echo is not allowed by handlers.http.allow (entries: "+s.entry()+"): add an entry such as localhost:"+u.Port())
	require.Zero(t, s.localhostHits.Load(), "the request was sent")
}

func TestHTTPFollowsRedirectsToAllowedHostsOnly(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	r := setup(t, tasks.BuiltinConfig{HTTPAllow: []string{s.entry()}})

	res, err := run(context.Background(), t, r, "http", httpArgs(t, tasks.HTTPArgs{URL: s.URL + "/redirect-in"}))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, decodeHTTP(t, res).Status)

	res, err = run(context.Background(), t, r, "http", httpArgs(t, tasks.HTTPArgs{URL: s.URL + "/redirect-out"}))
	require.Nil(t, res)
	require.ErrorContains(t, err, "http: redirect refused: http://localhost:")
	require.ErrorContains(t, err, "/echo is not allowed by handlers.http.allow")
	require.Zero(t, s.localhostHits.Load(), "the redirect was followed")

	res, err = run(context.Background(), t, r, "http", httpArgs(t, tasks.HTTPArgs{URL: s.URL + "/loop"}))
	require.Nil(t, res)
	require.ErrorContains(t, err, "stopped after 5 redirects")
}

func TestHTTPRejectsBadArgs(t *testing.T) {
	t.Parallel()
	r := setup(t, tasks.BuiltinConfig{HTTPAllow: []string{"127.0.0.1:8080"}})
	for args, want := range map[string]string{
		`{}`:                                             "url is missing",
		`{"url": "file:///etc/passwd"}`:                  "use an http or https URL",
		`{"url": "127.0.0.1/x"}`:                         "use an http or https URL",
		`{"url": "http:///x"}`:                           "has no host",
		`{"url": "http://127.0.0.1:99999/"}`:             `port "99999" is not a number from 1 to 65535`,
		`{"url": "http://127.0.0.1/", "verb": "x"}`:      `unknown field "verb"`,
		`{"url": "http://127.0.0.1/", "method": "G T"}`:  "invalid method",
		`{"url": "http://127.0.0.1/", "headers": ["x"]}`: "cannot unmarshal array",
		`"http://127.0.0.1/"`:                            "args must be a JSON object",
	} {
		t.Run(args, func(t *testing.T) {
			t.Parallel()
			res, err := run(context.Background(), t, r, "http", args)
			require.Nil(t, res)
			require.ErrorContains(t, err, want)
		})
	}
}

func TestHTTPHonoursCancellation(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	r := setup(t, tasks.BuiltinConfig{HTTPAllow: []string{s.entry()}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()

	done := make(chan error, 1)
	go func() {
		_, err := run(ctx, t, r, "http", httpArgs(t, tasks.HTTPArgs{URL: s.URL + "/hang"}))
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.DeadlineExceeded)
	case <-time.After(10 * time.Second):
		t.Fatal("http did not return after its context ended")
	}
}
