package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// registry returns a registry of handlers that return nil at once.
func registry(names ...string) *tasks.Registry {
	reg := tasks.NewRegistry()
	for _, n := range names {
		reg.Register(n, func(context.Context, *tasks.Call) (any, error) { return nil, nil })
	}
	return reg
}

// post sends a request and returns the status, the decoded body and the
// warning header lines.
func (e *env) post(t *testing.T, path, body string) (int, map[string]any, []string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.ts.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := e.ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	return resp.StatusCode, m, resp.Header.Values(wire.WarningHeader)
}

// twoDaemons sets up an API server, its registry with shell off (as the
// stock binary has it) and http unknown, and two live daemons: one serves
// default with echo, the other serves slow with report.
func twoDaemons(t *testing.T) *env {
	t.Helper()
	e := setup(t)
	e.reg.Disable("shell", "the shell handler is off: list the programs it may run in handlers.shell.allow")
	e.runDaemon(t, registry("echo"))
	e.runDaemon(t, registry("report"), "slow")
	return e
}

func TestSubmitFollowsTheLiveDaemonsHandlers(t *testing.T) {
	t.Parallel()
	e := twoDaemons(t)
	const untilReport = ": the task will not run until a daemon serving queue default with handler report is alive"

	status, m, warnings := e.post(t, "/api/v1/tasks", `{"name":"echo","in":"1h"}`)
	require.Equal(t, http.StatusCreated, status, "%v", m)
	require.NotContains(t, m, "warning", "a live daemon serving default has echo")
	require.Empty(t, warnings)
	require.Equal(t, false, m["retryable"])

	status, m, warnings = e.post(t, "/api/v1/tasks", `{"name":"report","in":"1h"}`)
	require.Equal(t, http.StatusCreated, status, "%v", m)
	want := "no live daemon serving default can run report (daemons serving default run echo)" + untilReport
	require.Equal(t, want, m["warning"])
	require.Equal(t, []string{want}, warnings)
	require.Equal(t, "report", m["name"], "the answer is the record, with the warning")
	require.Equal(t, "scheduled", m["state"])

	status, m, _ = e.post(t, "/api/v1/tasks", `{"name":"echo","queue":"fast","in":"1h"}`)
	require.Equal(t, http.StatusCreated, status, "%v", m)
	require.Equal(t, "no live daemon serves queue fast (live daemons serve default, slow): the task will not run until a daemon serving queue fast with handler echo is alive", m["warning"])

	status, m, _ = e.post(t, "/api/v1/tasks", `{"name":"report","every":"1h"}`)
	require.Equal(t, http.StatusCreated, status, "%v", m)
	require.Equal(t, "no live daemon serving default can run report (daemons serving default run echo): its tasks will not run until a daemon serving queue default with handler report is alive", m["warning"])
	require.Equal(t, "report", m["task"], "the answer is the schedule's record")

	before := keys(e)
	for body, msg := range map[string]string{
		`{"name":"nope"}`:                                      `unknown handler "nope": no live daemon has it (live daemons run echo, report); check the name, or start a daemon that registers it`,
		`{"name":"nope","queue":"slow"}`:                       `unknown handler "nope": no live daemon has it (live daemons run echo, report)`,
		`{"name":"nope","every":"1h"}`:                         `unknown handler "nope": no live daemon has it`,
		`{"name":"shell","args":{"cmd":["ls"]}}`:               `unknown handler "shell": no live daemon has it (live daemons run echo, report); the shell handler is off: list the programs it may run in handlers.shell.allow (in config.yaml, then restart the daemon)`,
		`{"name":"http","args":{"url":"https://example.com"}}`: `unknown handler "http": no live daemon has it (live daemons run echo, report); the http handler is off on every live daemon: list what it may reach in handlers.http.allow (host, host:port or a URL prefix) (in config.yaml, then restart the daemon)`,
	} {
		status, m, warnings := e.post(t, "/api/v1/tasks", body)
		require.Equal(t, http.StatusBadRequest, status, "%s: %v", body, m)
		require.Contains(t, m["error"], msg, body)
		require.Empty(t, warnings)
	}
	require.Equal(t, before, keys(e), "a refused submit writes nothing")
}

func TestSubmitWorkflowChecksEveryNode(t *testing.T) {
	t.Parallel()
	e := twoDaemons(t)
	status, m, warnings := e.post(t, "/api/v1/workflows", `{"nodes": [
		{"name": "a", "task": "echo", "in": "1h"},
		{"name": "b", "task": "report", "after": ["a"]},
		{"name": "c", "task": "echo", "queue": "fast", "after": ["a"]},
		{"name": "d", "task": "report", "queue": "slow", "after": ["b", "c"]}
	]}`)
	require.Equal(t, http.StatusCreated, status, "%v", m)
	require.Len(t, m, 4, "the answer is the name→id map alone: %v", m)
	require.Equal(t, []string{
		"node b: no live daemon serving default can run report (daemons serving default run echo): the task will not run until a daemon serving queue default with handler report is alive",
		"node c: no live daemon serves queue fast (live daemons serve default, slow): the task will not run until a daemon serving queue fast with handler echo is alive",
	}, warnings)

	before := keys(e)
	status, m, _ = e.post(t, "/api/v1/workflows", "nodes:\n- {name: a, task: echo}\n- {name: x, task: nope, after: [a]}\n")
	require.Equal(t, http.StatusBadRequest, status, "%v", m)
	require.Equal(t, `node x: unknown handler "nope": no live daemon has it (live daemons run echo, report); check the name, or start a daemon that registers it`, m["error"])
	require.Equal(t, before, keys(e), "a refused workflow writes nothing")
}

