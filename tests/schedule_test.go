package tests

import (
	"encoding/json"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestScheduleFiresEachSlotOnceOnThreeDaemons(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	cfg := shellConfig(t)
	log := filepath.Join(t.TempDir(), "runs.log")
	var ds []*daemon
	for range 3 {
		ds = append(ds, startDaemon(t, r.URL, "--workers", "2", "--config", cfg))
	}
	sid := mustDueq(t, ds[0].URL, "submit", "shell", string(appendTask(log)), "--every", "1s")
	require.Eventually(t, func() bool { return len(runs(t, log)) >= 5 }, 20*time.Second, 20*time.Millisecond)
	mustDueq(t, ds[1].URL, "cancel", sid)

	n := runs(t, log)
	ids := make([]string, 0, len(n))
	for id, count := range n {
		require.Equal(t, 1, count, "slot %s ran %d times", id, count)
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var fires []int64
	for _, id := range ids {
		s, ms, ok := strings.Cut(id, "-")
		require.True(t, ok, id)
		require.Equal(t, sid, s)
		f, err := strconv.ParseInt(ms, 10, 64)
		require.NoError(t, err)
		fires = append(fires, f)
		var rec record
		require.NoError(t, json.Unmarshal([]byte(mustDueq(t, ds[2].URL, "status", id, "--json")), &rec))
		require.NotNil(t, rec.StartedAt)
		late := rec.StartedAt.Sub(rec.DueAt)
		require.GreaterOrEqual(t, late, time.Duration(0), "slot %s started early", id)
		require.Less(t, late, time.Second, "slot %s started %s late", id, late)
		t.Logf("slot %s started %s after its time", id, late)
	}
	for i := 1; i < len(fires); i++ {
		require.EqualValues(t, 1000, fires[i]-fires[i-1], "slots are exactly 1 s apart")
	}

	// Canceled: after a slot and a half, no new slot has run.
	mustDueq(t, ds[0].URL, "submit", "echo", "--in", "1500ms", "--wait")
	after := len(runs(t, log))
	mustDueq(t, ds[0].URL, "submit", "echo", "--in", "1500ms", "--wait")
	require.Equal(t, after, len(runs(t, log)))
	require.LessOrEqual(t, after, len(n)+1, "at most the slot running at the cancel finished")
}

func TestConfigSchedulesUpsertOnRestart(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	cfg := writeFile(t, "config.yaml", "schedules:\n  - {name: hourly-report, task: echo, args: {report: true}, cron: \"@hourly\"}\n")
	a := startDaemon(t, r.URL, "--config", cfg)
	b := startDaemon(t, r.URL, "--config", cfg)
	type sched struct {
		ID     string    `json:"id"`
		Name   string    `json:"name"`
		Cron   string    `json:"cron"`
		NextAt time.Time `json:"next_at"`
	}
	list := func() []sched {
		var ss []sched
		require.NoError(t, json.Unmarshal([]byte(mustDueq(t, a.URL, "schedules", "--json")), &ss))
		return ss
	}
	first := list()
	require.Len(t, first, 1)
	require.Equal(t, "hourly-report", first[0].Name)
	require.Zero(t, first[0].NextAt.Minute())
	a.restart(t)
	b.restart(t)
	again := list()
	require.Len(t, again, 1, "restarts never duplicate a config schedule")
	require.Equal(t, first[0].ID, again[0].ID)
	scheduled := mustDueq(t, a.URL, "list", "--state", "scheduled", "--json")
	var recs []record
	require.NoError(t, json.Unmarshal([]byte(scheduled), &recs))
	require.Len(t, recs, 1, "one pending occurrence")
}
