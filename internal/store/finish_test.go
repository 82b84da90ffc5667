package store

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
)

// One finish.lua call answers each of its tasks on its own: written,
// refused (the claim is lost), already final, or "its children changed".
func TestFinishBatchAnswersEachTask(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	var ids []string
	for i := range 4 {
		ids = append(ids, e.put(t, "default", func(t *tasks.Task) { t.Args = json.RawMessage(strconv.Itoa(i)) }).ID)
	}
	other := e.put(t, "other", nil)
	got, _, err := e.claim("default", testClaimer(time.Minute), 4, ids...)
	require.NoError(t, err)
	require.Len(t, got, 4)
	gotOther, _, err := e.claim("other", testClaimer(time.Minute), 1, other.ID)
	require.NoError(t, err)
	require.Len(t, gotOther, 1)

	stale := *got[1].Task
	stale.Run++ // a claim this worker no longer holds
	_, err = e.store.Cancel(ctx, CancelParams{ID: got[2].ID})
	require.NoError(t, err)
	child := e.put(t, "default", func(t *tasks.Task) { t.Parents = []string{got[3].ID} })
	later := e.put(t, "default", func(t *tasks.Task) { t.Delay = time.Hour })

	fs := []*Finishing{
		{Task: got[0].Task, State: tasks.Succeeded, Result: []byte(`"zero"`), Ran: true},
		{Task: &stale, State: tasks.Succeeded},
		{Task: got[2].Task, State: tasks.Succeeded},
		{Task: got[3].Task, State: tasks.Failed, Err: "broke"},
		{Task: gotOther[0].Task, State: tasks.Succeeded},
	}
	hs, err := e.finish(fs, 4)
	require.NoError(t, err)
	require.Equal(t, FinishDone, fs[0].Status)
	require.Equal(t, FinishRefused, fs[1].Status)
	require.Equal(t, FinishFinal, fs[2].Status, "canceled while running: nothing to write")
	require.Equal(t, FinishParent, fs[3].Status, "it has a child, but was sent as a task without children")
	require.Equal(t, FinishDone, fs[4].Status)
	require.Equal(t, map[string][]Head{"default": {{ID: later.ID, Due: later.DueAt.UnixMilli()}}, "other": {}}, hs,
		"the heads of each queue of the batch")

	fs[3].Parent = true
	_, err = e.finish(fs[3:4], 0)
	require.NoError(t, err)
	require.Equal(t, FinishKids, fs[3].Status, "sent again with its children list, it learns the list")
	require.Equal(t, []string{"default " + child.ID}, fs[3].Kids)
	_, err = e.finish(fs[3:4], 0)
	require.NoError(t, err)
	require.Equal(t, FinishDone, fs[3].Status, "sent again with its children's keys")

	for id, want := range map[string]tasks.State{
		ids[0]: tasks.Succeeded, ids[1]: tasks.Running, ids[2]: tasks.Canceled, ids[3]: tasks.Failed,
		other.ID: tasks.Succeeded, child.ID: tasks.Scheduled, // released, to be failed unrun by its claimer
	} {
		rec, err := e.store.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, want, rec.State, id)
	}
	rec, _ := e.store.Get(ctx, ids[0])
	require.JSONEq(t, `"zero"`, string(rec.Result))
	rec, _ = e.store.Get(ctx, child.ID)
	require.Equal(t, tasks.Failed, rec.Outcomes[0].State, "the child holds its parent's outcome")
}

// runningParent submits a task and claims it, then submits a child of it
// in queue: the claimed parent, as its loop holds it, and the child.
func (e *env) runningParent(t *testing.T, queue string) (parent, child *tasks.Task) {
	t.Helper()
	p := e.put(t, "default", nil)
	got, _, err := e.claim("default", testClaimer(time.Minute), 1, p.ID)
	require.NoError(t, err)
	require.Len(t, got, 1)
	return got[0].Task, e.put(t, queue, func(t *tasks.Task) { t.Parents = []string{p.ID} })
}

