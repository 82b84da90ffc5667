package scheduler

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/deps"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// nextEvent returns the next event of stream about id, skipping others.
func nextEvent(t *testing.T, stream <-chan wire.Event, id string) wire.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-stream:
			require.True(t, ok, "the stream ended")
			if e.ID == id {
				return e
			}
		case <-timeout:
			t.Fatalf("no event for %s within 10s", id)
		}
	}
}

// Every step of a task's life is an event, across the namespace.
func TestEventsFollowATaskThroughItsLife(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 2, RetryBase: time.Millisecond, RetryCap: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := e.client.Events(ctx)
	require.NoError(t, err)
	var once atomic.Bool
	e.reg.Register("flaky-once", func(ctx context.Context, c *tasks.Call) (any, error) {
		if once.CompareAndSwap(false, true) {
			return nil, errors.New("first attempt fails")
		}
		return "ok", nil
	})
	e.start()
	// The subscription is up once an event arrives: submit probes until one does.
	require.Eventually(t, func() bool {
		probe := e.submit(tasks.Spec{Name: "record", In: time.Hour})
		select {
		case ev := <-stream:
			return ev.ID == probe.ID && ev.Kind == wire.EventQueued
		case <-time.After(100 * time.Millisecond):
			return false
		}
	}, 10*time.Second, time.Millisecond)
	task := e.submit(tasks.Spec{Name: "flaky-once", MaxAttempts: 2})
	for _, want := range []string{wire.EventQueued, wire.EventStarted, wire.EventRetrying, wire.EventStarted, wire.EventSucceeded} {
		ev := nextEvent(t, stream, task.ID)
		require.Equal(t, want, ev.Kind)
		require.Equal(t, "flaky-once", ev.Name)
		require.Equal(t, "default", ev.Queue)
		require.False(t, ev.At.IsZero())
	}

	later := e.submit(tasks.Spec{Name: "record", In: time.Hour})
	require.Equal(t, wire.EventQueued, nextEvent(t, stream, later.ID).Kind)
	_, err = e.client.Cancel(ctx, later.ID)
	require.NoError(t, err)
	require.Equal(t, wire.EventCanceled, nextEvent(t, stream, later.ID).Kind)
	_, err = e.client.Retry(ctx, later.ID)
	require.NoError(t, err)
	require.Equal(t, wire.EventRetrying, nextEvent(t, stream, later.ID).Kind)
	require.Equal(t, wire.EventStarted, nextEvent(t, stream, later.ID).Kind)
	require.Equal(t, wire.EventSucceeded, nextEvent(t, stream, later.ID).Kind)

	cancel()
	require.Eventually(t, func() bool {
		for {
			select {
			case _, ok := <-stream:
				if !ok {
					return true
				}
			default:
				return false
			}
		}
	}, 5*time.Second, time.Millisecond, "the stream closes when its context ends")
}

// A reader that falls behind misses events and is told so.
func TestASlowEventReaderIsToldToResync(t *testing.T) {
	t.Parallel()
	h := newEventHub(nil, "", nil)
	st := &eventStream{ch: make(chan wire.Event, 2)}
	h.streams[st] = struct{}{}
	for i := range 4 {
		h.sendLocked(wire.Event{Kind: wire.EventQueued, ID: string(rune('a' + i))})
	}
	require.Equal(t, "a", (<-st.ch).ID)
	require.Equal(t, "b", (<-st.ch).ID)
	h.sendLocked(wire.Event{Kind: wire.EventQueued, ID: "e"})
	require.Equal(t, wire.EventResync, (<-st.ch).Kind, "c and d were dropped")
	require.Equal(t, "e", (<-st.ch).ID)
}

func TestRetryRunsAFailedTaskAgainWithFreshAttempts(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 2})
	ctx := context.Background()
	var runs atomic.Int64
	e.reg.Register("fails-first", func(ctx context.Context, c *tasks.Call) (any, error) {
		if runs.Add(1) == 1 {
			return nil, errors.New("broken")
		}
		return c.Task.Attempts, nil
	})
	e.start()
	task := e.submit(tasks.Spec{Name: "fails-first", Key: "once"})
	failed := e.wait(task.ID, 10*time.Second)
	require.Equal(t, tasks.Failed, failed.State)
	ttl := e.mr.TTL(e.keys.Task(task.ID))
	require.Positive(t, ttl, "a finished record expires")

	again, err := e.client.Retry(ctx, task.ID)
	require.NoError(t, err)
	require.Contains(t, []tasks.State{tasks.Scheduled, tasks.Running, tasks.Succeeded}, again.State)
	done := e.wait(task.ID, 10*time.Second)
	require.Equal(t, tasks.Succeeded, done.State)
	require.Equal(t, 1, done.Attempts, "a fresh set of attempts")
	require.JSONEq(t, "1", string(done.Result))
	require.Empty(t, done.Error)

	_, err = e.client.Retry(ctx, task.ID)
	require.ErrorIs(t, err, wire.ErrNotRetryable, "a succeeded task is not retried")
	require.ErrorContains(t, err, "it is succeeded")
	_, err = e.client.Retry(ctx, "01NOSUCHTASK0000000000000")
	require.ErrorIs(t, err, wire.ErrNotFound)
}

