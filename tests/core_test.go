package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// record is the part of a task record these tests read.
type record struct {
	ID         string          `json:"id"`
	State      string          `json:"state"`
	DueAt      time.Time       `json:"due_at"`
	StartedAt  *time.Time      `json:"started_at"`
	Attempts   int             `json:"attempts"`
	Recoveries int             `json:"recoveries"`
	Result     json.RawMessage `json:"result"`
	Error      string          `json:"error"`
}

// shellConfig writes a config file that allows the shell handler to run sh.
func shellConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte("handlers:\n  shell:\n    allow: [sh]\n"), 0o600))
	return path
}

// appendTask is a shell task that appends its own id to log, so a test can
// count how many times each task ran.
func appendTask(log string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"cmd":["sh","-c","echo \"$DUEQ_TASK_ID\" >> %s"]}`, log))
}

// post submits a task through the HTTP API.
func post(t *testing.T, server string, body any) record {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	resp, err := http.Post(server+"/api/v1/tasks", "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var rec record
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&rec))
	return rec
}

// waitDone long-polls until the task finished.
func waitDone(t *testing.T, server, id string) record {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(server + "/api/v1/tasks/" + id + "/wait?timeout=10s")
		require.NoError(t, err)
		var rec record
		err = json.NewDecoder(resp.Body).Decode(&rec)
		resp.Body.Close()
		require.NoError(t, err)
		if rec.State == "succeeded" || rec.State == "failed" || rec.State == "canceled" {
			return rec
		}
	}
	t.Fatalf("task %s did not finish within 60s", id)
	return record{}
}

// runs counts the lines of an append log by task id.
func runs(t *testing.T, log string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(log)
	if os.IsNotExist(err) {
		return map[string]int{}
	}
	require.NoError(t, err)
	n := map[string]int{}
	for _, line := range strings.Fields(string(b)) {
		n[line]++
	}
	return n
}

func TestSubmitWaitPrintsTheResult(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	d := startDaemon(t, r.URL, "--workers", "2")
	out := mustDueq(t, d.URL, "submit", "echo", `{"a":1}`, "--wait")
	require.Contains(t, strings.ReplaceAll(out, " ", ""), `"args":{"a":1}`)
}

func TestServeRunsOnTheEmbeddedRedis(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "")
	out := mustDueq(t, d.URL, "submit", "echo", `{"embedded":true}`, "--wait")
	require.Contains(t, strings.ReplaceAll(out, " ", ""), `"embedded":true`)
	require.Contains(t, d.out.String(), "memory", "the daemon says its state is in memory only")
}

func TestDelayedTasksRunExactlyOnceAcrossTwoDaemonsAndARestart(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	cfg := shellConfig(t)
	log := filepath.Join(t.TempDir(), "runs.log")
	a := startDaemon(t, r.URL, "--workers", "4", "--config", cfg)
	b := startDaemon(t, r.URL, "--workers", "4", "--config", cfg)

	var ids []string
	for i := range 80 {
		in := fmt.Sprintf("%dms", 300+i*30) // due over 0.3 s to 2.7 s
		server := a.URL
		if i%2 == 1 {
			server = b.URL
		}
		ids = append(ids, post(t, server, map[string]any{"name": "shell", "args": appendTask(log), "in": in}).ID)
	}
	a.restart(t) // mid-way: some tasks are due while a is down
	for _, id := range ids {
		rec := waitDone(t, b.URL, id)
		require.Equal(t, "succeeded", rec.State, "task %s: %s", id, rec.Error)
		require.NotNil(t, rec.StartedAt)
		require.False(t, rec.StartedAt.Before(rec.DueAt), "task %s started %s, before its due time %s", id, rec.StartedAt, rec.DueAt)
	}
	n := runs(t, log)
	for _, id := range ids {
		require.Equal(t, 1, n[id], "task %s ran %d times", id, n[id])
	}
	require.Len(t, n, len(ids))
}

func TestCancelBeforeDueMeansTheTaskNeverRuns(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	cfg := shellConfig(t)
	log := filepath.Join(t.TempDir(), "runs.log")
	d := startDaemon(t, r.URL, "--config", cfg)
	// Due in 6s: time enough to cancel it on a loaded machine.
	id := mustDueq(t, d.URL, "submit", "shell", string(appendTask(log)), "--in", "6s")
	mustDueq(t, d.URL, "cancel", id)
	// A marker due after the canceled task's due time has run: the canceled
	// task's time has passed.
	mustDueq(t, d.URL, "submit", "shell", string(appendTask(log)), "--in", "6500ms", "--wait")
	require.Zero(t, runs(t, log)[id])
	w := dueq(t, d.URL, "wait", id)
	require.Equal(t, 1, w.Code, "wait on a canceled task exits 1")
	var rec record
	require.NoError(t, json.Unmarshal([]byte(mustDueq(t, d.URL, "status", id, "--json")), &rec))
	require.Equal(t, "canceled", rec.State)
}

func TestWaitExitCodes(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	d := startDaemon(t, r.URL)
	ok := mustDueq(t, d.URL, "submit", "echo", `{"x":1}`)
	require.Equal(t, 0, dueq(t, d.URL, "wait", ok).Code)
	bad := mustDueq(t, d.URL, "submit", "sleep", `{"ms":-1}`)
	require.Equal(t, 1, dueq(t, d.URL, "wait", bad).Code)
	slow := mustDueq(t, d.URL, "submit", "sleep", `{"ms":60000}`)
	require.Equal(t, 2, dueq(t, d.URL, "wait", slow, "--timeout", "200ms").Code)
	require.Equal(t, 2, dueq(t, d.URL, "wait", "NO-SUCH-TASK").Code)
	mustDueq(t, d.URL, "cancel", slow)
}

func TestBadInputGetsAClearErrorAndWritesNothing(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	d := startDaemon(t, r.URL)
	rdb := r.client(t)
	keys := func() []string {
		ks, err := rdb.Keys(context.Background(), "*").Result()
		require.NoError(t, err)
		sort.Strings(ks)
		return ks
	}
	require.Eventually(t, func() bool { // the daemon has registered itself
		n, err := rdb.Exists(context.Background(), "{dueq}:daemons").Result()
		return err == nil && n == 1
	}, 10*time.Second, 10*time.Millisecond)
	before := keys()
	for _, args := range [][]string{
		{"submit", "no-such-handler"},
		{"submit", "echo", `{"a":`},
		{"submit", "echo", "--in", "soon"},
		{"submit", "echo", "--in", "-5s"},
		{"submit", "echo", "--in", "1s", "--at", "2030-01-01T00:00:00Z"},
		{"submit", "echo", "--at", "tomorrow"},
		{"submit", "echo", "--timeout", "-1s"},
		{"submit", "echo", "--queue", "bad queue"},
		{"submit", "shell", `{"cmd":["ls"]}`}, // shell is off by default
		{"submit"},
		{"status", "NO-SUCH-TASK"},
		{"cancel", "NO-SUCH-TASK"},
		{"list", "--state", "sleeping"},
		{"list", "--limit", "-3"},
	} {
		res := dueq(t, d.URL, args...)
		require.NotZero(t, res.Code, "dueq %v should fail", args)
		require.NotEmpty(t, strings.TrimSpace(res.Stderr), "dueq %v should say what is wrong", args)
		require.Empty(t, strings.TrimSpace(res.Stdout), "dueq %v printed %q", args, res.Stdout)
	}
	for _, c := range []struct {
		body string
		code int
	}{
		{`{"name":"echo"`, http.StatusBadRequest},
		{`{"name":"echo","every":"1s","bogus":1}`, http.StatusBadRequest},
		{`{"name":"echo"} {"name":"echo"}`, http.StatusBadRequest},
		{`{"name":"echo","in":"-1s"}`, http.StatusBadRequest},
		{`{"name":"echo","args":"` + strings.Repeat("x", 2<<20) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		resp, err := http.Post(d.URL+"/api/v1/tasks", "application/json", strings.NewReader(c.body))
		require.NoError(t, err)
		var body map[string]string
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		resp.Body.Close()
		require.Equal(t, c.code, resp.StatusCode, "%.60s", c.body)
		require.NotEmpty(t, body["error"])
	}
	resp, err := http.Get(d.URL + "/api/v1/tasks/NO-SUCH-TASK")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, before, keys(), "rejected input wrote to Redis")
}
