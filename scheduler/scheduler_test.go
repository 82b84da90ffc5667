package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/internal/testutil"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

func TestSubmitRunsAndStoresResult(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 2})
	e.start()
	task := e.submit(tasks.Spec{Name: "record", Args: json.RawMessage(`{"a":1}`)})
	require.Equal(t, tasks.Scheduled, task.State)
	done := e.wait(task.ID, 5*time.Second)
	require.Equal(t, tasks.Succeeded, done.State)
	require.JSONEq(t, `{"a":1}`, string(done.Result))
	require.Equal(t, 1, done.Attempts)
	require.False(t, done.StartedAt.IsZero())
	require.False(t, done.FinishedAt.IsZero())
	require.Equal(t, 1, e.runs.count(task.ID))
}

func TestFleetClaimsEachTaskExactlyOnce(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 4})
	for range 3 {
		e.start()
	}
	var ids []string
	for i := range 300 {
		ids = append(ids, e.submit(tasks.Spec{Name: "record", Args: json.RawMessage(fmt.Sprint(i))}).ID)
	}
	for _, id := range ids {
		require.Equal(t, tasks.Succeeded, e.wait(id, 10*time.Second).State)
	}
	for _, id := range ids {
		require.Equal(t, 1, e.runs.count(id), "task %s", id)
	}
}

func TestDelayedTaskRunsNotBeforeItsDueTime(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 2})
	e.start()
	task := e.submit(tasks.Spec{Name: "record", In: 300 * time.Millisecond})
	done := e.wait(task.ID, 5*time.Second)
	require.Equal(t, tasks.Succeeded, done.State)
	require.False(t, done.StartedAt.Before(done.DueAt), "started %s before due %s", done.StartedAt, done.DueAt)
}

func TestEarlierTaskInterruptsALongerWait(t *testing.T) {
	t.Parallel()
	// With a one-minute safety cap and a head an hour out, only the
	// announcement of the new head can wake the loop in time.
	e := setup(t, Config{Workers: 1, SafetyWait: time.Minute})
	e.submit(tasks.Spec{Name: "record", In: time.Hour})
	s := e.start()
	require.Eventually(t, func() bool { return s.Counters().Resubscribes >= 1 && s.disp.idleWaiting() },
		5*time.Second, time.Millisecond)
	now := e.submit(tasks.Spec{Name: "record"})
	require.Equal(t, tasks.Succeeded, e.wait(now.ID, 10*time.Second).State)
	c := s.Counters()
	require.Positive(t, c.Announced)
	require.Positive(t, c.MessageWakes)
	require.Zero(t, c.SafetyWakes)
}

func TestLostAnnouncementDelaysATaskOnlyUpToTheSafetyCap(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1, SafetyWait: 200 * time.Millisecond})
	s := e.start()
	// Let one safety wake pass, so the subscription has settled, and the
	// re-read it causes: a task that re-read found would need no wake.
	require.Eventually(t, func() bool { return s.Counters().SafetyWakes > 0 && s.disp.idleWaiting() }, 5*time.Second, time.Millisecond)
	before := s.Counters().SafetyWakes
	// The real submit script, with its announcement sent where nobody
	// listens: a hook renames the channels it is given.
	elsewhere, _ := store.NewKeys("elsewhere")
	rdb := redis.NewClient(&redis.Options{Addr: e.mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	rdb.AddHook(testutil.PipelineGate{Before: func(cmds []redis.Cmder) {
		for _, c := range cmds {
			for i, a := range c.Args() {
				switch a {
				case e.keys.Announce(""):
					c.Args()[i] = elsewhere.Announce("")
				case e.keys.EventsChannel():
					c.Args()[i] = elsewhere.EventsChannel()
				}
			}
		}
	}})
	c, err := client.New(rdb, clientConfig(e.cfg))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	task, err := c.Submit(context.Background(), tasks.Spec{Name: "record"})
	require.NoError(t, err)
	require.Equal(t, tasks.Succeeded, e.wait(task.ID, 10*time.Second).State)
	require.Greater(t, s.Counters().SafetyWakes, before)
	require.Zero(t, s.Counters().Announced)
}

func TestSameMillisecondTasksRunInSubmitOrder(t *testing.T) {
	t.Parallel()
	at := time.Now().Add(200 * time.Millisecond).Truncate(time.Millisecond)
	e := setup(t, Config{Workers: 1})
	var ids []string
	for range 20 {
		ids = append(ids, e.submit(tasks.Spec{Name: "record", At: at}).ID)
	}
	e.start()
	for _, id := range ids {
		e.wait(id, 5*time.Second)
	}
	require.Equal(t, ids, e.runs.order())
}

func TestExpiredLeaseIsRecoveredWithoutUsingAnAttempt(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1})
	clk := e.fakeTime()
	task := e.submit(tasks.Spec{Name: "record"})
	// A daemon claims it and dies.
	got, _, err := e.claim("default", testClaimer(15*time.Second), 1, task.ID)
	require.NoError(t, err)
	require.Len(t, got, 1)
	s := e.start()
	advanceWhen(t, clk, 2, 15*time.Second+time.Millisecond)
	done := e.wait(task.ID, 10*time.Second)
	require.Equal(t, tasks.Succeeded, done.State)
	require.Equal(t, 1, done.Attempts)
	require.Equal(t, 1, done.Recoveries)
	require.EqualValues(t, 1, s.Counters().Recovered)
}

