package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/api"
	"github.com/dueq/dueq/apiclient"
	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// env is one API server on its own miniredis.
type env struct {
	mr  *miniredis.Miniredis
	rdb *redis.Client
	reg *tasks.Registry
	sc  *client.Client
	srv *api.Server
	ts  *httptest.Server
	cl  *apiclient.Client // talks to ts with cfg's token
}

// setup starts an API server (cfg defaults: loopback, no token) whose
// registry runs "echo" (result {"args": ARGS}) and "other".
func setup(t *testing.T, cfgs ...api.Config) *env {
	t.Helper()
	var cfg api.Config
	if len(cfgs) > 0 {
		cfg = cfgs[0]
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	e := &env{mr: miniredis.RunT(t), reg: tasks.NewRegistry()}
	e.rdb = redis.NewClient(&redis.Options{Addr: e.mr.Addr()})
	t.Cleanup(func() { _ = e.rdb.Close() })
	echo := func(_ context.Context, c *tasks.Call) (any, error) {
		return map[string]any{"args": c.Task.Args}, nil
	}
	e.reg.Register("echo", echo)
	e.reg.Register("other", echo)
	var err error
	e.sc, err = client.New(e.rdb, client.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.sc.Close() })
	e.srv, err = api.New(e.sc, e.reg, nil, cfg)
	require.NoError(t, err)
	e.ts = httptest.NewServer(e.srv.Handler())
	t.Cleanup(e.ts.Close)
	e.cl = &apiclient.Client{BaseURL: e.ts.URL, Token: cfg.Token, HTTP: e.ts.Client()}
	return e
}

// runScheduler runs a daemon's worker loops on e's Redis until the test ends.
func (e *env) runScheduler(t *testing.T) {
	t.Helper()
	e.runDaemon(t, e.reg)
}

// runDaemon runs a daemon with reg's handlers, serving queues (none: the
// default queue), on e's Redis until the test ends. It is alive, as far as
// the API's handler check goes, once runDaemon returns.
func (e *env) runDaemon(t *testing.T, reg *tasks.Registry, queues ...string) *scheduler.Scheduler {
	t.Helper()
	s, err := scheduler.New(e.rdb, reg, scheduler.Config{Workers: 2, Queues: queues})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, s.Stop(ctx))
	})
	return s
}

// idleDaemon runs a daemon with e's handlers that serves only queue
// "idle", which no test uses: the handlers are those of a live daemon, and
// nothing runs.
func (e *env) idleDaemon(t *testing.T) {
	t.Helper()
	e.runDaemon(t, e.reg, "idle")
}

// call sends one request and returns the status and body.
func (e *env) call(t *testing.T, method, path, body string, header ...string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	return e.send(t, req)
}

func (e *env) send(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := e.ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"), "body: %s", b)
	return resp.StatusCode, b
}

// task decodes a task record.
func task(t *testing.T, b []byte) *tasks.Task {
	t.Helper()
	var tk tasks.Task
	require.NoError(t, json.Unmarshal(b, &tk), "body: %s", b)
	require.NotEmpty(t, tk.ID, "body: %s", b)
	return &tk
}

// errorMessage decodes an error body, which must hold only "error".
func errorMessage(t *testing.T, b []byte) string {
	t.Helper()
	var m map[string]string
	require.NoError(t, json.Unmarshal(b, &m), "body: %s", b)
	require.Len(t, m, 1, "body: %s", b)
	require.NotEmpty(t, m["error"], "body: %s", b)
	return m["error"]
}

func keys(e *env) []string {
	k := e.mr.Keys()
	sort.Strings(k)
	return k
}