// A record keeps the length of its children list (field kids), so a finish
// need not read it; a record of format 1, written before that field
// existed, has its list measured instead, and its children are not missed.
func TestFinishCountsChildrenWithOrWithoutTheKidsField(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	for _, old := range []bool{false, true} {
		p, child := e.runningParent(t, "default")
		if old { // a format 1 record: no count
			e.mr.HDel(e.store.Keys().Task(p.ID), transport.FKids)
			e.mr.HSet(e.store.Keys().Task(p.ID), transport.FVersion, "1")
		} else {
			require.Equal(t, "1", e.mr.HGet(e.store.Keys().Task(p.ID), transport.FKids))
		}
		f := &Finishing{Task: p, State: tasks.Succeeded, Result: []byte(`1`), Ran: true}
		_, err := e.finish([]*Finishing{f}, 0)
		require.NoError(t, err)
		require.Equal(t, FinishParent, f.Status, "old record: %v", old)
		f.Parent = true
		_, err = e.finish([]*Finishing{f}, 0)
		require.NoError(t, err)
		require.Equal(t, FinishKids, f.Status, "old record: %v", old)
		_, err = e.finish([]*Finishing{f}, 0)
		require.NoError(t, err)
		require.Equal(t, FinishDone, f.Status)
		rec, err := e.store.Get(ctx, child.ID)
		require.NoError(t, err)
		require.Equal(t, tasks.Scheduled, rec.State, "released")
	}
}

// A parent whose children list lost an entry (evicted, or trimmed by
// hand) still finishes: its count of children says two, the list holds
// one, and the list is what holds; the child in it is released.
func TestFinishTrustsTheChildrenListOverItsCount(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	p, child := e.runningParent(t, "default")
	e.mr.HSet(e.store.Keys().Task(p.ID), transport.FKids, "2") // a second child's entry is gone
	f := &Finishing{Task: p, State: tasks.Succeeded, Result: []byte(`1`), Ran: true, Parent: true}
	for try := 0; try < 3 && f.Status != FinishDone; try++ {
		_, err := e.finish([]*Finishing{f}, 0)
		require.NoError(t, err)
	}
	require.Equal(t, FinishDone, f.Status)
	rec, err := e.store.Get(ctx, child.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Scheduled, rec.State, "released")
}

// A parent whose children list was evicted, and then got a new child,
// holds as many entries as the finish passed keys for, but not the same:
// the finish learns the list again instead of releasing its new child
// with the keys of the one that was lost (writing the outcome into the
// lost child's record, and entering the new one due while its record still
// waits).
func TestFinishLearnsAChildrenListOfTheSameLengthButOtherChildren(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	p, lost := e.runningParent(t, "default")
	f := &Finishing{Task: p, State: tasks.Succeeded, Result: []byte(`1`), Ran: true, Parent: true}
	_, err := e.finish([]*Finishing{f}, 0)
	require.NoError(t, err)
	require.Equal(t, FinishKids, f.Status)
	require.Equal(t, []string{"default " + lost.ID}, f.Kids)

	e.mr.Del(e.store.Keys().Kids(p.ID)) // evicted
	added := e.put(t, "other", func(t *tasks.Task) { t.Parents = []string{p.ID} })
	_, err = e.finish([]*Finishing{f}, 0)
	require.NoError(t, err)
	require.Equal(t, FinishKids, f.Status, "the list holds another child")
	require.Equal(t, []string{"other " + added.ID}, f.Kids)
	_, err = e.finish([]*Finishing{f}, 0)
	require.NoError(t, err)
	require.Equal(t, FinishDone, f.Status)

	rec, err := e.store.Get(ctx, added.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Scheduled, rec.State, "released")
	require.Len(t, rec.Outcomes, 1)
	_, err = e.rdb.ZScore(ctx, e.store.Keys().Due("other"), added.ID).Result()
	require.NoError(t, err, "due")
	rec, err = e.store.Get(ctx, lost.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Waiting, rec.State, "out of the list, it is not released by it")
}
