package tests

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// A Redis that evicts keys (maxmemory-policy allkeys-lru, with
// redis.allow_eviction: true) can drop a task's record while the index
// still names the task. These tests delete the record by hand, as an
// eviction would, and check that the task does not disappear.

// statusOf polls `dueq status ID --json` until the task's record exists in
// state, and returns it.
func statusOf(t *testing.T, server, id, state string) record {
	t.Helper()
	var rec record
	require.Eventually(t, func() bool {
		r := dueq(t, server, "status", id, "--json")
		if r.Code != 0 {
			return false // its record is gone, for now
		}
		rec = record{}
		require.NoError(t, json.Unmarshal([]byte(r.Stdout), &rec), r.Stdout)
		return rec.State == state
	}, 30*time.Second, 20*time.Millisecond, "task %s never reached %s (last: %+v)", id, state, rec)
	return rec
}

// deleteRecord deletes task id's record, as an eviction would, and returns
// the state it was in, read in the same atomic step.
func deleteRecord(t *testing.T, rdb redis.UniversalClient, id string) string {
	t.Helper()
	ctx := context.Background()
	var state *redis.StringCmd
	_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		state = p.HGet(ctx, "{dueq}:t:"+id, "state")
		p.Del(ctx, "{dueq}:t:"+id)
		return nil
	})
	require.NoError(t, err, "the record was there to delete")
	return state.Val()
}

// A scheduled task whose record vanished is failed at its due time, saying
// why, and `dueq wait` says it failed.
func TestScheduledTaskWhoseRecordVanishedFails(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	d := startDaemon(t, r.URL)
	rdb := r.client(t)

	id := mustDueq(t, d.URL, "submit", "echo", `{"a":1}`, "--in", "2s")
	require.Equal(t, "scheduled", deleteRecord(t, rdb, id), "deleted before it was due")

	rec := statusOf(t, d.URL, id, "failed")
	require.Contains(t, rec.Error, "its record vanished from Redis while it was scheduled")
	require.Zero(t, rec.Attempts, "it never ran")
	res := dueq(t, d.URL, "wait", id)
	require.Equal(t, 1, res.Code, "stdout: %s\nstderr: %s", res.Stdout, res.Stderr)
	require.Contains(t, d.out.String(), "a task's record vanished from Redis while it was scheduled")
}

// A running parent whose record vanished keeps running past its daemon's
// heartbeats; its outcome is written anew when it ends, and its waiting
// child still runs and sees it.
func TestRunningParentWhoseRecordVanishedStillReleasesItsChild(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	// A short lease: the parent outlives several heartbeats and leases.
	d := startDaemon(t, "", "--config", writeFile(t, "config.yaml", "redis:\n  url: "+r.URL+"\nlease: 900ms\n"))
	rdb := r.client(t)

	// Each CLI run takes a second (the race detector's pause at exit): the
	// parent sleeps long enough to be deleted while it runs and to outlive
	// several leases after that.
	// The child is submitted once the parent runs, so a slow CLI run (a
	// loaded machine) cannot let the parent finish before it is seen
	// running.
	parent := mustDueq(t, d.URL, "submit", "sleep", `{"ms":8000}`)
	require.Eventually(t, func() bool {
		return rdb.HGet(context.Background(), "{dueq}:t:"+parent, "state").Val() == "running"
	}, 30*time.Second, time.Millisecond)
	child := mustDueq(t, d.URL, "submit", "echo", `{"c":1}`, "--after", parent)
	require.Equal(t, "running", deleteRecord(t, rdb, parent), "deleted while it ran")

	out := mustDueq(t, d.URL, "wait", child)
	var res echoParents
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.JSONEq(t, `{"c":1}`, string(res.Args))
	require.Len(t, res.Parents, 1)
	require.Equal(t, parent, res.Parents[0].ID)
	require.Equal(t, "succeeded", res.Parents[0].State)
	require.JSONEq(t, `{"slept_ms":8000}`, string(res.Parents[0].Result))
	require.Contains(t, res.Parents[0].Error, "its record vanished from Redis while it ran")

	rec := statusOf(t, d.URL, parent, "succeeded")
	require.Contains(t, rec.Error, "its record vanished from Redis while it ran (evicted, or deleted by hand): only its outcome was kept")
	require.Zero(t, rec.Recoveries, "no lease expired: its daemon kept it")
	require.NotContains(t, d.out.String(), "lost the claim")
	require.Contains(t, d.out.String(), "a task's record vanished from Redis while it ran; its outcome was written anew")
}
