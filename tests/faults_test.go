package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/tasks"
)

// faultConfig writes a config with a short lease, so a dead daemon's tasks
// come back within seconds, and the shell handler allowed to run sh.
func faultConfig(t *testing.T) string {
	t.Helper()
	return writeFile(t, "config.yaml", "lease: 1500ms\nhandlers:\n  shell:\n    allow: [sh]\n")
}

func healthz(url string) int {
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestKilledDaemonsTasksRunAgainElsewhere(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	cfg := faultConfig(t)
	log := filepath.Join(t.TempDir(), "starts.log")
	a := startDaemon(t, r.URL, "--workers", "4", "--config", cfg)
	var ids []string
	for range 4 {
		args := fmt.Sprintf(`{"cmd":["sh","-c","echo \"$DUEQ_TASK_ID\" >> %s; sleep 2"]}`, log)
		ids = append(ids, post(t, a.URL, map[string]any{"name": "shell", "args": json.RawMessage(args)}).ID)
	}
	require.Eventually(t, func() bool { return len(runs(t, log)) == 4 }, 20*time.Second, 10*time.Millisecond)
	a.kill9(t) // with all four running

	b := startDaemon(t, r.URL, "--workers", "4", "--config", cfg)
	for _, id := range ids {
		rec := waitDone(t, b.URL, id)
		require.Equal(t, "succeeded", rec.State, "task %s: %s", id, rec.Error)
		require.Equal(t, 1, rec.Recoveries, "task %s", id)
		require.Equal(t, 1, rec.Attempts, "a recovery does not use up an attempt")
	}
	n := runs(t, log)
	for _, id := range ids {
		require.Equal(t, 2, n[id], "task %s started on both daemons", id)
	}
}

func TestRedisRestartMidLoadLosesNothing(t *testing.T) {
	t.Parallel()
	r := startRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	d := startDaemon(t, r.URL, "--workers", "4", "--config", faultConfig(t))
	var ids []string
	for i := range 150 {
		ids = append(ids, post(t, d.URL, map[string]any{"name": "echo", "args": map[string]int{"n": i},
			"in": fmt.Sprintf("%dms", i*10)}).ID) // due over 1.5 s
	}
	r.restart(t) // SIGKILL mid-load; appendonly keeps every acknowledged write
	require.Eventually(t, func() bool { return healthz(d.URL) == http.StatusOK }, 30*time.Second, 20*time.Millisecond)
	for _, id := range ids {
		rec := waitDone(t, d.URL, id)
		require.Equal(t, "succeeded", rec.State, "task %s: %s", id, rec.Error)
	}
}

func TestHealthzReportsARedisOutage(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	d := startDaemon(t, r.URL, "--config", faultConfig(t))
	require.Equal(t, http.StatusOK, healthz(d.URL))
	r.stop()
	require.Eventually(t, func() bool { return healthz(d.URL) == http.StatusServiceUnavailable }, 10*time.Second, 20*time.Millisecond,
		"the API stays up and says Redis is down")
	r.start(t, r.path, r.extra...)
	require.Eventually(t, func() bool { return healthz(d.URL) == http.StatusOK }, 30*time.Second, 20*time.Millisecond)
	out := mustDueq(t, d.URL, "submit", "echo", `{"after":"outage"}`, "--wait")
	require.Contains(t, out, "outage")
}

func TestKill9UnderLoadEveryTaskSucceedsOnce(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	cfg := faultConfig(t)
	var ds []*daemon
	for range 3 {
		ds = append(ds, startDaemon(t, r.URL, "--workers", "4", "--config", cfg))
	}
	rdb := r.client(t)
	cl, err := client.New(rdb, client.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cl.Close() })
	const n = 2000
	ctx := context.Background()
	for i := range n {
		_, err := cl.Submit(ctx, tasks.Spec{Name: "sleep", Args: json.RawMessage(`{"ms":5}`),
			In: time.Duration(i) * 2 * time.Millisecond}) // due over 4 s
		require.NoError(t, err)
	}
	succeeded := func() int64 { return finished(t, rdb, tasks.Succeeded) }
	for round := range 2 { // kill a daemon mid-load, twice, and bring it back
		require.Eventually(t, func() bool { return succeeded() >= int64(n*(round+1)/3) }, 60*time.Second, 10*time.Millisecond)
		ds[round].kill9(t)
		ds[round].start(t)
	}
	require.Eventually(t, func() bool { return succeeded() == n }, 90*time.Second, 20*time.Millisecond,
		"succeeded %d of %d", succeeded(), n)
	st, err := cl.Stats(ctx)
	require.NoError(t, err)
	require.Zero(t, st.States[tasks.Failed])
	require.Zero(t, st.States[tasks.Scheduled]+st.States[tasks.Running])
}

func TestGracefulStopHandsRunningTasksBack(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	cfg := writeFile(t, "config.yaml", "shutdown_grace: 300ms\n")
	a := startDaemon(t, r.URL, "--config", cfg)
	// Long enough that a loaded machine's slow polls still see it running.
	id := mustDueq(t, a.URL, "submit", "sleep", `{"ms":12000}`)
	require.Eventually(t, func() bool {
		var rec record
		res := dueq(t, a.URL, "status", id, "--json") // no require here: Eventually's own goroutine
		return res.Code == 0 && json.Unmarshal([]byte(res.Stdout), &rec) == nil && rec.State == "running"
	}, 30*time.Second, 20*time.Millisecond)
	b := startDaemon(t, r.URL, "--config", cfg)
	a.stop(t) // SIGTERM: exits 0 after the grace, handing the task back
	rec := waitDone(t, b.URL, id)
	require.Equal(t, "succeeded", rec.State)
	require.Equal(t, 1, rec.Attempts, "a hand-back gives the attempt back")
	require.Zero(t, rec.Recoveries, "no lease had to expire")
}