func TestRunningTaskLeaseIsRenewed(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1})
	clk := e.fakeTime()
	task := e.submit(tasks.Spec{Name: "block"})
	s := e.start()
	e.waitRun(task.ID, 5*time.Second)
	first, err := e.rdb.ZScore(context.Background(), e.keys.Lease("default"), task.ID).Result()
	require.NoError(t, err)
	advanceWhen(t, clk, 1, 5*time.Second) // a third of the lease: the renewal is due
	require.Eventually(t, func() bool {
		sc, err := e.rdb.ZScore(context.Background(), e.keys.Lease("default"), task.ID).Result()
		return err == nil && sc > first
	}, 5*time.Second, 10*time.Millisecond)
	require.Zero(t, s.Counters().Recovered)
	_, err = e.client.Cancel(context.Background(), task.ID)
	require.NoError(t, err)
}

func TestFinishedRecordAndKeyExpireAfterResultTTL(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1, ResultTTL: time.Hour})
	e.start()
	task := e.submit(tasks.Spec{Name: "record", Key: "nightly"})
	e.wait(task.ID, 5*time.Second)
	e.mr.FastForward(59 * time.Minute)
	_, err := e.client.Get(context.Background(), task.ID)
	require.NoError(t, err, "kept until the TTL")
	e.mr.FastForward(2 * time.Minute)
	_, err = e.client.Get(context.Background(), task.ID)
	require.ErrorIs(t, err, wire.ErrNotFound)
	again := e.submit(tasks.Spec{Name: "record", Key: "nightly"})
	require.NotEqual(t, task.ID, again.ID, "the key expired with the record")
}

func TestCancelBeforeDueMeansItNeverRuns(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1})
	clk := e.fakeTime() // however slow the machine, the cancel comes before the due time
	task := e.submit(tasks.Spec{Name: "record", In: time.Minute})
	e.start()
	rec, err := e.client.Cancel(context.Background(), task.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Canceled, rec.State)
	marker := e.submit(tasks.Spec{Name: "record", In: 2 * time.Minute})
	advanceWhen(t, clk, 2, 2*time.Minute)
	e.wait(marker.ID, 5*time.Second) // ran after the canceled task's due time
	require.Zero(t, e.runs.count(task.ID))
	_, err = e.client.Cancel(context.Background(), task.ID)
	require.ErrorIs(t, err, wire.ErrFinished)
	_, err = e.client.Cancel(context.Background(), "no-such-task")
	require.ErrorIs(t, err, wire.ErrNotFound)
}

func TestCancelRunningTaskCancelsItsHandler(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1})
	s := e.start()
	task := e.submit(tasks.Spec{Name: "block"})
	e.waitRun(task.ID, 5*time.Second)
	_, err := e.client.Cancel(context.Background(), task.ID)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return s.runningCount() == 0 }, 5*time.Second, time.Millisecond)
	rec, err := e.client.Get(context.Background(), task.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Canceled, rec.State)
	// The loop is free again.
	next := e.submit(tasks.Spec{Name: "record"})
	require.Equal(t, tasks.Succeeded, e.wait(next.ID, 5*time.Second).State)
}

func TestStopHandsRunningTasksBack(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1, ShutdownGrace: new(50 * time.Millisecond)})
	s, err := New(e.rdb, e.reg, e.cfg)
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	task := e.submit(tasks.Spec{Name: "block"})
	e.waitRun(task.ID, 5*time.Second)
	require.NoError(t, s.Stop(context.Background()))
	require.NoError(t, s.Stop(context.Background()), "a second Stop is harmless")
	rec, err := e.client.Get(context.Background(), task.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Scheduled, rec.State)
	require.Zero(t, rec.Attempts, "a hand-back gives the attempt back")
	require.EqualValues(t, 1, s.Counters().HandedBack)
	// Another daemon runs it at once.
	e.reg.Register("block", func(ctx context.Context, c *tasks.Call) (any, error) { return "second run", nil })
	e.start()
	require.Equal(t, tasks.Succeeded, e.wait(task.ID, 5*time.Second).State)
}

func TestStopBeforeStartIsHarmless(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	s, err := New(e.rdb, e.reg, e.cfg)
	require.NoError(t, err)
	require.NoError(t, s.Stop(context.Background()))
}

func TestCorruptRecordIsFailedAndDoesNotBlockTheQueue(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1})
	k := e.keys
	now := float64(time.Now().UnixMilli())
	e.mr.HSet(k.Task("bad-1"), "v", "99", "name", "record", "queue", "default", "state", "scheduled")
	_, err := e.mr.ZAdd(k.Due("default"), now-2, "bad-1")
	require.NoError(t, err)
	_, err = e.mr.ZAdd(k.Due("default"), now-1, "orphan-1") // no record at all
	require.NoError(t, err)
	good := e.submit(tasks.Spec{Name: "record"})
	e.start()
	require.Equal(t, tasks.Succeeded, e.wait(good.ID, 5*time.Second).State)
	rec := e.mr.HGet(k.Task("bad-1"), "state")
	require.Equal(t, "failed", rec)
	require.Contains(t, e.mr.HGet(k.Task("bad-1"), "error"), "format version")
	members, err := e.mr.ZMembers(k.Due("default"))
	if err == nil {
		require.NotContains(t, members, "orphan-1")
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	for cfg, want := range map[*Config]string{
		{Workers: -1}:                                   "workers",
		{Queues: []string{"a", "a"}}:                    "queues",
		{Queues: []string{"a b"}}:                       "queues",
		{Lease: time.Millisecond}:                       "lease",
		{Namespace: "bad ns"}:                           "namespace",
		{RetryBase: time.Minute, RetryCap: time.Second}: "retry",
	} {
		_, err := New(e.rdb, e.reg, *cfg)
		require.ErrorContains(t, err, want)
	}
}
