package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/store"
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

func TestClaimScriptGivesATaskToOneClaimer(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	task := e.submit(tasks.Spec{Name: "record"})
	var won atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, _, err := e.claim("default", testClaimer(time.Minute), 1, task.ID)
			if err == nil && len(got) == 1 {
				won.Add(1)
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, 1, won.Load())
	rec, err := e.client.Get(context.Background(), task.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Running, rec.State)
	require.EqualValues(t, 1, rec.Run)
}

func TestClaimSkipsTasksNotYetDue(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	task := e.submit(tasks.Spec{Name: "record", In: time.Hour})
	got, hs, err := e.claim("default", testClaimer(time.Minute), 1, task.ID)
	require.NoError(t, err)
	require.Empty(t, got)
	require.Len(t, hs, 1)
	require.Equal(t, task.ID, hs[0].ID)
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
	require.Eventually(t, func() bool { return s.Counters().Resubscribes >= 2 && s.disp.idleWaiting() },
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
	task := newTask(tasks.Spec{Name: "record", Args: json.RawMessage(`{}`), Queue: "default", MaxAttempts: 1, OnParentFailure: tasks.PolicyFail})
	elsewhere, _ := store.NewKeys("elsewhere")
	rdb := redis.NewClient(&redis.Options{Addr: e.mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	rdb.AddHook(pipelineGate{before: func(cmds []redis.Cmder) {
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
	out, err := store.New(rdb, e.keys, time.Hour, e.cfg.WithDefaults().Clock).Submit(context.Background(),
		store.SubmitParams{Tasks: []*tasks.Task{task}, NewQueue: func(*tasks.Task) bool { return false }})
	require.NoError(t, err)
	require.True(t, out[0].Created)
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
	task := e.submit(tasks.Spec{Name: "record"})
	// A daemon claims it with a short lease and dies.
	got, _, err := e.claim("default", testClaimer(300*time.Millisecond), 1, task.ID)
	require.NoError(t, err)
	require.Len(t, got, 1)
	s := e.start()
	done := e.wait(task.ID, 10*time.Second)
	require.Equal(t, tasks.Succeeded, done.State)
	require.Equal(t, 1, done.Attempts)
	require.Equal(t, 1, done.Recoveries)
	require.EqualValues(t, 1, s.Counters().Recovered)
}

func TestTaskThatKeepsLosingItsDaemonFails(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1, MaxRecoveries: new(1)})
	task := e.submit(tasks.Spec{Name: "record"})
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		got, _, err := e.claim("default", testClaimer(0), 1, task.ID)
		require.NoError(t, err)
		require.Len(t, got, 1)
		n, err := e.store.Recover(ctx, store.RecoverParams{Queue: "default", ID: task.ID, MaxRecoveries: 1})
		require.NoError(t, err)
		if i == 0 {
			require.EqualValues(t, store.RecoverRequeued, n)
		} else {
			require.EqualValues(t, store.RecoverFailed, n)
		}
	}
	rec, err := e.client.Get(ctx, task.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Failed, rec.State)
	require.Contains(t, rec.Error, "max_recoveries")
	require.Zero(t, e.runs.count(task.ID))
}

func TestRunningTaskLeaseIsRenewed(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1, Lease: 300 * time.Millisecond})
	task := e.submit(tasks.Spec{Name: "block"})
	s := e.start()
	e.waitRun(task.ID, 5*time.Second)
	first, err := e.rdb.ZScore(context.Background(), e.keys.Lease("default"), task.ID).Result()
	require.NoError(t, err)
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

func TestIdempotencyKeyReturnsTheFirstTask(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1})
	first := e.submit(tasks.Spec{Name: "record", Key: "k1", In: time.Hour})
	keys := len(e.mr.Keys())
	second := e.submit(tasks.Spec{Name: "record", Key: "k1", Args: json.RawMessage(`{"other":true}`)})
	require.Equal(t, first.ID, second.ID)
	require.JSONEq(t, `{}`, string(second.Args))
	require.Len(t, e.mr.Keys(), keys, "the second submit wrote nothing")
}

func TestCancelBeforeDueMeansItNeverRuns(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1})
	task := e.submit(tasks.Spec{Name: "record", In: 200 * time.Millisecond})
	e.start()
	rec, err := e.client.Cancel(context.Background(), task.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Canceled, rec.State)
	marker := e.submit(tasks.Spec{Name: "record", In: 400 * time.Millisecond})
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

