package client

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// wire.ListOptions.Queue lists one queue's tasks, in every state, alone or with
// the other filters; a bad queue name is invalid input.
func TestListByQueue(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{Workers: 1})
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
	e := setup(t, scheduler.Config{Workers: 1})
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
