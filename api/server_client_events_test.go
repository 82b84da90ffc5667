package api_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/api"
	"github.com/dueq/dueq/apiclient"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

func TestClientRetry(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var calls atomic.Int32
	e.reg.Register("flaky", func(context.Context, *tasks.Call) (any, error) {
		if calls.Add(1) == 1 {
			return nil, errors.New("first call fails")
		}
		return "ok", nil
	})
	e.runScheduler(t)
	ctx := context.Background()

	tk, err := e.cl.Submit(ctx, wire.SubmitRequest{Name: "flaky"})
	require.NoError(t, err)
	done, err := e.cl.Wait(ctx, tk.ID, 20*time.Second)
	require.NoError(t, err)
	require.Equal(t, tasks.Failed, done.State)
	require.Equal(t, "first call fails", done.Error)

	again, err := e.cl.Retry(ctx, tk.ID)
	require.NoError(t, err)
	require.Equal(t, tk.ID, again.ID)
	require.Contains(t, []tasks.State{tasks.Scheduled, tasks.Running, tasks.Succeeded}, again.State)
	require.Empty(t, again.Error)
	done, err = e.cl.Wait(ctx, tk.ID, 20*time.Second)
	require.NoError(t, err)
	require.Equal(t, tasks.Succeeded, done.State)
	require.JSONEq(t, `"ok"`, string(done.Result))
	require.Equal(t, 1, done.Attempts, "a retry starts with fresh attempts")
	require.EqualValues(t, 2, calls.Load())

	_, err = e.cl.Retry(ctx, tk.ID)
	require.ErrorIs(t, err, wire.ErrNotRetryable)
	var apiErr *apiclient.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusConflict, apiErr.Status)
	require.Contains(t, apiErr.Message, "succeeded")

	_, err = e.cl.Retry(ctx, "01HZZZZZZZZZZZZZZZZZZZZZZZ")
	require.ErrorIs(t, err, wire.ErrNotFound)
}

// collect runs cl.Events until the test ends and hands each event to the
// returned channel; the second channel gets what Events returned.
func collect(t *testing.T, cl *apiclient.Client) (<-chan wire.Event, <-chan error, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan wire.Event, 1000)
	ended := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ended <- cl.Events(ctx, func(ev wire.Event) error {
			select {
			case events <- ev:
			case <-ctx.Done():
			}
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Events did not return after its context ended")
		}
	})
	return events, ended, cancel
}

// subscribed submits echo tasks until the stream shows one queued: the
// daemon's subscription to Redis is live from then on.
func subscribed(t *testing.T, e *env, events <-chan wire.Event) {
	t.Helper()
	ctx := context.Background()
	ids := map[string]bool{}
	require.Eventually(t, func() bool {
		tk, err := e.cl.Submit(ctx, wire.SubmitRequest{Name: "echo"})
		require.NoError(t, err)
		ids[tk.ID] = true
		for {
			select {
			case ev := <-events:
				if ev.Kind == wire.EventQueued && ids[ev.ID] {
					return true
				}
			case <-time.After(50 * time.Millisecond):
				return false
			}
		}
	}, 15*time.Second, time.Millisecond)
}

// The stream outlives the client's request timeout and shows a task's
// life in order.
func TestClientEvents(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.runScheduler(t)
	const timeout = 100 * time.Millisecond
	cl := &apiclient.Client{BaseURL: e.ts.URL, HTTP: &http.Client{Timeout: timeout}}
	opened := time.Now()
	events, ended, cancel := collect(t, cl)
	subscribed(t, e, events)
	<-time.After(time.Until(opened.Add(2 * timeout))) // past the request timeout

	tk, err := e.cl.Submit(context.Background(), wire.SubmitRequest{Name: "echo"})
	require.NoError(t, err)
	var kinds []string
	deadline := time.After(15 * time.Second)
	for len(kinds) < 3 {
		select {
		case ev := <-events:
			if ev.ID != tk.ID {
				continue
			}
			require.Equal(t, "echo", ev.Name)
			require.Equal(t, tasks.DefaultQueue, ev.Queue)
			require.False(t, ev.At.IsZero())
			kinds = append(kinds, ev.Kind)
		case err := <-ended:
			t.Fatalf("Events returned %v", err)
		case <-deadline:
			t.Fatalf("saw %v for %s", kinds, tk.ID)
		}
	}
	require.Equal(t, []string{wire.EventQueued, wire.EventStarted, wire.EventSucceeded}, kinds)

	cancel()
	select {
	case err := <-ended:
		require.NoError(t, err, "a canceled context ends the stream without an error")
	case <-time.After(10 * time.Second):
		t.Fatal("Events did not return after its context ended")
	}
}

func TestClientEventsToken(t *testing.T) {
	t.Parallel()
	e := setup(t, api.Config{Token: "s3cret"})
	ctx := context.Background()
	noToken := &apiclient.Client{BaseURL: e.ts.URL}
	err := noToken.Events(ctx, func(wire.Event) error { return nil })
	var apiErr *apiclient.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusUnauthorized, apiErr.Status)
	require.NotErrorIs(t, err, apiclient.ErrStreamEnded)

	// With the token the stream opens, and lasts until the context ends.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	require.NoError(t, e.cl.Events(short, func(wire.Event) error { return nil }))
}

func TestClientEventsStopsWithFnError(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.runScheduler(t)
	stop := errors.New("enough")
	ended := make(chan error, 1)
	go func() {
		ended <- e.cl.Events(context.Background(), func(wire.Event) error { return stop })
	}()
	require.Eventually(t, func() bool {
		_, err := e.cl.Submit(context.Background(), wire.SubmitRequest{Name: "echo"})
		require.NoError(t, err)
		select {
		case err := <-ended:
			require.Same(t, stop, err, "fn's error comes back as is")
			return true
		case <-time.After(50 * time.Millisecond):
			return false
		}
	}, 15*time.Second, time.Millisecond)
}

// A daemon that stops ends the stream with ErrStreamEnded, so callers
// know to reconnect.
func TestClientEventsServerStops(t *testing.T) {
	t.Parallel()
	e := setup(t)
	_, ended, _ := collect(t, e.cl)
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Stop ends open streams, and one opened after it at once.
	_ = e.srv.Stop(stopCtx)
	select {
	case err := <-ended:
		require.ErrorIs(t, err, apiclient.ErrStreamEnded)
		require.ErrorContains(t, err, "connection to the daemon ended")
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end when the server stopped")
	}
}
