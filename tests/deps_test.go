package tests

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// echoParents is what the echo handler returns.
type echoParents struct {
	Args    json.RawMessage `json:"args"`
	Parents []struct {
		ID     string          `json:"id"`
		State  string          `json:"state"`
		Result json.RawMessage `json:"result"`
		Error  string          `json:"error"`
	} `json:"parents"`
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

func TestWorkflowDiamondAcrossTwoDaemons(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	a := startDaemon(t, r.URL, "--workers", "2")
	b := startDaemon(t, r.URL, "--workers", "2")
	doc := writeFile(t, "diamond.yaml", `
nodes:
  - name: report
    task: echo
    after: [right, left]
  - name: left
    task: echo
    args: {side: left}
    after: [fetch]
  - name: right
    task: echo
    args: {side: right}
    after: [fetch]
  - name: fetch
    task: echo
    args: {url: "x"}
    in: 200ms
`)
	var ids map[string]string
	require.NoError(t, json.Unmarshal([]byte(mustDueq(t, a.URL, "workflow", doc)), &ids))
	require.Len(t, ids, 4)
	out := mustDueq(t, b.URL, "wait", ids["report"])
	var res echoParents
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.Len(t, res.Parents, 2)
	require.Equal(t, ids["right"], res.Parents[0].ID, "declared order")
	require.Equal(t, ids["left"], res.Parents[1].ID)
	require.Contains(t, string(res.Parents[1].Result), `"side":"left"`)
}

func TestFanOutAndFanInOverTheAPI(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	d := startDaemon(t, r.URL, "--workers", "8")
	root := post(t, d.URL, map[string]any{"name": "echo", "args": map[string]int{"root": 1}, "in": "300ms"})
	var mids []string
	for i := range 100 {
		mids = append(mids, post(t, d.URL, map[string]any{"name": "echo", "args": map[string]int{"n": i}, "after": []string{root.ID}}).ID)
	}
	sink := post(t, d.URL, map[string]any{"name": "echo", "after": mids})
	rec := waitDone(t, d.URL, sink.ID)
	require.Equal(t, "succeeded", rec.State)
	var res echoParents
	require.NoError(t, json.Unmarshal(rec.Result, &res))
	require.Len(t, res.Parents, 100)
	for i, p := range res.Parents {
		require.Equal(t, mids[i], p.ID)
		require.Equal(t, "succeeded", p.State)
	}
}

func TestFailurePoliciesAndCancelCascadeThroughTheCLI(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	d := startDaemon(t, r.URL)
	bad := mustDueq(t, d.URL, "submit", "sleep", `{"ms":-1}`, "--in", "300ms")
	runs := mustDueq(t, d.URL, "submit", "echo", "--after", bad, "--on-parent-failure", "run")
	fails := mustDueq(t, d.URL, "submit", "echo", "--after", bad)
	grand := mustDueq(t, d.URL, "submit", "echo", "--after", fails)
	skips := mustDueq(t, d.URL, "submit", "echo", "--after", bad, "--on-parent-failure", "skip")

	var res echoParents
	require.NoError(t, json.Unmarshal([]byte(mustDueq(t, d.URL, "wait", runs)), &res))
	require.Equal(t, "failed", res.Parents[0].State)
	require.NotEmpty(t, res.Parents[0].Error)
	for id, state := range map[string]string{fails: "failed", grand: "failed", skips: "canceled"} {
		require.Equal(t, 1, dueq(t, d.URL, "wait", id).Code)
		var rec record
		require.NoError(t, json.Unmarshal([]byte(mustDueq(t, d.URL, "status", id, "--json")), &rec))
		require.Equal(t, state, rec.State, id)
		require.Contains(t, rec.Error, "parent ")
	}

	// Canceling a task: its children follow their policy. A run child runs
	// (it waits for every parent, however it ended); a fail child is
	// canceled with it, without running.
	later := mustDueq(t, d.URL, "submit", "echo", "--in", "1h")
	child := mustDueq(t, d.URL, "submit", "echo", "--after", later, "--on-parent-failure", "run")
	follows := mustDueq(t, d.URL, "submit", "echo", "--after", later)
	var rec record
	require.NoError(t, json.Unmarshal([]byte(mustDueq(t, d.URL, "status", child, "--json")), &rec))
	require.Equal(t, "waiting", rec.State)
	mustDueq(t, d.URL, "cancel", later)
	require.NoError(t, json.Unmarshal([]byte(mustDueq(t, d.URL, "wait", child)), &res))
	require.Equal(t, "canceled", res.Parents[0].State)
	require.Equal(t, 1, dueq(t, d.URL, "wait", follows).Code)
	require.NoError(t, json.Unmarshal([]byte(mustDueq(t, d.URL, "status", follows, "--json")), &rec))
	require.Equal(t, "canceled", rec.State)
	require.Zero(t, rec.Attempts, "it never ran")
}

func TestRejectedWorkflowsAndParentsWriteNothing(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	d := startDaemon(t, r.URL)
	rdb := r.client(t)
	require.Eventually(t, func() bool {
		n, err := rdb.Exists(context.Background(), "{dueq}:daemons").Result()
		return err == nil && n == 1
	}, 10*time.Second, 10*time.Millisecond)
	keys := func() []string {
		ks, err := rdb.Keys(context.Background(), "*").Result()
		require.NoError(t, err)
		sort.Strings(ks)
		return ks
	}
	before := keys()
	cycle := "nodes:\n- {name: a, task: echo, after: [c]}\n- {name: b, task: echo, after: [a]}\n- {name: c, task: echo, after: [b]}\n"
	for name, doc := range map[string]string{
		"cycle":     cycle,
		"unknown":   "nodes:\n- {name: a, task: echo, after: [zz]}\n",
		"duplicate": "nodes:\n- {name: a, task: echo}\n- {name: a, task: echo}\n",
		"handler":   "nodes:\n- {name: a, task: no-such-handler}\n",
		"field":     "nodes:\n- {name: a, task: echo, colour: red}\n",
		"not yaml":  "nodes: [",
	} {
		res := dueq(t, d.URL, "workflow", writeFile(t, "w.yaml", doc))
		require.NotZero(t, res.Code, name)
		require.NotEmpty(t, res.Stderr, name)
		if name == "cycle" {
			require.Contains(t, res.Stderr, "->")
		}
	}
	resp, err := http.Post(d.URL+"/api/v1/workflows", "application/yaml", strings.NewReader(cycle))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	res := dueq(t, d.URL, "submit", "echo", "--after", "NO-SUCH-TASK")
	require.NotZero(t, res.Code)
	require.Contains(t, res.Stderr, "NO-SUCH-TASK")
	require.Equal(t, before, keys(), "a rejected request wrote to Redis")
}

func TestLateChildAndRetriedParent(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	d := startDaemon(t, r.URL, "--config", shellConfig(t))

	// A child submitted after its parent finished gets the stored outcome.
	p := mustDueq(t, d.URL, "submit", "echo", `{"early":true}`, "--wait")
	require.Contains(t, p, "early")
	parent := mustDueq(t, d.URL, "list", "--state", "succeeded", "--json")
	var recs []record
	require.NoError(t, json.Unmarshal([]byte(parent), &recs))
	require.Len(t, recs, 1)
	var res echoParents
	require.NoError(t, json.Unmarshal([]byte(mustDueq(t, d.URL, "submit", "echo", "--after", recs[0].ID, "--wait")), &res))
	require.Equal(t, recs[0].ID, res.Parents[0].ID)
	require.Contains(t, string(res.Parents[0].Result), "early")

	// A parent that fails once and is retried has not finished in between.
	flag := filepath.Join(t.TempDir(), "tried")
	flaky := mustDueq(t, d.URL, "submit", "shell", `{"cmd":["sh","-c","test -f `+flag+` || { touch `+flag+`; exit 1; }"]}`, "--max-attempts", "2")
	child := mustDueq(t, d.URL, "submit", "echo", "--after", flaky)
	require.NoError(t, json.Unmarshal([]byte(mustDueq(t, d.URL, "wait", child)), &res))
	require.Equal(t, "succeeded", res.Parents[0].State)
	var rec record
	require.NoError(t, json.Unmarshal([]byte(mustDueq(t, d.URL, "status", flaky, "--json")), &rec))
	require.Equal(t, 2, rec.Attempts)
}