func TestInvalidSpecsAreRejectedAndWriteNothing(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	for name, spec := range map[string]tasks.Spec{
		"no name":          {},
		"bad name":         {Name: "has space"},
		"bad queue":        {Name: "record", Queue: "a b"},
		"bad args":         {Name: "record", Args: json.RawMessage(`{"a":`)},
		"negative in":      {Name: "record", In: -time.Second},
		"in and at":        {Name: "record", In: time.Second, At: time.Now()},
		"negative timeout": {Name: "record", Timeout: -time.Second},
		"max attempts":     {Name: "record", MaxAttempts: -1},
		"long key":         {Name: "record", Key: string(make([]byte, 300))},
	} {
		_, err := e.client.Submit(context.Background(), spec)
		require.ErrorIs(t, err, tasks.ErrInvalid, name)
	}
	require.Empty(t, e.mr.Keys())
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

// wire.ListOptions.Queue lists one queue's tasks, in every state, alone or with
// the other filters; a bad queue name is invalid input.
func TestListByQueue(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1})
	ctx := context.Background()
	mailDue := e.submit(tasks.Spec{Name: "record", In: time.Hour, Queue: "mail"})
	mailChild := e.submit(tasks.Spec{Name: "other-name", Queue: "mail", After: []string{mailDue.ID}})
	mailCanceled := e.submit(tasks.Spec{Name: "record", In: time.Hour, Queue: "mail"})
	_, err := e.client.Cancel(ctx, mailCanceled.ID)
	require.NoError(t, err)
	otherDue := e.submit(tasks.Spec{Name: "record", In: time.Hour})
	otherCanceled := e.submit(tasks.Spec{Name: "record", In: time.Hour})
	_, err = e.client.Cancel(ctx, otherCanceled.ID)
	require.NoError(t, err)

	ids := func(opts wire.ListOptions) []string {
		t.Helper()
		list, err := e.client.List(ctx, opts)
		require.NoError(t, err)
		out := []string{}
		for _, task := range list {
			out = append(out, task.ID)
		}
		return out
	}
	require.Equal(t, []string{mailDue.ID, mailChild.ID, mailCanceled.ID}, ids(wire.ListOptions{Queue: "mail"}), "scheduled, waiting, finished")
	require.Equal(t, []string{otherDue.ID, otherCanceled.ID}, ids(wire.ListOptions{Queue: tasks.DefaultQueue}))
	require.Equal(t, []string{mailCanceled.ID}, ids(wire.ListOptions{Queue: "mail", State: tasks.Canceled}))
	require.Equal(t, []string{mailChild.ID}, ids(wire.ListOptions{Queue: "mail", State: tasks.Waiting}))
	require.Equal(t, []string{mailChild.ID}, ids(wire.ListOptions{Queue: "mail", Name: "other-name"}))
	require.Equal(t, []string{mailDue.ID}, ids(wire.ListOptions{Queue: "mail", Limit: 1}))
	require.Equal(t, []string{mailDue.ID, mailChild.ID}, ids(wire.ListOptions{Queue: "mail", Limit: 2}))
	require.Empty(t, ids(wire.ListOptions{Queue: "nosuch"}), "a queue without tasks lists nothing")
	require.Equal(t, []string{otherCanceled.ID, mailCanceled.ID}, ids(wire.ListOptions{State: tasks.Canceled}), "newest first")
	require.Len(t, ids(wire.ListOptions{Limit: 4}), 4)

	for _, bad := range []string{"no spaces", strings.Repeat("q", 65), "a/b"} {
		_, err := e.client.List(ctx, wire.ListOptions{Queue: bad})
		require.ErrorIs(t, err, tasks.ErrInvalid, bad)
		require.ErrorContains(t, err, "a queue name is 1-64 letters, digits or _.-", bad)
	}
}

func TestListAndStats(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1})
	s := e.start()
	ctx := context.Background()
	done := e.submit(tasks.Spec{Name: "record"})
	e.wait(done.ID, 5*time.Second)
	later := e.submit(tasks.Spec{Name: "record", In: time.Hour, Queue: "other"})
	canceled := e.submit(tasks.Spec{Name: "other-name", In: time.Hour})
	_, err := e.client.Cancel(ctx, canceled.ID)
	require.NoError(t, err)

	all, err := e.client.List(ctx, wire.ListOptions{})
	require.NoError(t, err)
	require.Len(t, all, 3)
	sched, err := e.client.List(ctx, wire.ListOptions{State: tasks.Scheduled})
	require.NoError(t, err)
	require.Len(t, sched, 1)
	require.Equal(t, later.ID, sched[0].ID)
	named, err := e.client.List(ctx, wire.ListOptions{Name: "other-name"})
	require.NoError(t, err)
	require.Len(t, named, 1)
	require.Equal(t, canceled.ID, named[0].ID)
	one, err := e.client.List(ctx, wire.ListOptions{Limit: 1})
	require.NoError(t, err)
	require.Len(t, one, 1)
	_, err = e.client.List(ctx, wire.ListOptions{State: "sleeping"})
	require.ErrorIs(t, err, tasks.ErrInvalid)
	_, err = e.client.List(ctx, wire.ListOptions{Limit: -1})
	require.ErrorIs(t, err, tasks.ErrInvalid)

	st, err := e.client.Stats(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, st.States[tasks.Succeeded])
	require.EqualValues(t, 1, st.States[tasks.Canceled])
	require.EqualValues(t, 1, st.States[tasks.Scheduled])
	require.EqualValues(t, 1, st.Queues["other"].Scheduled)
	require.Contains(t, st.Daemons, s.ID())
}

func TestSubmitManyWritesEveryTaskOrNone(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 4})
	ctx := context.Background()
	specs := make([]tasks.Spec, 2500) // three pipelines
	for i := range specs {
		specs[i] = tasks.Spec{Name: "record", Args: json.RawMessage(fmt.Sprint(i))}
	}
	specs[7].Key = "bulk-key"
	before := e.submit(tasks.Spec{Name: "record", Key: "bulk-key", In: time.Hour})
	require.NoError(t, e.rdb.ScriptFlush(ctx).Err()) // the bulk path reloads a script Redis forgot
	ts, err := e.client.SubmitMany(ctx, specs)
	require.NoError(t, err)
	require.Len(t, ts, len(specs))
	require.Equal(t, before.ID, ts[7].ID, "a used key returns the first task")
	e.start()
	for i, task := range ts {
		if i == 7 {
			continue
		}
		done := e.wait(task.ID, 20*time.Second)
		require.Equal(t, tasks.Succeeded, done.State)
		require.JSONEq(t, fmt.Sprint(i), string(done.Result))
	}

	keys := len(e.mr.Keys())
	_, err = e.client.SubmitMany(ctx, []tasks.Spec{{Name: "record"}, {Name: "record", In: -time.Second}})
	require.ErrorIs(t, err, tasks.ErrInvalid)
	require.ErrorContains(t, err, "spec 1")
	require.Len(t, e.mr.Keys(), keys, "nothing written")
}
