package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// A claimed task keeps the due and creation times its record holds,
// whichever script wrote it: a submit writes them in x, but a workflow's
// nodes and a schedule's occurrences (transport.EncodeRecord) as fields of
// their own, which a claim of a first attempt must read too (the lateness
// a daemon reports is measured from the due time).
func TestClaimedTasksKeepTheirDueAndCreationTimes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	cl := testClaimer(time.Minute)

	root := newTask("default")
	root.Workflow, root.Node = "W1", "a"
	require.NoError(t, e.store.SubmitWorkflow(ctx, WorkflowParams{ID: "W1", Tasks: []*tasks.Task{root}}))

	// A schedule's first occurrence (schedule.lua), and the next one its
	// claim writes (claim.lua), both due.
	fire := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	sc := &Schedule{Rev: 1}
	sc.ID, sc.Task, sc.Queue, sc.Args, sc.MaxAttempts, sc.State = "S01SCHEDULE", "t", "default", []byte(`{}`), 1, wire.ScheduleActive
	occ := sc.Occurrence(fire, fire.Add(-time.Minute))
	sc.Pending = occ.ID
	require.NoError(t, e.store.WriteSchedule(ctx, ScheduleParams{Schedule: sc, Occurrence: occ}))
	next := sc.Occurrence(fire.Add(time.Second), fire)

	for _, want := range []*tasks.Task{root, occ, next} {
		c := Candidate{ID: want.ID}
		if want == occ {
			c.Next, c.Rev = next, 1
		}
		r, err := e.store.Claim(ctx, ClaimParams{Queue: "default", Claimer: cl, Want: 1, Heads: 4, Candidates: []Candidate{c}})
		require.NoError(t, err)
		got := r.Got
		require.Len(t, got, 1, want.ID)
		require.NoError(t, got[0].Err)
		stored, err := e.rdb.HGetAll(ctx, e.store.Keys().Task(want.ID)).Result()
		require.NoError(t, err)
		require.NotZero(t, got[0].Task.DueAt, "%s: %v", want.ID, stored)
		require.NotZero(t, got[0].Task.CreatedAt, "%s: %v", want.ID, stored)
		if want != root {
			require.Equal(t, want.DueAt, got[0].Task.DueAt, "the occurrence's slot")
			require.Equal(t, want.CreatedAt, got[0].Task.CreatedAt)
		}
	}
}