func TestRetryRefusesATaskItsParentsStopped(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 2})
	ctx := context.Background()
	e.reg.Register("fail", func(ctx context.Context, c *tasks.Call) (any, error) { return nil, errors.New("no") })
	e.start()
	parent := e.submit(tasks.Spec{Name: "fail"})
	child := e.submit(tasks.Spec{Name: "record", After: []string{parent.ID}})
	require.Equal(t, tasks.Failed, e.wait(child.ID, 10*time.Second).State)
	before := len(e.mr.Keys())
	_, err := e.client.Retry(ctx, child.ID)
	require.ErrorIs(t, err, wire.ErrNotRetryable)
	require.ErrorContains(t, err, "submit it anew")
	require.Len(t, e.mr.Keys(), before, "nothing written")
	require.Zero(t, e.runs.count(child.ID))
}

// The Observer hears each attempt's start and end.
func TestObserverHearsEveryAttempt(t *testing.T) {
	t.Parallel()
	obs := &recorder{}
	e := setup(t, Config{Workers: 1, RetryBase: time.Millisecond, RetryCap: time.Millisecond})
	e.reg.Register("fail", func(ctx context.Context, c *tasks.Call) (any, error) { return nil, errors.New("no") })
	e.start(func(c *Config) { c.Observer = obs })
	ok := e.submit(tasks.Spec{Name: "record"})
	bad := e.submit(tasks.Spec{Name: "fail", MaxAttempts: 2})
	e.wait(ok.ID, 10*time.Second)
	e.wait(bad.ID, 10*time.Second)
	require.Eventually(t, func() bool { return len(obs.ends()) == 3 }, 10*time.Second, time.Millisecond)
	require.ElementsMatch(t, []string{ok.ID + " succeeded", bad.ID + " scheduled", bad.ID + " failed"}, obs.ends())
	require.Len(t, obs.starts(), 3)
}

type recorder struct {
	mu           sync.Mutex
	started, end []string
}

func (r *recorder) Started(t *tasks.Task, lateness time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = append(r.started, t.ID)
}

func (r *recorder) Ended(t *tasks.Task, state tasks.State, took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.end = append(r.end, t.ID+" "+string(state))
}

func (r *recorder) starts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.started...)
}

func (r *recorder) ends() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.end...)
}

// A stream misses nothing that happens after Events returns: the first
// stream waits for the subscription.
func TestEventsMissNothingAfterEventsReturns(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	stream, err := e.client.Events(t.Context())
	require.NoError(t, err)
	task := e.submit(tasks.Spec{Name: "record", In: time.Hour})
	require.Equal(t, wire.EventQueued, nextEvent(t, stream, task.ID).Kind)
}

// A workflow's nodes are each queued, in one message.
func TestWorkflowNodesAreQueuedEvents(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	stream, err := e.client.Events(t.Context())
	require.NoError(t, err)
	w := &deps.Workflow{Nodes: []deps.Node{
		{Name: "a", Spec: tasks.Spec{Name: "record", In: time.Hour}},
		{Name: "b", Spec: tasks.Spec{Name: "record", Queue: "other"}, After: []string{"a"}},
	}}
	sw, err := e.client.SubmitWorkflow(t.Context(), w)
	ids := sw.Tasks
	require.NoError(t, err)
	a, b := nextEvent(t, stream, ids["a"]), nextEvent(t, stream, ids["b"])
	require.Equal(t, wire.Event{Kind: wire.EventQueued, ID: ids["a"], Queue: "default", Name: "record", At: a.At}, a)
	require.Equal(t, wire.Event{Kind: wire.EventQueued, ID: ids["b"], Queue: "other", Name: "record", At: b.At}, b)
}
