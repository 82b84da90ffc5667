package scheduler

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

// startGathering starts a daemon with e's registry and workers whose
// claims under load wait for company as long as it takes.
func (e *env) startGathering(workers int) *Scheduler {
	e.t.Helper()
	cfg := e.cfg
	cfg.Workers = workers
	s, err := New(e.rdb, e.reg, cfg)
	require.NoError(e.t, err)
	s.disp.claimWait = time.Hour
	require.NoError(e.t, s.Start(context.Background()))
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return s
}

// Under load, a claim waits for every loop to be free (here: as long as
// it takes): four loops that come back one by one make one claim of four,
// not four claims of one.
func TestClaimsUnderLoadWaitForTheLoopsOfTheLastClaim(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	release := make([]chan struct{}, 8)
	for i := range release {
		release[i] = make(chan struct{})
	}
	started := make(chan int, 8)
	e.reg.Register("step", func(ctx context.Context, c *tasks.Call) (any, error) {
		var i int
		if err := json.Unmarshal(c.Task.Args, &i); err != nil {
			return nil, err
		}
		started <- i
		<-release[i]
		return i, nil
	})
	s := e.startGathering(4)
	// Every loop free and the daemon waiting: the first claim takes four.
	require.Eventually(t, s.disp.idleWaiting, 5*time.Second, time.Millisecond)
	specs := make([]tasks.Spec, 8)
	for i := range specs {
		specs[i] = tasks.Spec{Name: "step", Args: json.RawMessage(strconv.Itoa(i))}
	}
	submitted, err := e.client.SubmitMany(context.Background(), specs)
	require.NoError(t, err)
	ids := make([]string, 8)
	for i, task := range submitted {
		ids[i] = task.ID
	}
	first := map[int]bool{}
	for range 4 {
		first[<-started] = true
	}
	before := s.Counters()
	for i := range 8 { // the first four come back one at a time
		if first[i] {
			close(release[i])
			time.Sleep(5 * time.Millisecond)
		}
	}
	for range 4 {
		i := <-started
		require.False(t, first[i])
		close(release[i])
	}
	for _, id := range ids {
		require.Equal(t, tasks.Succeeded, e.wait(id, 10*time.Second).State)
	}
	after := s.Counters()
	require.Equal(t, int64(1), (after.ClaimCalls-after.ClaimMisses)-(before.ClaimCalls-before.ClaimMisses),
		"one claim for the four freed loops")
}

// With one task at a time there is no load: a claim never waits for
// company, however long it may wait.
func TestALoneTaskIsClaimedWithoutWaitingForCompany(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	e.startGathering(4)
	for range 3 {
		task := e.submit(tasks.Spec{Name: "record"})
		require.Equal(t, tasks.Succeeded, e.wait(task.ID, 10*time.Second).State)
	}
}

// A parent's outcome is never held for company: its children wait for it.
// Three loops take two tasks that block and a parent with a child, and
// another task becomes due meanwhile. When the parent ends, the daemon
// would wait for company (as long as it takes) before claiming that task,
// but the parent's outcome is written at once, and its child runs while
// the others block. (A child submitted after its parent was claimed is not
// known to the claim: that parent's outcome may wait, up to 200 us after
// its claim.)
func TestAParentsOutcomeIsNotHeldForCompany(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{ShutdownGrace: new(time.Duration(0))}) // the blocked tasks end with the test
	running, err := e.client.SubmitMany(context.Background(), []tasks.Spec{{Name: "block"}, {Name: "block"}, {Name: "gated"}})
	require.NoError(t, err)
	parent := running[2]
	child := e.submit(tasks.Spec{Name: "record", After: []string{parent.ID}})
	later := e.submit(tasks.Spec{Name: "record", In: 300 * time.Millisecond})
	e.startGathering(3)
	for _, r := range running {
		e.waitRun(r.ID, 5*time.Second)
	}
	<-time.After(time.Until(later.DueAt.Add(20 * time.Millisecond))) // due, with every loop busy
	close(e.gate)
	require.Equal(t, tasks.Succeeded, e.wait(child.ID, 5*time.Second).State, "the child ran while the others blocked")
	require.Equal(t, tasks.Succeeded, e.wait(later.ID, 5*time.Second).State)
}
