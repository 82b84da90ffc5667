package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/oklog/ulid/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

// env is one test's Redis and a store of namespace dueq on it, with the
// calls its pipelines sent.
type env struct {
	mr    *miniredis.Miniredis
	rdb   *redis.Client
	store *Store
	trips *tripLog
}

func setup(t *testing.T) *env {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	trips := &tripLog{}
	rdb.AddHook(trips)
	keys, err := NewKeys("dueq")
	require.NoError(t, err)
	return &env{mr: mr, rdb: rdb, store: New(rdb, keys, time.Hour, systemClock{}), trips: trips}
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// tripLog records, per pipeline sent, the names of the scripts it called
// (EVALSHA) and the other commands' names.
type tripLog struct {
	mu    sync.Mutex
	trips [][]string
}

func (*tripLog) DialHook(next redis.DialHook) redis.DialHook { return next }

func (l *tripLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		l.add([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}

func (l *tripLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		l.add(cmds)
		return next(ctx, cmds)
	}
}

func (l *tripLog) add(cmds []redis.Cmder) {
	var names []string
	for _, c := range cmds {
		a := c.Args()
		switch name := fmt.Sprint(a[0]); {
		case name == "evalsha":
			names = append(names, ScriptName(fmt.Sprint(a[1])))
		case name == "script":
			names = append(names, fmt.Sprint("load ", a[1] == "load"))
		default:
			names = append(names, name)
		}
	}
	l.mu.Lock()
	l.trips = append(l.trips, names)
	l.mu.Unlock()
}

// since returns the trips after the first n.
func (l *tripLog) since(n int) [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]string(nil), l.trips[n:]...)
}

func (l *tripLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.trips)
}

// newTask returns a new task of handler "t" in queue, due now.
func newTask(queue string) *tasks.Task {
	return &tasks.Task{ID: ulid.Make().String(), Name: "t", Args: json.RawMessage(`{}`), Queue: queue,
		State: tasks.Scheduled, MaxAttempts: 1, OnParentFailure: tasks.PolicyFail}
}

// submit stores ts and requires each to be created.
func (e *env) submit(t *testing.T, ts ...*tasks.Task) {
	t.Helper()
	out, err := e.store.Submit(context.Background(), SubmitParams{Tasks: ts, NewQueue: func(*tasks.Task) bool { return true }})
	require.NoError(t, err)
	for i, o := range out {
		require.NoError(t, o.Err)
		require.True(t, o.Created, "task %d", i)
	}
}

// A call Redis had forgotten the script of is loaded and sent again, alone
// or in a pipeline, and a call that ran is not sent twice.
func TestForgottenScriptsAreLoadedAndOnlyTheirCallsSentAgain(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	a, b := newTask("default"), newTask("default")
	e.submit(t, a, b)

	require.NoError(t, e.rdb.ScriptFlush(ctx).Err())
	n := e.trips.len()
	r, err := e.store.Cancel(ctx, CancelParams{ID: a.ID})
	require.NoError(t, err)
	require.True(t, r.Canceled)
	require.Equal(t, [][]string{{"hmget", "lrange"}, {"cancel"}, {"load true"}, {"cancel"}}, e.trips.since(n), "a single call")

	// Pipelined, with the cancel's script loaded and the claim's not: the
	// cancel ran (a no-op: a is canceled), and only the claim is sent again.
	cl := NewClaimer("d", []string{"t"}, time.Minute)
	n = e.trips.len()
	again := CancelParams{ID: a.ID}.build(e.store.keys, time.Hour.Milliseconds(), "default", finished{})
	claim := ClaimParams{Queue: "default", Claimer: cl, Want: 1, Heads: 4, Candidates: Plain(b.ID)}.build(e.store.keys)
	require.NoError(t, e.store.send(ctx, again, claim))
	require.NoError(t, again.cmd.Err())
	got, err := parseClaim("default", "d", claim.cmd.Val(), claim.cmd.Err())
	require.NoError(t, err)
	require.Len(t, got.Got, 1)
	require.Equal(t, [][]string{{"cancel", "claim"}, {"load true"}, {"claim"}}, e.trips.since(n))

	// Finish and claim in one call (finish_claim.lua) after a flush: sent
	// again once loaded, and the claim takes its task once.
	require.NoError(t, e.rdb.ScriptFlush(ctx).Err())
	c := newTask("default")
	e.submit(t, c)
	n = e.trips.len()
	fin := &Finishing{Task: got.Got[0].Task, State: tasks.Succeeded, Result: []byte(`1`), Ran: true}
	res := e.store.FinishAndClaim(ctx, FinishParams{Tasks: []*Finishing{fin}},
		ClaimParams{Queue: "default", Claimer: cl, Want: 1, Heads: 4, Candidates: Plain(c.ID)})
	require.NoError(t, res.FinishErr)
	require.NoError(t, res.ClaimErr)
	require.Equal(t, FinishDone, fin.Status)
	require.Len(t, res.Claim.Got, 1, "claimed once")
	require.Equal(t, [][]string{{"finish_claim"}, {"load true"}, {"finish_claim"}}, e.trips.since(n))
	rec, err := e.store.Get(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Succeeded, rec.State)
}

// A bulk submit whose round trip holds several calls loads the script once
// and sends its calls again, in order.
func TestABulkSubmitReloadsItsScriptOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	e.submit(t, newTask("default")) // learns the script flags
	require.NoError(t, e.rdb.ScriptFlush(ctx).Err())
	ts := make([]*tasks.Task, 2*SubmitPerCall+1)
	for i := range ts {
		ts[i] = newTask("default")
	}
	n := e.trips.len()
	e.submit(t, ts...)
	require.Equal(t, [][]string{{"submit", "submit", "submit"}, {"load true"}, {"submit", "submit", "submit"}}, e.trips.since(n))
	ids, err := e.rdb.ZRange(ctx, e.store.Keys().Due("default"), 1, -1).Result()
	require.NoError(t, err)
	require.Len(t, ids, len(ts))
	for i, id := range ids {
		require.Equal(t, ts[i].ID, id, "in submit order")
	}
}

