package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/internal/testutil"
	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
)

// These tests hold the guarantees of README's "Guarantees and failure
// modes" and SPEC §3.3, §5 and §7 against the failure modes of the issue
// report: an outcome held back by busy loops, leases renewed by a daemon
// that lost them, Redis refusing writes, a retry that waits for the safety
// wait, skewed clocks, and the records of children decided by a parent.

// getRecord reads a task's record through the API.
func getRecord(t *testing.T, server, id string) record {
	t.Helper()
	resp, err := http.Get(server + "/api/v1/tasks/" + id)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET task %s", id)
	var rec record
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&rec))
	return rec
}

// statusJSON reads a task's record with `dueq status ID --json`.
func statusJSON(t *testing.T, server, id string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(mustDueq(t, server, "status", id, "--json")), &m))
	return m
}

// startDaemonEnv is startDaemon with extra environment variables (later
// entries override the harness's, e.g. DUEQ_LOG_LEVEL=info).
func startDaemonEnv(t *testing.T, env []string, redisURL string, extra ...string) *daemon {
	t.Helper()
	port := testutil.FreePort(t)
	d := &daemon{URL: "http://127.0.0.1:" + strconv.Itoa(port)}
	d.args = append([]string{"serve", "--http", "127.0.0.1:" + strconv.Itoa(port), "--redis", redisURL}, extra...)
	d.env = append(append(os.Environ(), "DUEQ_LOG_LEVEL=warn"), env...)
	d.start(t)
	t.Cleanup(func() { d.stop(t) })
	return d
}

