package tasks_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

// get runs an http task that GETs u with r and returns its error.
func get(t *testing.T, r *tasks.Registry, u string) error {
	t.Helper()
	res, err := run(context.Background(), t, r, "http", httpArgs(t, tasks.HTTPArgs{URL: u}))
	if err != nil {
		require.Nil(t, res, "a refused request has no result")
	}
	return err
}

// port is the port of s.
func (s *testServer) port() string {
	u, _ := url.Parse(s.URL)
	return u.Port()
}

// A host:port entry opens that port only: another port of the same host
// is refused, and the request never arrives.
func TestHTTPHostPortAllowsThatPortOnly(t *testing.T) {
	t.Parallel()
	named, other := newTestServer(t), newTestServer(t)
	r := setup(t, tasks.BuiltinConfig{HTTPAllow: []string{named.entry()}})

	require.NoError(t, get(t, r, named.URL+"/echo"))
	err := get(t, r, other.URL+"/echo")
	require.EqualError(t, err, "http: "+other.URL+"/echo is not allowed by handlers.http.allow (entries: "+named.entry()+"): add an entry such as "+other.entry())
	require.Zero(t, other.hits.Load(), "the request arrived")
}

// A loopback address without a port allows nothing: not the ports of the
// services on this machine (Redis, the daemon's API), not 80 and 443.
func TestHTTPLoopbackWithoutPortAllowsNothing(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	r := setup(t, tasks.BuiltinConfig{HTTPAllow: []string{"127.0.0.1", "localhost"}})

	err := get(t, r, s.URL+"/echo")
	require.EqualError(t, err, "http: "+s.URL+"/echo is not allowed by handlers.http.allow (entries: 127.0.0.1, localhost): add an entry such as "+s.entry())
	err = get(t, r, "http://127.0.0.1/echo")
	require.EqualError(t, err, "http: http://127.0.0.1:80/echo: 127.0.0.1 is a loopback address, reached only through an entry of handlers.http.allow that writes its port, such as 127.0.0.1:80")
	require.Zero(t, s.hits.Load())
}

// A name that resolves to a loopback address is refused when the handler
// dials it, unless its entry writes the port.
func TestHTTPNameResolvingToLoopbackIsRefusedAtDial(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	r := setup(t, tasks.BuiltinConfig{HTTPAllow: []string{"localhost", "localhost:" + s.port()}})

	err := get(t, r, "http://localhost/echo")
	require.Error(t, err)
	require.Regexp(t, `^http: localhost resolved to (127\.0\.0\.1|::1), a loopback address, reached only through an entry of handlers.http.allow that writes its port, such as localhost:80$`, err.Error())

	require.NoError(t, get(t, r, "http://localhost:"+s.port()+"/echo"), "named with its port")
	require.Equal(t, int64(1), s.localhostHits.Load())
}

// The daemon's own addresses are never reached, even when an entry names
// them, whichever way they are written.
func TestHTTPNeverReachesTheDaemonsOwnAddresses(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	for _, own := range []string{s.entry(), "localhost:" + s.port(), "0.0.0.0:" + s.port(), ":" + s.port(), "[::]:" + s.port()} {
		t.Run(own, func(t *testing.T) {
			t.Parallel()
			r := setup(t, tasks.BuiltinConfig{
				HTTPAllow: []string{s.entry(), "localhost:" + s.port()},
				HTTPOwn: func() map[string]string {
					return map[string]string{"127.0.0.1:1": "this daemon's HTTP API", own: "this daemon's Redis"}
				},
			})
			for _, u := range []string{s.URL + "/echo", "http://localhost:" + s.port() + "/echo"} {
				err := get(t, r, u)
				require.Error(t, err, u)
				require.Regexp(t, `^http: (127\.0\.0\.1|\[::1\]):`+s.port()+` is this daemon's Redis \(`+strings.ReplaceAll(strings.ReplaceAll(own, "[", `\[`), "]", `\]`)+
					`\): the http handler never reaches it, whatever handlers.http.allow says$`, err.Error())
			}
		})
	}
	require.Zero(t, s.hits.Load(), "a request reached the daemon's own address")
}

// Every redirect is checked as the first URL is: its host, port and path
// against the entries, and the address dialled after DNS.
func TestHTTPRedirectsAreCheckedAgain(t *testing.T) {
	t.Parallel()
	s, other, own := newTestServer(t), newTestServer(t), newTestServer(t)
	r := setup(t, tasks.BuiltinConfig{
		HTTPAllow: []string{"http://" + s.entry() + "/to", "http://" + s.entry() + "/echo", own.entry(), "localhost"},
		HTTPOwn:   func() map[string]string { return map[string]string{own.entry(): "this daemon's HTTP API"} },
	})
	to := func(target string) string { return s.URL + "/to?u=" + url.QueryEscape(target) }

	require.NoError(t, get(t, r, to(s.URL+"/echo")))

	err := get(t, r, to(other.URL+"/echo"))
	require.ErrorContains(t, err, "http: redirect refused: "+other.URL+"/echo is not allowed by handlers.http.allow")
	err = get(t, r, to(s.URL+"/missing"))
	require.ErrorContains(t, err, "http: redirect refused: "+s.URL+"/missing is not allowed by handlers.http.allow")
	err = get(t, r, to(own.URL+"/api/v1/tasks"))
	require.ErrorContains(t, err, "http: "+own.entry()+" is this daemon's HTTP API")
	err = get(t, r, to("http://localhost/echo"))
	require.ErrorContains(t, err, "http: localhost resolved to")

	require.Zero(t, other.hits.Load()+own.hits.Load(), "a refused redirect was followed")
	require.Equal(t, int64(6), s.hits.Load(), "one /to each, and /echo once")
}