// A bulk submit of several round trips sends those whose tasks cannot
// depend on an earlier trip's two at a time; a trip whose tasks name a
// parent or an idempotency key goes after the trips before it, so a key
// taken in the first trip is taken for a task of the third, and a parent
// submitted in the first trip is found by its child in the third.
func TestABulkSubmitKeepsTheOrderTasksDependOn(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	ts := make([]*tasks.Task, 3*submitPerChunk)
	for i := range ts {
		ts[i] = newTask("default")
	}
	ts[1].Key = "nightly"
	later := ts[2*submitPerChunk+5]
	later.Key = "nightly"
	child := ts[2*submitPerChunk+6]
	child.Parents = []string{ts[2].ID}
	out, err := e.store.Submit(ctx, SubmitParams{Tasks: ts, NewQueue: func(*tasks.Task) bool { return true }})
	require.NoError(t, err)
	require.True(t, out[1].Created)
	require.False(t, out[2*submitPerChunk+5].Created, "its key was taken in the first trip")
	require.Equal(t, ts[1].ID, out[2*submitPerChunk+5].ID)
	require.NoError(t, out[2*submitPerChunk+6].Err, "its parent was written in the first trip")
	require.True(t, out[2*submitPerChunk+6].Created)
	n, err := e.rdb.ZCard(ctx, e.store.Keys().Due("default")).Result()
	require.NoError(t, err)
	require.Equal(t, int64(len(ts)-2), n, "all but the deduplicated task and the waiting child are due")

	plain := []submitCall{{tasks: []*tasks.Task{newTask("q")}}}
	require.False(t, dependent(plain))
	keyed := []submitCall{{tasks: []*tasks.Task{newTask("q"), later}}}
	require.True(t, dependent(keyed))
	require.True(t, dependent([]submitCall{{tasks: []*tasks.Task{child}}}))
}

// A round whose claim raises an error in Redis (here the queue's lease set
// is a string, written by hand) keeps what its finish wrote: the outcome
// is answered and its events line published, and only the claim fails.
func TestARoundWhoseClaimFailsStillAnswersItsFinish(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	a, b := newTask("default"), newTask("other")
	e.submit(t, a, b)
	cl := NewClaimer("d", []string{"t"}, time.Minute)
	got, err := e.store.Claim(ctx, ClaimParams{Queue: "default", Claimer: cl, Want: 1, Heads: 4, Candidates: Plain(a.ID)})
	require.NoError(t, err)
	require.Len(t, got.Got, 1)
	require.NoError(t, e.mr.Set(e.store.Keys().Lease("other"), "written by hand"))
	events := e.rdb.Subscribe(ctx, e.store.Keys().EventsChannel())
	defer events.Close()
	_, err = events.Receive(ctx)
	require.NoError(t, err)

	fin := &Finishing{Task: got.Got[0].Task, State: tasks.Succeeded, Result: []byte(`1`), Ran: true}
	res := e.store.FinishAndClaim(ctx, FinishParams{Tasks: []*Finishing{fin}},
		ClaimParams{Queue: "other", Claimer: cl, Want: 1, Heads: 4, Candidates: Plain(b.ID)})
	require.NoError(t, res.FinishErr)
	require.Equal(t, FinishDone, fin.Status)
	require.ErrorIs(t, res.ClaimErr, ErrClaimScript)
	require.Contains(t, res.ClaimErr.Error(), "WRONGTYPE")
	msg, err := events.ReceiveMessage(ctx)
	require.NoError(t, err)
	require.Contains(t, msg.Payload, "succeeded "+a.ID)
	rec, err := e.store.Get(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Succeeded, rec.State)
}

// The first call of a store loads every script, so none of its calls meets
// NOSCRIPT unless Redis restarts or flushes its scripts: a pipeline of
// calls that depend on each other is never half refused because another
// process loaded the script while it arrived.
func TestPrepareLoadsEveryScript(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	require.NoError(t, e.store.Prepare(ctx))
	var hashes []string
	for _, sc := range allScripts() {
		hashes = append(hashes, e.store.form(sc).Hash())
	}
	loaded, err := e.rdb.ScriptExists(ctx, hashes...).Result()
	require.NoError(t, err)
	for i, ok := range loaded {
		require.True(t, ok, "script %s", ScriptName(hashes[i]))
	}
}

// Redis's time is read by a script that names a key of the namespace, so
// on a Redis Cluster it comes from the node that runs the namespace's
// scripts, whose clock they decide by.
func TestRedisTimeIsReadWhereTheKeysAre(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	at := time.Date(2031, 5, 6, 7, 8, 9, 123456000, time.UTC)
	e.mr.SetTime(at)
	pipe := e.rdb.Pipeline()
	cmd, err := e.store.QueueTime(ctx, pipe)
	require.NoError(t, err)
	_, err = pipe.Exec(ctx)
	require.NoError(t, err)
	us, err := RedisTime(cmd)
	require.NoError(t, err)
	require.Equal(t, at.UnixMicro(), us)
	args := cmd.Args()
	require.Equal(t, "eval", args[0])
	require.EqualValues(t, 1, args[2])
	require.Equal(t, e.store.Keys().Queues(), args[3], "routed by a key of the namespace")

	require.NoError(t, e.store.SyncClock(ctx)) // the estimate is stale at first: it reads the time
	require.WithinDuration(t, at, e.store.Clock().Now(), time.Second)
}
