package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/apiclient"
	"github.com/dueq/dueq/deps"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// diamond is a workflow document: a first, b and c after it, d after both.
const diamond = `{"nodes": [
  {"name": "a", "task": "echo", "args": {"n": "a"}, "in": "1h"},
  {"name": "b", "task": "echo", "args": {"n": "b"}, "after": ["a"], "queue": "q2", "max_attempts": 2},
  {"name": "c", "task": "other", "after": ["a"], "timeout": "5s", "on_parent_failure": "skip"},
  {"name": "d", "task": "echo", "after": ["c", "b"], "on_parent_failure": "run"}
]}`

// workflowIDs decodes the name→id answer of POST /api/v1/workflows.
func workflowIDs(t *testing.T, b []byte, names ...string) map[string]string {
	t.Helper()
	var ids map[string]string
	require.NoError(t, json.Unmarshal(b, &ids), "body: %s", b)
	require.Len(t, ids, len(names), "body: %s", b)
	for _, n := range names {
		require.NotEmpty(t, ids[n], "no id for %s: %s", n, b)
	}
	return ids
}

// get reads a record through the API.
func (e *env) get(t *testing.T, id string) *tasks.Task {
	t.Helper()
	status, b := e.call(t, "GET", "/api/v1/tasks/"+id, "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	return task(t, b)
}

func TestSubmitWorkflow(t *testing.T) {
	t.Parallel()
	e := setup(t)
	status, b := e.call(t, "POST", "/api/v1/workflows", diamond)
	require.Equal(t, http.StatusCreated, status, "%s", b)
	ids := workflowIDs(t, b, "a", "b", "c", "d")

	a, bb, c, d := e.get(t, ids["a"]), e.get(t, ids["b"]), e.get(t, ids["c"]), e.get(t, ids["d"])
	require.Equal(t, tasks.Scheduled, a.State)
	require.JSONEq(t, `{"n":"a"}`, string(a.Args))
	require.WithinDuration(t, time.Now().Add(time.Hour), a.DueAt, time.Minute)
	require.Empty(t, a.Parents)
	require.ElementsMatch(t, []string{ids["b"], ids["c"]}, a.Children)

	require.Equal(t, tasks.Waiting, bb.State)
	require.Equal(t, []string{ids["a"]}, bb.Parents)
	require.Equal(t, "q2", bb.Queue)
	require.Equal(t, 2, bb.MaxAttempts)
	require.Equal(t, tasks.PolicyFail, bb.OnParentFailure)

	require.Equal(t, "other", c.Name)
	require.Equal(t, 5*time.Second, c.Timeout)
	require.Equal(t, tasks.PolicySkip, c.OnParentFailure)

	require.Equal(t, tasks.Waiting, d.State)
	require.Equal(t, []string{ids["c"], ids["b"]}, d.Parents, "parents in declared order")
	require.Equal(t, tasks.PolicyRun, d.OnParentFailure)
	require.Empty(t, d.Children)
}

func TestSubmitWorkflowYAMLRuns(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.runScheduler(t)
	doc := `nodes:
  - name: world
    task: echo
    args: {who: world}
  - name: hello
    task: other
    after: [world]
`
	status, b := e.call(t, "POST", "/api/v1/workflows", doc, "Content-Type", "application/yaml")
	require.Equal(t, http.StatusCreated, status, "%s", b)
	ids := workflowIDs(t, b, "world", "hello")

	status, b = e.call(t, "GET", "/api/v1/tasks/"+ids["hello"]+"/wait?timeout=20s", "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	hello := task(t, b)
	require.Equal(t, tasks.Succeeded, hello.State, "%s", b)
	require.Equal(t, []string{ids["world"]}, hello.Parents)
	world := e.get(t, ids["world"])
	require.Equal(t, tasks.Succeeded, world.State)
	require.JSONEq(t, `{"args":{"who":"world"}}`, string(world.Result))
}

func TestSubmitAfter(t *testing.T) {
	t.Parallel()
	e := setup(t)
	status, b := e.call(t, "POST", "/api/v1/tasks", `{"name":"echo","in":"1h"}`)
	require.Equal(t, http.StatusCreated, status, "%s", b)
	parent := task(t, b)
	status, b = e.call(t, "POST", "/api/v1/tasks", `{"name":"other","in":"1h"}`)
	require.Equal(t, http.StatusCreated, status, "%s", b)
	other := task(t, b)

	status, b = e.call(t, "POST", "/api/v1/tasks", `{"name":"echo","after":["`+other.ID+`","`+parent.ID+`"],"on_parent_failure":"skip"}`)
	require.Equal(t, http.StatusCreated, status, "%s", b)
	child := task(t, b)
	stored := e.get(t, child.ID)
	require.Equal(t, tasks.Waiting, stored.State)
	require.Equal(t, []string{other.ID, parent.ID}, stored.Parents, "parents in declared order")
	require.Equal(t, tasks.PolicySkip, stored.OnParentFailure)
	require.Equal(t, []string{child.ID}, e.get(t, parent.ID).Children)
	require.Equal(t, tasks.Waiting, child.State, "the answer to the submit is the stored record")
	require.Equal(t, stored.Parents, child.Parents)

	var raw map[string]any
	require.NoError(t, json.Unmarshal(b, &raw))
	require.Equal(t, "skip", raw["on_parent_failure"])
	require.Equal(t, []any{other.ID, parent.ID}, raw["parents"])
}

func TestSubmitAfterRuns(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.runScheduler(t)
	ctx := context.Background()
	parent, err := e.cl.Submit(ctx, wire.SubmitRequest{Name: "echo", Args: []byte(`{"p":1}`)})
	require.NoError(t, err)
	child, err := e.cl.Submit(ctx, wire.SubmitRequest{Name: "echo", After: []string{parent.ID}})
	require.NoError(t, err)
	done, err := e.cl.Wait(ctx, child.ID, 20*time.Second)
	require.NoError(t, err)
	require.Equal(t, tasks.Succeeded, done.State, "%+v", done)

	// A parent that finished before its child was submitted still counts.
	late, err := e.cl.Submit(ctx, wire.SubmitRequest{Name: "other", After: []string{parent.ID}, OnParentFailure: "run"})
	require.NoError(t, err)
	done, err = e.cl.Wait(ctx, late.ID, 20*time.Second)
	require.NoError(t, err)
	require.Equal(t, tasks.Succeeded, done.State, "%+v", done)
	require.Equal(t, []string{parent.ID}, done.Parents)
}

func TestClientSubmitWorkflow(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.idleDaemon(t)
	ctx := context.Background()

	wid, ids, err := e.cl.SubmitWorkflow(ctx, []byte(diamond))
	require.NoError(t, err)
	require.Len(t, ids, 4)
	require.True(t, strings.HasPrefix(wid, "W"), "the workflow's id: %q", wid)
	d, err := e.cl.Get(ctx, ids["d"])
	require.NoError(t, err)
	require.Equal(t, []string{ids["c"], ids["b"]}, d.Parents)
	require.Equal(t, wid, d.Workflow, "each record keeps its workflow's id")
	require.Equal(t, "d", d.Node, "and its node's name")

	wf, err := e.cl.GetWorkflow(ctx, wid)
	require.NoError(t, err)
	require.Equal(t, wid, wf.ID)
	var names []string
	for _, n := range wf.Nodes {
		names = append(names, n.Node)
		require.Equal(t, ids[n.Node], n.ID)
		require.NotNil(t, n.Task, n.Node)
		require.Equal(t, n.Node, n.Task.Node)
	}
	require.Equal(t, []string{"a", "b", "c", "d"}, names, "parents first")
	require.Equal(t, map[tasks.State]int{tasks.Scheduled: 1, tasks.Waiting: 3}, wf.States)
	status, raw := e.call(t, "GET", "/api/v1/workflows/"+wid, "")
	require.Equal(t, 200, status, "%s", raw)
	require.Equal(t, 4, strings.Count(string(raw), `"retryable":false`), "each node's task answers as any task does: %s", raw)
	for _, bad := range []string{"W01NOPE", "nope", ids["a"], "W"} {
		_, err = e.cl.GetWorkflow(ctx, bad)
		var apiErr *apiclient.Error
		require.ErrorAs(t, err, &apiErr, bad)
		require.Equal(t, 404, apiErr.Status, bad)
	}

	_, ids, err = e.cl.SubmitWorkflow(ctx, []byte("nodes:\n- {name: x, task: echo, in: 1h}\n- {name: y, task: other, after: [x]}\n"))
	require.NoError(t, err)
	require.Len(t, ids, 2)
	y, err := e.cl.Get(ctx, ids["y"])
	require.NoError(t, err)
	require.Equal(t, []string{ids["x"]}, y.Parents)

	before := keys(e)
	for doc, want := range map[string]string{
		`{"nodes":[{"name":"a","task":"echo","after":["b"]},{"name":"b","task":"echo","after":["a"]}]}`: "cycle: a -> b -> a",
		"nodes:\n- {name: a, task: missing}\n":                                                          `node a: unknown handler "missing"`,
		"":                                                                                              "the document is empty",
	} {
		_, _, err := e.cl.SubmitWorkflow(ctx, []byte(doc))
		require.ErrorIs(t, err, tasks.ErrInvalid, doc)
		require.ErrorContains(t, err, want)
		var apiErr *apiclient.Error
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, http.StatusBadRequest, apiErr.Status)
	}
	require.Equal(t, before, keys(e), "a rejected workflow wrote to Redis")

	// The daemon checks what deps.Parse checks, and its handler names.
	_, err = deps.Parse([]byte("nodes:\n- {name: a, task: missing}\n"))
	require.NoError(t, err)
}