func TestSubmitGetCancel(t *testing.T) {
	t.Parallel()
	e := setup(t)
	status, b := e.call(t, "POST", "/api/v1/tasks", `{"name":"echo","args":{"n":1},"in":"1h","queue":"q1","max_attempts":3,"timeout":"5s"}`)
	require.Equal(t, http.StatusCreated, status, "%s", b)
	tk := task(t, b)
	require.Equal(t, "echo", tk.Name)
	require.JSONEq(t, `{"n":1}`, string(tk.Args))
	require.Equal(t, "q1", tk.Queue)
	require.Equal(t, tasks.Scheduled, tk.State)
	require.Equal(t, 3, tk.MaxAttempts)
	require.Equal(t, 5*time.Second, tk.Timeout)
	require.WithinDuration(t, time.Now().Add(time.Hour), tk.DueAt, time.Minute)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(b, &raw))
	require.Equal(t, "5s", raw["timeout"])
	require.Contains(t, raw, "due_at")

	status, b = e.call(t, "GET", "/api/v1/tasks/"+tk.ID, "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	require.Equal(t, tk.ID, task(t, b).ID)

	status, b = e.call(t, "DELETE", "/api/v1/tasks/"+tk.ID, "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	require.Equal(t, tasks.Canceled, task(t, b).State)

	status, b = e.call(t, "DELETE", "/api/v1/tasks/"+tk.ID, "")
	require.Equal(t, http.StatusConflict, status, "%s", b)
	require.Contains(t, errorMessage(t, b), "canceled")
}

func TestSubmitAt(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	status, b := e.call(t, "POST", "/api/v1/tasks", `{"name":"echo","at":"`+at.Format(time.RFC3339)+`"}`)
	require.Equal(t, http.StatusCreated, status, "%s", b)
	tk := task(t, b)
	require.True(t, at.Equal(tk.DueAt), "due %s, want %s", tk.DueAt, at)
	require.JSONEq(t, `{}`, string(tk.Args))
	require.Equal(t, tasks.DefaultQueue, tk.Queue)
}

func TestSubmitIdempotent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	body := `{"name":"echo","args":[1],"in":"1h","key":"nightly-2030-01-01"}`
	status, b := e.call(t, "POST", "/api/v1/tasks", body)
	require.Equal(t, http.StatusCreated, status, "%s", b)
	first := task(t, b)
	before := keys(e)

	status, b = e.call(t, "POST", "/api/v1/tasks", body)
	require.Equal(t, http.StatusOK, status, "%s", b)
	require.Equal(t, first.ID, task(t, b).ID)
	require.Equal(t, before, keys(e))

	status, b = e.call(t, "POST", "/api/v1/tasks", `{"name":"echo","in":"1h","key":"another"}`)
	require.Equal(t, http.StatusCreated, status, "%s", b)
	require.NotEqual(t, first.ID, task(t, b).ID)
}

func TestList(t *testing.T) {
	t.Parallel()
	e := setup(t)
	submit := func(name string) string {
		status, b := e.call(t, "POST", "/api/v1/tasks", `{"name":"`+name+`","in":"1h"}`)
		require.Equal(t, http.StatusCreated, status, "%s", b)
		return task(t, b).ID
	}
	a, b, c := submit("echo"), submit("echo"), submit("other")
	status, body := e.call(t, "DELETE", "/api/v1/tasks/"+b, "")
	require.Equal(t, http.StatusOK, status, "%s", body)

	list := func(query string) []string {
		status, body := e.call(t, "GET", "/api/v1/tasks"+query, "")
		require.Equal(t, http.StatusOK, status, "%s", body)
		var out struct {
			Tasks []*tasks.Task `json:"tasks"`
		}
		require.NoError(t, json.Unmarshal(body, &out), "%s", body)
		require.NotNil(t, out.Tasks, "%s", body)
		ids := []string{}
		for _, tk := range out.Tasks {
			ids = append(ids, tk.ID)
		}
		sort.Strings(ids)
		return ids
	}
	sorted := func(ids ...string) []string { sort.Strings(ids); return ids }
	require.Equal(t, sorted(a, b, c), list(""))
	require.Equal(t, sorted(a, c), list("?state=scheduled"))
	require.Equal(t, []string{b}, list("?state=canceled"))
	require.Equal(t, []string{a}, list("?state=scheduled&name=echo"))
	require.Equal(t, []string{c}, list("?name=other"))
	require.Len(t, list("?limit=1"), 1)
	require.Equal(t, []string{}, list("?state=running"))
}

