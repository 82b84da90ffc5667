package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/testutil"
)

// countingServer is a local HTTP listener that counts the requests it got.
type countingServer struct {
	*httptest.Server
	hits atomic.Int64
}

func newCountingServer(t *testing.T) *countingServer {
	t.Helper()
	s := &countingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.hits.Add(1)
		_, _ = w.Write([]byte("reached"))
	}))
	t.Cleanup(s.Close)
	return s
}

// addr is the server's host:port.
func (s *countingServer) addr() string { return s.Listener.Addr().String() }

// startDaemonAt is startDaemon on the API port given, so that a config
// written before the start can name it.
func startDaemonAt(t *testing.T, port int, redisURL string, extra ...string) *daemon {
	t.Helper()
	d := &daemon{URL: "http://127.0.0.1:" + strconv.Itoa(port)}
	d.args = append([]string{"serve", "--http", "127.0.0.1:" + strconv.Itoa(port), "--redis", redisURL}, extra...)
	d.env = append(os.Environ(), "DUEQ_LOG_LEVEL=warn")
	d.start(t)
	t.Cleanup(func() { d.stop(t) })
	return d
}

// recordsNamed counts the task records in rdb whose handler is name.
func recordsNamed(t *testing.T, rdb redis.UniversalClient, name string) int {
	t.Helper()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "*").Result()
	require.NoError(t, err)
	n := 0
	for _, k := range keys {
		if rdb.Type(ctx, k).Val() == "hash" && rdb.HGet(ctx, k, "name").Val() == name {
			n++
		}
	}
	return n
}

// The http handler, with an allow-list naming 127.0.0.1 alone and with the
// ports of Redis, of the daemon's own API and of one local listener, reaches
// only that listener: a task to Redis or to the API fails without a byte
// arriving (no cross-protocol request in Redis's log, no task smuggled into
// the API), and so does one to a port no entry names. A shell task whose
// argument vector no entry allows fails without running.
func TestAllowListsRefuseWhatTheyDoNotName(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	named, unnamed := newCountingServer(t), newCountingServer(t)
	apiPort := testutil.FreePort(t)
	api := "127.0.0.1:" + strconv.Itoa(apiPort)
	dir := t.TempDir()
	cfg := writeFile(t, "config.yaml", fmt.Sprintf(`handlers:
  http:
    allow: [127.0.0.1, %q, %q, %q]
  shell:
    allow:
      - pg_dump
      - [touch, %q]
      - [cat, %q]
`, named.addr(), r.Addr, api, dir+"/allowed-*", dir+"/*.txt"))
	d := startDaemonAt(t, apiPort, r.URL, "--config", cfg)

	require.Contains(t, d.out.String(), "handlers.shell.allow: pg_dump allows any arguments", "the program-name entry is logged as allowing any arguments")
	require.Contains(t, d.out.String(), "handlers.http.allow: 127.0.0.1 allows nothing")

	httpTask := func(url string, body any) record {
		t.Helper()
		return waitDone(t, d.URL, post(t, d.URL, map[string]any{"name": "http", "args": map[string]any{"url": url, "body": body}}).ID)
	}

	// The listener named with its port is reached.
	rec := httpTask("http://"+named.addr()+"/hello", nil)
	require.Equal(t, "succeeded", rec.State, rec.Error)
	require.JSONEq(t, `{"status": 200, "body": "reached"}`, string(rec.Result))
	require.Equal(t, int64(1), named.hits.Load())

	// Another port of the same host is not.
	rec = httpTask("http://"+unnamed.addr()+"/hello", nil)
	require.Equal(t, "failed", rec.State)
	require.Equal(t, "http: http://"+unnamed.addr()+"/hello is not allowed by handlers.http.allow (entries: 127.0.0.1, "+
		named.addr()+", "+r.Addr+", "+api+"): add an entry such as "+unnamed.addr(), rec.Error)
	require.Zero(t, unnamed.hits.Load(), "the request arrived")

	// The daemon's Redis is never reached, although an entry names it.
	rec = httpTask("http://"+r.Addr+"/", "*3\r\n$3\r\nSET\r\n$6\r\npwned1\r\n$1\r\n1\r\n")
	require.Equal(t, "failed", rec.State)
	require.Equal(t, "http: "+r.Addr+" is this daemon's Redis ("+r.Addr+"): the http handler never reaches it, whatever handlers.http.allow says", rec.Error)

	// Nor the daemon's own API, which takes submits without a token here.
	rec = httpTask("http://"+api+"/api/v1/tasks", map[string]any{"name": "echo", "args": map[string]any{"smuggled": "in-through-http"}})
	require.Equal(t, "failed", rec.State)
	require.Equal(t, "http: "+api+" is this daemon's HTTP API ("+api+"): the http handler never reaches it, whatever handlers.http.allow says", rec.Error)

	// A shell command whose argument vector no entry allows fails unrun.
	for _, cmd := range [][]string{
		{"touch", dir + "/other"},
		{"touch", dir + "/allowed-1", dir + "/other"},
		{"touch", "-r", dir + "/allowed-1"},
		{"cat", "/etc/passwd"},
		{"sh", "-c", "touch " + dir + "/other"},
	} {
		args, err := json.Marshal(map[string]any{"cmd": cmd})
		require.NoError(t, err)
		rec := waitDone(t, d.URL, post(t, d.URL, map[string]any{"name": "shell", "args": json.RawMessage(args)}).ID)
		require.Equal(t, "failed", rec.State, "%q", cmd)
		require.Contains(t, rec.Error, "is not allowed by handlers.shell.allow", "%q", cmd)
		require.Contains(t, rec.Error, "add an entry such as [", "%q", cmd)
		require.Empty(t, rec.Result, "%q ran", cmd)
	}
	require.NoFileExists(t, dir+"/other")
	rec = waitDone(t, d.URL, post(t, d.URL, map[string]any{"name": "shell", "args": map[string]any{"cmd": []string{"touch", dir + "/allowed-1"}}}).ID)
	require.Equal(t, "succeeded", rec.State, rec.Error)
	require.FileExists(t, dir+"/allowed-1")

	// Nothing arrived at Redis or the API: no task was smuggled in, no key
	// set, and Redis logged no cross-protocol request, which it does for
	// any HTTP request it gets (checked last, with one sent on purpose).
	rdb := r.client(t)
	require.Zero(t, recordsNamed(t, rdb, "echo"), "a task was submitted through the daemon's API")
	require.Equal(t, 4, recordsNamed(t, rdb, "http"), "the probe counts the records it should")
	require.Zero(t, rdb.Exists(context.Background(), "pwned1").Val())
	log := filepath.Join(r.dir, "redis.log")
	requireLogLacks(t, log, "SECURITY ATTACK")
	conn, err := net.DialTimeout("tcp", r.Addr, 5*time.Second)
	require.NoError(t, err)
	_, err = conn.Write([]byte("POST / HTTP/1.1\r\nHost: " + r.Addr + "\r\n\r\n"))
	require.NoError(t, err)
	_ = conn.Close()
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(log)
		return strings.Contains(string(b), "SECURITY ATTACK")
	}, 10*time.Second, 20*time.Millisecond, "Redis does log an HTTP request it gets, so its silence above means none came")
}

// requireLogLacks fails t when the file at path contains s.
func requireLogLacks(t *testing.T, path, s string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NotContains(t, string(b), s, "%s", path)
}
