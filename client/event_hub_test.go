package client

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/deps"
	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// A reader that falls behind misses events and is told so.
func TestASlowEventReaderIsToldToResync(t *testing.T) {
	t.Parallel()
	h := newEventHub(nil, nil, nil)
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

// A stream misses nothing that happens after Events returns: the first
// stream waits for the subscription.
func TestEventsMissNothingAfterEventsReturns(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{})
	stream, err := e.client.Events(t.Context())
	require.NoError(t, err)
	task := e.submit(tasks.Spec{Name: "record", In: time.Hour})
	require.Equal(t, wire.EventQueued, nextEvent(t, stream, task.ID).Kind)
}

// A workflow's nodes are each queued, in one message.
func TestWorkflowNodesAreQueuedEvents(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{})
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

// A client's waits and event streams share its one subscription to the
// events channel, and a wait still ends on the message about its task.
func TestAClientsWaitsAndStreamsShareOneSubscription(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{SafetyWait: time.Minute}) // only a message ends a wait in time
	ctx := t.Context()
	stream, err := e.client.Events(ctx)
	require.NoError(t, err)
	task := e.submit(tasks.Spec{Name: "record", In: time.Hour})
	require.Equal(t, wire.EventQueued, nextEvent(t, stream, task.ID).Kind)
	waited := make(chan *tasks.Task, 1)
	go func() {
		done, err := e.client.Wait(ctx, task.ID)
		if err == nil {
			waited <- done
		}
	}()
	require.Eventually(t, func() bool {
		e.client.events.mu.Lock()
		defer e.client.events.mu.Unlock()
		return len(e.client.events.watches) == 1
	}, 10*time.Second, time.Millisecond)
	subs := func() int64 { return e.rdb.PubSubNumSub(ctx, e.keys.EventsChannel()).Val()[e.keys.EventsChannel()] }
	require.EqualValues(t, 1, subs(), "one subscription for the stream and the wait")
	_, err = e.client.Cancel(ctx, task.ID)
	require.NoError(t, err)
	select {
	case done := <-waited:
		require.Equal(t, tasks.Canceled, done.State)
	case <-time.After(10 * time.Second):
		t.Fatal("the wait did not end on the canceled message")
	}
	require.Equal(t, wire.EventCanceled, nextEvent(t, stream, task.ID).Kind)
	require.EqualValues(t, 1, subs())
}