// within polls cond until it holds or d has passed, and reports whether it
// held, for a test that words its own failure.
func within(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lines is an append log's lines, in order.
func lines(t *testing.T, log string) []string {
	t.Helper()
	b, err := os.ReadFile(log)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	return strings.Fields(string(b))
}

// Case 1: a task whose handler returned is written at once, even when every
// loop of its daemon is busy with a long task (SPEC §7: "A finished task's
// outcome is written as soon as its handler returns, whatever the other
// loops of its daemon are doing; its lease is renewed until then").
func TestAFinishedTaskIsWrittenWhileEveryLoopIsBusy(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	cfg := writeFile(t, "config.yaml", "lease: 1500ms\nshutdown_grace: 200ms\nhandlers:\n  shell:\n    allow: [sh]\n")
	log := filepath.Join(t.TempDir(), "starts.log")
	d := startDaemon(t, r.URL, "--workers", "2", "--config", cfg)

	const long = 8 * time.Second
	// A holds its loop until the test opens the gate, so the order of
	// events does not depend on timing: A is running when its child is
	// submitted, and both long sleeps are in before A's handler returns.
	gate := filepath.Join(t.TempDir(), "gate")
	a := mustDueq(t, d.URL, "submit", "shell",
		fmt.Sprintf(`{"cmd":["sh","-c","echo \"$DUEQ_TASK_ID\" >> %s; while [ ! -e %s ]; do sleep 0.05; done"]}`, log, gate))
	require.Eventually(t, func() bool { return len(runs(t, log)) == 1 }, 10*time.Second, 10*time.Millisecond, "A starts")
	child := mustDueq(t, d.URL, "submit", "echo", "--after", a)
	var longs []string
	for range 2 {
		longs = append(longs, mustDueq(t, d.URL, "submit", "sleep", fmt.Sprintf(`{"ms":%d}`, long.Milliseconds())))
	}
	require.Eventually(t, func() bool { return getRecord(t, d.URL, longs[0]).State == "running" }, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, "scheduled", getRecord(t, d.URL, longs[1]).State, "the second long sleep waits for a free loop")
	require.NoError(t, os.WriteFile(gate, nil, 0o600)) // A's handler returns now
	opened := time.Now()
	// Both loops are now busy: one with the first long sleep, the other
	// with the second as soon as A's handler returned.
	require.Eventually(t, func() bool { return getRecord(t, d.URL, longs[1]).State == "running" }, 10*time.Second, 10*time.Millisecond,
		"the second long sleep takes A's loop")

	// A's outcome is written well before a loop is free again (the long
	// sleeps end about 8 s after they started).
	var rec record
	ok := within(long/2, func() bool {
		rec = getRecord(t, d.URL, a)
		return rec.State == "succeeded"
	})
	require.True(t, ok, "A's handler returned, but %s later A is still %q (attempts %d, recoveries %d): "+
		"its outcome waits for a free loop", time.Since(opened).Round(100*time.Millisecond), rec.State, rec.Attempts, rec.Recoveries)
	require.Equal(t, 1, rec.Attempts, "A ran one attempt")
	require.Zero(t, rec.Recoveries, "A's lease never expired: it was renewed until its outcome was written")

	// Its child was released (scheduled, no longer waiting) with A's outcome
	// before the long sleeps end; it runs once a loop is free.
	crec := getRecord(t, d.URL, child)
	require.NotEqual(t, "waiting", crec.State, "A's outcome reached its child")
	require.Less(t, time.Since(opened), long, "all of the above happened while both loops were busy")
	crec = waitDone(t, d.URL, child)
	require.Equal(t, "succeeded", crec.State, crec.Error)
	var res echoParents
	require.NoError(t, json.Unmarshal(crec.Result, &res))
	require.Len(t, res.Parents, 1)
	require.Equal(t, "succeeded", res.Parents[0].State)
	for _, id := range longs {
		require.Equal(t, "succeeded", waitDone(t, d.URL, id).State)
	}
	require.Equal(t, 1, runs(t, log)[a], "A ran exactly once")
	rec = getRecord(t, d.URL, a)
	require.Zero(t, rec.Recoveries)
}

// Case 3: a lease belongs to one claim. Daemon A is frozen (SIGSTOP) past
// its lease, daemon B re-claims the task, A is thawed, and B is killed:
// the task must be recovered about one lease after B died, because A may
// not renew a lease it lost; and A's late outcome is not recorded over the
// claim that followed.
func TestAThawedDaemonNeitherRenewsNorFinishesALeaseItLost(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	const lease = 2 * time.Second
	cfg := writeFile(t, "config.yaml", "lease: 2s\nshutdown_grace: 200ms\nhandlers:\n  shell:\n    allow: [sh]\n")
	dir := t.TempDir()
	log := filepath.Join(dir, "starts.log")
	firstPid := filepath.Join(dir, "first.pid")
	// Start 1 (on A) notes its pid, sleeps 12 s and then says "first"; start
	// 2 (on B) sleeps until B is killed; start 3 says "third" at once.
	script := fmt.Sprintf(`echo "$DUEQ_TASK_ID" >> %[1]s; n=$(wc -l < %[1]s); `+
		`case $n in 1) echo $$ > %[2]s; sleep 12; echo first;; 2) sleep 20;; *) echo third;; esac`, log, firstPid)
	args, err := json.Marshal(map[string]any{"cmd": []string{"sh", "-c", script}})
	require.NoError(t, err)

	a := startDaemon(t, r.URL, "--workers", "2", "--config", cfg)
	t.Cleanup(func() { _ = a.cmd.Process.Signal(syscall.SIGCONT) }) // never leave A frozen
	id := post(t, a.URL, map[string]any{"name": "shell", "args": json.RawMessage(args)}).ID
	require.Eventually(t, func() bool { return len(lines(t, log)) == 1 }, 20*time.Second, 10*time.Millisecond, "A starts the task")
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGSTOP))
	b := startDaemon(t, r.URL, "--workers", "2", "--config", cfg)
	require.Eventually(t, func() bool { return len(lines(t, log)) == 2 }, 20*time.Second, 10*time.Millisecond,
		"B re-claims the task once A's lease expired")
	rec := getRecord(t, b.URL, id)
	require.Equal(t, 1, rec.Recoveries, "B's start is a recovery")

	require.NoError(t, a.cmd.Process.Signal(syscall.SIGCONT))
	b.kill9(t)
	killed := time.Now()
	// B's last renewal holds the lease for at most one lease; A, whose
	// first start is still running, must not renew it (it lost that claim).
	bound := 3 * lease
	ok := within(bound, func() bool { return len(lines(t, log)) >= 3 })
	require.True(t, ok, "no third start within %s of killing B (lease %s): the thawed daemon A keeps renewing a lease it lost; starts so far: %d",
		bound, lease, len(lines(t, log)))
	t.Logf("third start %s after B was killed", time.Since(killed).Round(10*time.Millisecond))
	rec = waitDone(t, a.URL, id)
	require.Equal(t, "succeeded", rec.State, rec.Error)
	require.Contains(t, string(rec.Result), "third")
	require.Equal(t, 2, rec.Recoveries)

	// A's first start ends (or A, knowing it lost the claim, ended it), long
	// after A lost its claim; then A stops, having written all it would.
	// Its late outcome is not written over the third start's.
	b2, err := os.ReadFile(firstPid)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b2)))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return syscall.Kill(pid, 0) != nil }, 30*time.Second, 20*time.Millisecond,
		"A's first start ends")
	a.stop(t)
	cl, err := client.New(r.client(t), client.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cl.Close() })
	final, err := cl.Get(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, tasks.Succeeded, final.State)
	require.Contains(t, string(final.Result), "third")
	require.NotContains(t, string(final.Result), "first", "A's late outcome was written over the claim that followed")
	require.Equal(t, 2, final.Recoveries)
	require.Len(t, lines(t, log), 3)
}