func TestClientSurfacesWarnings(t *testing.T) {
	t.Parallel()
	e := twoDaemons(t)
	ctx := context.Background()
	var (
		mu  sync.Mutex
		got []string
	)
	e.cl.Warn = func(w string) {
		mu.Lock()
		got = append(got, w)
		mu.Unlock()
	}
	take := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}

	tk, err := e.cl.Submit(ctx, wire.SubmitRequest{Name: "echo", In: "1h"})
	require.NoError(t, err)
	require.NotEmpty(t, tk.ID)
	require.Empty(t, take())

	tk, err = e.cl.Submit(ctx, wire.SubmitRequest{Name: "report", In: "1h"})
	require.NoError(t, err)
	require.Equal(t, "report", tk.Name)
	require.Equal(t, []string{"no live daemon serving default can run report (daemons serving default run echo): the task will not run until a daemon serving queue default with handler report is alive"}, take())

	sc, err := e.cl.SubmitSchedule(ctx, wire.SubmitRequest{Name: "echo", Queue: "fast", Every: "1h"})
	require.NoError(t, err)
	require.Equal(t, "echo", sc.Task)
	w := take()
	require.Len(t, w, 1)
	require.True(t, strings.HasPrefix(w[0], "no live daemon serves queue fast"), w[0])

	_, ids, err := e.cl.SubmitWorkflow(ctx, []byte("nodes:\n- {name: a, task: report, queue: slow}\n- {name: b, task: report, after: [a]}\n"))
	require.NoError(t, err)
	require.Len(t, ids, 2)
	w = take()
	require.Len(t, w, 1)
	require.True(t, strings.HasPrefix(w[0], "node b: no live daemon serving default can run report"), w[0])

	_, err = e.cl.Submit(ctx, wire.SubmitRequest{Name: "nope"})
	require.ErrorIs(t, err, tasks.ErrInvalid)
	require.ErrorContains(t, err, `unknown handler "nope": no live daemon has it`)
	require.Empty(t, take())
}

func TestSubmitWithNoDaemonAliveIsAcceptedWithAWarning(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for name, want := range map[string]string{
		"echo": "no daemon is alive: the task will not run until a daemon serving queue default with handler echo is alive",
		"nope": "no daemon is alive: the task will not run until a daemon serving queue default with handler nope is alive",
	} {
		status, m, warnings := e.post(t, "/api/v1/tasks", `{"name":"`+name+`","in":"1h"}`)
		require.Equal(t, http.StatusCreated, status, "%v", m)
		require.Equal(t, want, m["warning"])
		require.Equal(t, []string{want}, warnings)
	}
}

func TestDaemonOfUnknownInfoMayRunAnything(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	k, err := store.NewKeys("dueq")
	require.NoError(t, err)
	// A daemon of an older version: alive, but it publishes no info.
	_, err = e.mr.ZAdd(k.Daemons(), float64(time.Now().UnixMilli()), "old-daemon")
	require.NoError(t, err)
	e.runDaemon(t, registry("echo"))
	status, m, warnings := e.post(t, "/api/v1/tasks", `{"name":"nope","queue":"fast","in":"1h"}`)
	require.Equal(t, http.StatusCreated, status, "%v", m)
	require.NotContains(t, m, "warning")
	require.Empty(t, warnings)
	st, err := e.sc.Stats(ctx)
	require.NoError(t, err)
	require.Len(t, st.DaemonInfo, 2)
}

func TestAnswersSayWhetherRetryIsAccepted(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.reg.Register("fail", func(context.Context, *tasks.Call) (any, error) { return nil, errors.New("boom") })
	e.runScheduler(t)
	ctx := context.Background()
	parent, err := e.cl.Submit(ctx, wire.SubmitRequest{Name: "fail"})
	require.NoError(t, err)
	child, err := e.cl.Submit(ctx, wire.SubmitRequest{Name: "echo", After: []string{parent.ID}})
	require.NoError(t, err)
	_, err = e.cl.Wait(ctx, child.ID, 20*time.Second)
	require.NoError(t, err)

	answer := func(path string) map[string]any {
		status, b := e.call(t, "GET", path, "")
		require.Equal(t, http.StatusOK, status, "%s", b)
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		return m
	}
	p := answer("/api/v1/tasks/" + parent.ID)
	require.Equal(t, "failed", p["state"])
	require.Equal(t, true, p["retryable"])
	c := answer("/api/v1/tasks/" + child.ID)
	require.Equal(t, "failed", c["state"])
	require.Equal(t, false, c["retryable"], "a child its parent failed would fail again")
	require.EqualValues(t, 0, c["attempts"])
	require.Nil(t, c["started_at"], "its handler never ran")
	status, b := e.call(t, "POST", "/api/v1/tasks/"+child.ID+"/retry", "")
	require.Equal(t, http.StatusConflict, status, "%s", b)

	list := answer("/api/v1/tasks?state=failed")["tasks"].([]any)
	require.Len(t, list, 2)
	for _, x := range list {
		tk := x.(map[string]any)
		require.Equal(t, tk["id"] == parent.ID, tk["retryable"], "%v", tk)
	}

	status, b = e.call(t, "POST", "/api/v1/tasks/"+parent.ID+"/retry", "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	require.Equal(t, m["state"] == "failed", m["retryable"], "retried: %v", m)
}
