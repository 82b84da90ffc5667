package tests

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/tasks"
)

// `dueq pause` stops claims on every daemon of a fleet the moment it
// returns, and `dueq resume` restarts them: three daemons on one Redis, a
// stream of due tasks, none started after the pause returned, none lost,
// each run once.
func TestPauseStopsEveryDaemonAndResumeRestartsThem(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	var ds []*daemon
	for range 3 {
		ds = append(ds, startDaemon(t, r.URL, "--workers", "4"))
	}
	rdb := r.client(t)
	cl, err := client.New(rdb, client.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cl.Close() })
	ctx := context.Background()
	specs := make([]tasks.Spec, 300)
	for i := range specs {
		specs[i] = tasks.Spec{Name: "sleep", Args: json.RawMessage(`{"ms":2}`), In: time.Duration(i) * 20 * time.Millisecond} // due over 6 s
	}
	ts, err := cl.SubmitMany(ctx, specs)
	require.NoError(t, err)
	started := func() (n int, last time.Time) {
		for _, task := range ts {
			got, err := cl.Get(ctx, task.ID)
			require.NoError(t, err)
			if !got.StartedAt.IsZero() {
				n++
				if got.StartedAt.After(last) {
					last = got.StartedAt
				}
			}
		}
		return n, last
	}
	require.Eventually(t, func() bool {
		st, err := cl.Stats(ctx)
		return err == nil && st.States[tasks.Succeeded] >= 30
	}, 30*time.Second, 10*time.Millisecond)
	mustDueq(t, ds[1].URL, "pause", "default")
	paused := time.Now()
	n, last := started()
	require.Less(t, n, len(ts), "paused before the stream ended")
	require.False(t, last.After(paused), "a task started at %s, after the pause returned at %s", last, paused)
	out := mustDueq(t, ds[2].URL, "queues")
	require.Regexp(t, `default\s+\d+\s+\d+\s+yes`, out, "every daemon's API sees it paused")
	require.Eventually(t, func() bool {
		q, err := cl.Queues(ctx)
		return err == nil && len(q) == 1 && q[0].Running == 0
	}, 10*time.Second, 10*time.Millisecond, "its running tasks finish")
	again, _ := started()
	require.Equal(t, n, again, "nothing started while paused, on any daemon")

	require.Contains(t, mustDueq(t, ds[0].URL, "resume", "default"), "no")
	for _, task := range ts {
		rec := waitDone(t, ds[0].URL, task.ID)
		require.Equal(t, "succeeded", rec.State)
	}
	for _, task := range ts {
		got, err := cl.Get(ctx, task.ID)
		require.NoError(t, err)
		require.Equal(t, 1, got.Attempts, "task %s ran once", got.ID)
		require.Zero(t, got.Recoveries)
	}
	require.False(t, strings.Contains(mustDueq(t, ds[0].URL, "stats"), "yes"), "no queue is paused now")
}
