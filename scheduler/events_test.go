package scheduler

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