func TestStats(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, q := range []string{"a", "a", "b"} {
		status, b := e.call(t, "POST", "/api/v1/tasks", `{"name":"echo","in":"1h","queue":"`+q+`"}`)
		require.Equal(t, http.StatusCreated, status, "%s", b)
	}
	status, b := e.call(t, "GET", "/api/v1/stats", "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	var st wire.Stats
	require.NoError(t, json.Unmarshal(b, &st), "%s", b)
	require.Equal(t, int64(3), st.States[tasks.Scheduled])
	require.Equal(t, wire.QueueStats{Scheduled: 2}, st.Queues["a"])
	require.Equal(t, wire.QueueStats{Scheduled: 1}, st.Queues["b"])
	require.NotNil(t, st.Daemons)
}

func TestWaitFinished(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.runScheduler(t)
	status, b := e.call(t, "POST", "/api/v1/tasks", `{"name":"echo","args":{"x":"y"}}`)
	require.Equal(t, http.StatusCreated, status, "%s", b)
	id := task(t, b).ID

	status, b = e.call(t, "GET", "/api/v1/tasks/"+id+"/wait?timeout=20s", "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	tk := task(t, b)
	require.Equal(t, tasks.Succeeded, tk.State, "%s", b)
	require.JSONEq(t, `{"args":{"x":"y"}}`, string(tk.Result))
	require.False(t, tk.FinishedAt.IsZero())
}

func TestWaitTimeout(t *testing.T) {
	t.Parallel()
	e := setup(t)
	status, b := e.call(t, "POST", "/api/v1/tasks", `{"name":"echo","in":"1h"}`)
	require.Equal(t, http.StatusCreated, status, "%s", b)
	id := task(t, b).ID

	for _, q := range []string{"?timeout=50ms", "?timeout=0s"} {
		start := time.Now()
		status, b = e.call(t, "GET", "/api/v1/tasks/"+id+"/wait"+q, "")
		require.Equal(t, http.StatusOK, status, "%s", b)
		require.Equal(t, tasks.Scheduled, task(t, b).State)
		require.Less(t, time.Since(start), 10*time.Second)
	}
}

func TestWaitEndsAtStop(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tk, err := e.cl.Submit(context.Background(), wire.SubmitRequest{Name: "echo", In: "1h"})
	require.NoError(t, err)
	srv, err := api.New(e.sc, e.reg, nil, api.Config{Addr: "127.0.0.1:0"})
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.Background()))

	type answer struct {
		status int
		body   []byte
		err    error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := http.Get("http://" + srv.Addr() + "/api/v1/tasks/" + tk.ID + "/wait?timeout=5m")
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- answer{resp.StatusCode, b, err}
	}()
	// Stop once the long poll is in: its wait has subscribed by then.
	require.Eventually(t, func() bool {
		n, err := e.rdb.PubSubNumSub(context.Background(), "{dueq}:events").Result()
		return err == nil && n["{dueq}:events"] > 0
	}, 10*time.Second, 5*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, srv.Stop(ctx))
	a := <-got
	require.NoError(t, a.err)
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	require.Equal(t, tasks.Scheduled, task(t, a.body).State)
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	e := setup(t)
	status, b := e.call(t, "GET", "/healthz", "")
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"status":"ok"}`, string(b))

	sick, err := api.New(e.sc, e.reg, func(context.Context) error { return errors.New("redis: connection refused") }, api.Config{})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	sick.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1/healthz", nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Contains(t, errorMessage(t, rec.Body.Bytes()), "redis: connection refused")
}

func TestRedisDown(t *testing.T) {
	t.Parallel()
	e := setup(t)
	// Fail fast: one dial attempt, no retries.
	e.failFast(t)
	e.mr.Close()
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/api/v1/tasks", `{"name":"echo"}`},
		{"GET", "/api/v1/tasks/01J0000000000000000000000", ""},
		{"GET", "/api/v1/tasks", ""},
		{"GET", "/api/v1/stats", ""},
	} {
		status, b := e.call(t, r.method, r.path, r.body)
		require.Equal(t, http.StatusServiceUnavailable, status, "%s %s: %s", r.method, r.path, b)
		require.Contains(t, errorMessage(t, b), "Redis")
	}
}

func TestStartStop(t *testing.T) {
	t.Parallel()
	e := setup(t)
	srv, err := api.New(e.sc, e.reg, nil, api.Config{Addr: "127.0.0.1:0"})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:0", srv.Addr())
	require.NoError(t, srv.Start(context.Background()))
	require.Error(t, srv.Start(context.Background()))
	_, port, err := net.SplitHostPort(srv.Addr())
	require.NoError(t, err)
	require.NotEqual(t, "0", port)

	cl := &apiclient.Client{BaseURL: "http://" + srv.Addr()}
	require.NoError(t, cl.Health(context.Background()))

	// A second server on the same address fails at Start, not later.
	busy, err := api.New(e.sc, e.reg, nil, api.Config{Addr: srv.Addr()})
	require.NoError(t, err)
	require.ErrorContains(t, busy.Start(context.Background()), "http.addr")
	require.NoError(t, busy.Stop(context.Background()))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, srv.Stop(ctx))
	require.NoError(t, srv.Stop(ctx))
	require.ErrorIs(t, cl.Health(context.Background()), apiclient.ErrUnreachable)

	idle, err := api.New(e.sc, e.reg, nil, api.Config{})
	require.NoError(t, err)
	require.NoError(t, idle.Stop(ctx))
	require.NoError(t, idle.Stop(ctx))
}

// Listen binds the address before Start serves it: an address in use fails
// there, naming the address and the fix; a listener never served is closed
// by Stop.
func TestListenBeforeStart(t *testing.T) {
	t.Parallel()
	e := setup(t)
	srv, err := api.New(e.sc, e.reg, nil, api.Config{Addr: "127.0.0.1:0"})
	require.NoError(t, err)
	require.NoError(t, srv.Listen(context.Background()))
	require.NoError(t, srv.Listen(context.Background()), "a second Listen does nothing")
	addr := srv.Addr()
	require.NotEqual(t, "127.0.0.1:0", addr, "the real port, known before Start")

	busy, err := api.New(e.sc, e.reg, nil, api.Config{Addr: addr})
	require.NoError(t, err)
	err = busy.Listen(context.Background())
	require.ErrorContains(t, err, "http.addr "+addr+": cannot listen there: ")
	require.ErrorContains(t, err, "address already in use: stop what listens there, or give a free address in http.addr (dueq serve --http HOST:PORT, DUEQ_HTTP_ADDR)")
	require.NoError(t, busy.Stop(context.Background()))

	require.NoError(t, srv.Start(context.Background()), "Start serves on the bound listener")
	require.Equal(t, addr, srv.Addr())
	cl := &apiclient.Client{BaseURL: "http://" + addr}
	require.NoError(t, cl.Health(context.Background()))
	require.NoError(t, srv.Stop(context.Background()))

	// Listened, never started: Stop frees the address.
	unserved, err := api.New(e.sc, e.reg, nil, api.Config{Addr: addr})
	require.NoError(t, err)
	require.NoError(t, unserved.Listen(context.Background()))
	require.NoError(t, unserved.Stop(context.Background()))
	require.Error(t, unserved.Listen(context.Background()), "a stopped server does not listen again")
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err, "the address is free again")
	require.NoError(t, ln.Close())
}

// A Redis that answers but refuses writes (out of memory, a read-only
// replica) is 503 with what Redis said, not "Redis is not available".
func TestRedisRefuses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ reply, want string }{
		{"OOM command not allowed when used memory > 'maxmemory'.",
			"Redis is out of memory (maxmemory): it refuses writes until memory is freed or maxmemory is raised: "},
		{"READONLY You can't write against a read only replica.",
			"Redis is a read-only replica: it refuses writes: point redis.url at the primary: "},
	} {
		e := setup(t)
		e.mr.SetError(c.reply)
		status, b := e.call(t, "POST", "/api/v1/tasks", `{"name":"echo"}`)
		require.Equal(t, http.StatusServiceUnavailable, status, "%s", b)
		msg := errorMessage(t, b)
		require.Contains(t, msg, c.want)
		require.Contains(t, msg, c.reply, "Redis's own words")
		require.NotContains(t, msg, "not available")

		_, err := e.cl.Submit(context.Background(), wire.SubmitRequest{Name: "echo"})
		var ae *apiclient.Error
		require.ErrorAs(t, err, &ae)
		require.Equal(t, http.StatusServiceUnavailable, ae.Status)
		require.Contains(t, ae.Message, c.want)
	}

	// A lost connection is still "not available".
	e := setup(t)
	e.failFast(t)
	e.mr.Close()
	status, b := e.call(t, "POST", "/api/v1/tasks", `{"name":"echo"}`)
	require.Equal(t, http.StatusServiceUnavailable, status, "%s", b)
	require.Contains(t, errorMessage(t, b), "Redis is not available: ")
}

// failFast serves e's API from a client that dials once and never retries,
// so a lost Redis shows at once.
func (e *env) failFast(t *testing.T) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: e.mr.Addr(), MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = rdb.Close() })
	sc, err := client.New(rdb, client.Config{})
	require.NoError(t, err)
	srv, err := api.New(sc, e.reg, nil, api.Config{})
	require.NoError(t, err)
	e.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(e.ts.Close)
}