// Case 4: Redis out of memory (maxmemory, noeviction) refuses writes. Nothing
// is re-queued or re-run because of the refusal, the error says what Redis
// said, and the daemon backs off without flooding its log.
func TestRedisOutOfMemoryReRunsNothingAndSaysSo(t *testing.T) {
	t.Parallel()
	r := startRedis(t, "--maxmemory", "8mb", "--maxmemory-policy", "noeviction")
	cfg := writeFile(t, "config.yaml", "lease: 1500ms\nshutdown_grace: 200ms\nhandlers:\n  shell:\n    allow: [sh]\n")
	log := filepath.Join(t.TempDir(), "starts.log")
	d := startDaemonEnv(t, []string{"DUEQ_LOG_LEVEL=info"}, r.URL, "--workers", "2", "--config", cfg)
	const lease = 1500 * time.Millisecond

	// Both tasks run until the test opens the gate, which it does once Redis
	// is full: their outcomes are refused, and their leases not renewed.
	gate, ended := filepath.Join(t.TempDir(), "gate"), filepath.Join(t.TempDir(), "ended.log")
	var ids []string
	for range 2 {
		args := fmt.Sprintf(`{"cmd":["sh","-c","echo \"$DUEQ_TASK_ID\" >> %s; while [ ! -e %s ]; do sleep 0.05; done; echo \"$DUEQ_TASK_ID\" >> %s"]}`,
			log, gate, ended)
		ids = append(ids, post(t, d.URL, map[string]any{"name": "shell", "args": json.RawMessage(args)}).ID)
	}
	require.Eventually(t, func() bool { return len(runs(t, log)) == 2 }, 20*time.Second, 10*time.Millisecond, "both tasks start")

	// Fill Redis to its maxmemory, then lower maxmemory a little below what
	// is used, so that Redis stays full however the client buffers it
	// counts come and go.
	ctx := context.Background()
	rdb := r.client(t)
	var filler []string
	big := strings.Repeat("x", 64<<10)
	for i := 0; ; i++ {
		require.Less(t, i, 10000, "Redis never refused a write")
		key := fmt.Sprintf("filler:%d", i)
		err := rdb.Set(ctx, key, big, 0).Err()
		if err != nil {
			require.Contains(t, err.Error(), "OOM", "filling Redis")
			break
		}
		filler = append(filler, key)
	}
	used := usedMemory(t, rdb)
	require.NoError(t, rdb.ConfigSet(ctx, "maxmemory", strconv.FormatInt(used-(1<<20), 10)).Err())
	require.ErrorContains(t, rdb.Set(ctx, "probe", "x", 0).Err(), "OOM", "Redis refuses writes")
	full := time.Now()
	logAtFull := len(d.out.String())
	require.NoError(t, os.WriteFile(gate, nil, 0o600)) // both handlers return now
	require.Eventually(t, func() bool { return len(runs(t, ended)) == 2 }, 10*time.Second, 10*time.Millisecond, "both handlers return")

	// A submit while Redis is full fails, saying why.
	res := dueq(t, d.URL, "submit", "echo", `{"while":"full"}`)
	assert.NotZero(t, res.Code, "a refused submit is an error")
	assert.Contains(t, strings.ToLower(res.Stderr), "out of memory", "the error says what Redis said")

	// Stay full for more than two lease lengths: long enough for a lease
	// that was not renewed to be taken. (The daemon renews its leases even
	// now: Redis runs its heartbeat when full.)
	require.Eventually(t, func() bool { return time.Since(full) > 2*lease+500*time.Millisecond },
		20*time.Second, 50*time.Millisecond)
	fullFor := time.Since(full)
	fullLog := d.out.String()[logAtFull:]
	flood := 0
	for _, l := range strings.Split(fullLog, "\n") {
		if strings.Contains(l, "retrying") || strings.Contains(l, "reachable again") {
			flood++
		}
	}
	limit := int(fullFor/time.Second)*2 + 2 // a backoff logs a few lines, not one per call
	assert.LessOrEqual(t, flood, limit, "the daemon logged %d retrying/reachable-again lines in %s while Redis was full:\n%.3000s",
		flood, fullFor.Round(100*time.Millisecond), fullLog)

	// Free the memory.
	require.NoError(t, rdb.Del(ctx, filler...).Err())
	for _, id := range ids {
		rec := waitDone(t, d.URL, id)
		assert.Equal(t, "succeeded", rec.State, "task %s: %s", id, rec.Error)
		assert.Zero(t, rec.Recoveries, "task %s was re-queued because Redis refused writes", id)
	}
	n := runs(t, log)
	for _, id := range ids {
		assert.Equal(t, 1, n[id], "task %s ran %d times", id, n[id])
	}
}

// usedMemory is the used_memory of INFO memory.
func usedMemory(t *testing.T, rdb redis.UniversalClient) int64 {
	t.Helper()
	info, err := rdb.Info(context.Background(), "memory").Result()
	require.NoError(t, err)
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatalf("no used_memory in INFO memory:\n%s", info)
	return 0
}

// retryTask retries a task through the API and returns when it answered.
func retryTask(t *testing.T, server, id string) time.Time {
	t.Helper()
	resp, err := http.Post(server+"/api/v1/tasks/"+id+"/retry", "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Less(t, resp.StatusCode, 300, "retry %s", id)
	return time.Now()
}

// requireStartsPromptly requires the retried task id to start within 1.5 s
// of its retry: the retry announces it, so no daemon waits for the safety
// wait (5 s) to see it.
func requireStartsPromptly(t *testing.T, server, id string, retried time.Time) {
	t.Helper()
	var rec record
	ok := within(1500*time.Millisecond, func() bool {
		rec = getRecord(t, server, id)
		return rec.StartedAt != nil
	})
	if !ok {
		rec = waitDone(t, server, id)
		late := "never"
		if rec.StartedAt != nil {
			late = rec.StartedAt.Sub(retried).Round(10 * time.Millisecond).String()
		}
		require.Fail(t, "the retried task did not start within 1.5s of its retry",
			"it started %s after the retry (state %s)", late, rec.State)
	}
}

// Case 8: a task canceled before it ran, the only one in its queue, is
// retried: it starts at once, not at the dispatcher's safety wait. (A task
// canceled while it ran and then retried starts at once already: no daemon
// holds a stale head entry for it.)
func TestARetriedTaskCanceledBeforeItRanStartsAtOnce(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	d := startDaemon(t, r.URL, "--workers", "2")
	id := mustDueq(t, d.URL, "submit", "echo", `{"retried":true}`, "--in", "1h")
	mustDueq(t, d.URL, "cancel", id)
	require.Equal(t, "canceled", getRecord(t, d.URL, id).State)
	requireStartsPromptly(t, d.URL, id, retryTask(t, d.URL, id))
	require.Equal(t, "succeeded", waitDone(t, d.URL, id).State)
}

// Case 6: a child decided by its parent never ran its handler: attempts 0
// and no started_at (SPEC §3.3).
func TestAChildDecidedByItsParentShowsNoAttemptAndNoStart(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	d := startDaemon(t, r.URL)

	bad := mustDueq(t, d.URL, "submit", "sleep", `{"ms":-1}`, "--in", "300ms")
	failedChild := mustDueq(t, d.URL, "submit", "echo", "--after", bad, "--on-parent-failure", "fail")
	later := mustDueq(t, d.URL, "submit", "echo", "--in", "1h")
	canceledChild := mustDueq(t, d.URL, "submit", "echo", "--after", later)
	mustDueq(t, d.URL, "cancel", later)

	for _, c := range []struct{ id, state string }{{failedChild, "failed"}, {canceledChild, "canceled"}} {
		require.Equal(t, 1, dueq(t, d.URL, "wait", c.id).Code)
		m := statusJSON(t, d.URL, c.id)
		require.Equal(t, c.state, m["state"], c.id)
		require.Contains(t, m["error"], "parent ")
		assert.EqualValues(t, 0, m["attempts"], "%s child %s never ran its handler, yet its record says attempts %v", c.state, c.id, m["attempts"])
		assert.Nil(t, m["started_at"], "%s child %s never ran its handler, yet its record has started_at %v", c.state, c.id, m["started_at"])
	}
}

// Case 7: on_parent_failure run means the child runs however its parents
// ended, canceled included, and sees the parent's outcome (SPEC §5).
func TestARunPolicyChildOfACanceledParentRuns(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	d := startDaemon(t, r.URL)
	parent := mustDueq(t, d.URL, "submit", "echo", "--in", "1h")
	child := mustDueq(t, d.URL, "submit", "echo", `{"child":true}`, "--after", parent, "--on-parent-failure", "run")
	mustDueq(t, d.URL, "cancel", parent)
	w := dueq(t, d.URL, "wait", child)
	rec := getRecord(t, d.URL, child)
	require.Equal(t, 0, w.Code, "the child of a canceled parent under on_parent_failure run ends %s (%s) instead of running", rec.State, rec.Error)
	require.Equal(t, "succeeded", rec.State)
	var res echoParents
	require.NoError(t, json.Unmarshal(rec.Result, &res))
	require.Len(t, res.Parents, 1)
	require.Equal(t, parent, res.Parents[0].ID)
	require.Equal(t, "canceled", res.Parents[0].State)
}

// offsetClock is the system clock moved by a fixed offset.
type offsetClock time.Duration

func (o offsetClock) Now() time.Time { return time.Now().Add(time.Duration(o)) }

// starts records each handler start by task id, at the real time (which is
// Redis's: the test and its redis-server share the machine's clock).
type starts struct {
	mu sync.Mutex
	at map[string][]time.Time
}

func (s *starts) handler(hold time.Duration) tasks.Handler {
	return func(ctx context.Context, c *tasks.Call) (any, error) {
		s.mu.Lock()
		if s.at == nil {
			s.at = map[string][]time.Time{}
		}
		s.at[c.Task.ID] = append(s.at[c.Task.ID], time.Now())
		s.mu.Unlock()
		select {
		case <-time.After(hold):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return "ok", nil
	}
}

func (s *starts) of(id string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.at[id]...)
}

// startScheduler runs a scheduler in this process on r with clock and
// lease, stopped at the end of the test.
func startScheduler(t *testing.T, r *redisServer, reg *tasks.Registry, clock scheduler.Clock, lease time.Duration) *scheduler.Scheduler {
	t.Helper()
	logs := &testutil.SyncBuffer{}
	t.Cleanup(func() { // runs after the scheduler stopped
		if t.Failed() {
			t.Logf("scheduler log:\n%s", logs)
		}
	})
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	s, err := scheduler.New(rdb, reg, scheduler.Config{Workers: 4, Lease: lease, Clock: clock, ShutdownGrace: new(200 * time.Millisecond),
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
		_ = rdb.Close()
	})
	return s
}

// Case 2: Redis's clock decides. Daemons whose clocks are 3 s ahead and 3 s
// behind share a Redis: no task starts before its due time, and each runs
// once.
func TestSkewedDaemonClocksNeverStartATaskEarly(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	var s starts
	reg := tasks.NewRegistry()
	reg.Register("mark", s.handler(0))
	startScheduler(t, r, reg, offsetClock(3*time.Second), 0)
	startScheduler(t, r, reg, offsetClock(-3*time.Second), 0)
	cl, err := client.New(r.client(t), client.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cl.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	var ids []string
	for range 10 {
		tk, err := cl.Submit(ctx, tasks.Spec{Name: "mark", In: 5 * time.Second})
		require.NoError(t, err)
		ids = append(ids, tk.ID)
	}
	var early []string
	for _, id := range ids {
		rec, err := cl.Wait(ctx, id)
		require.NoError(t, err)
		require.Equal(t, tasks.Succeeded, rec.State, rec.Error)
		at := s.of(id)
		require.Len(t, at, 1, "task %s ran %d times", id, len(at))
		if at[0].Before(rec.DueAt) {
			early = append(early, fmt.Sprintf("%s %s early", id, rec.DueAt.Sub(at[0]).Round(time.Millisecond)))
		}
	}
	require.Empty(t, early, "tasks started before their due time by Redis's clock")
}

// Case 2, lease stealing: a daemon whose clock is 20 s ahead does not take
// the lease of a task a healthy daemon is running.
func TestADaemonWithAFastClockNeverStealsAHealthyLease(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	var s starts
	reg := tasks.NewRegistry()
	reg.Register("hold", s.handler(5*time.Second))
	startScheduler(t, r, reg, nil, 2*time.Second) // the healthy daemon, on the system clock
	cl, err := client.New(r.client(t), client.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cl.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	tk, err := cl.Submit(ctx, tasks.Spec{Name: "hold"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(s.of(tk.ID)) == 1 }, 10*time.Second, 10*time.Millisecond, "the healthy daemon starts it")

	startScheduler(t, r, reg, offsetClock(20*time.Second), 2*time.Second) // joins while the task runs
	rec, err := cl.Wait(ctx, tk.ID)
	require.NoError(t, err)
	assert.Zero(t, rec.Recoveries, "the task's lease was taken from the healthy daemon running it (recoveries %d)", rec.Recoveries)
	assert.Equal(t, 1, len(s.of(tk.ID)), "the task ran %d times", len(s.of(tk.ID)))
	assert.Equal(t, tasks.Succeeded, rec.State, rec.Error)
}
