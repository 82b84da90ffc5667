package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/deps"
	"github.com/dueq/dueq/tasks"
)

// depsSetup adds handlers "parents" (returns the outcomes it received) and
// "fail" (fails with its args as the error).
func depsSetup(t *testing.T, cfg Config) *env {
	t.Helper()
	e := setup(t, cfg)
	e.reg.Register("parents", func(ctx context.Context, c *tasks.Call) (any, error) {
		e.runs.add(c.Task.ID)
		if c.Parents == nil {
			return []tasks.Outcome{}, nil
		}
		return c.Parents, nil
	})
	e.reg.Register("fail", func(ctx context.Context, c *tasks.Call) (any, error) {
		e.runs.add(c.Task.ID)
		return nil, errors.New(string(c.Task.Args))
	})
	return e
}

func outcomes(t *testing.T, rec *tasks.Task) []tasks.Outcome {
	t.Helper()
	var os []tasks.Outcome
	require.NoError(t, json.Unmarshal(rec.Result, &os))
	return os
}

func TestDiamondChildGetsBothResultsInDeclaredOrder(t *testing.T) {
	t.Parallel()
	e := depsSetup(t, Config{Workers: 4})
	e.start()
	a := e.submit(tasks.Spec{Name: "record", Args: json.RawMessage(`"a"`)})
	b := e.submit(tasks.Spec{Name: "parents", After: []string{a.ID}})
	c := e.submit(tasks.Spec{Name: "record", Args: json.RawMessage(`"c"`), After: []string{a.ID}})
	d := e.submit(tasks.Spec{Name: "parents", After: []string{c.ID, b.ID}})
	done := e.wait(d.ID, 10*time.Second)
	require.Equal(t, tasks.Succeeded, done.State)
	os := outcomes(t, done)
	require.Len(t, os, 2)
	require.Equal(t, c.ID, os[0].ID, "declared order, not finish order")
	require.JSONEq(t, `"c"`, string(os[0].Result))
	require.Equal(t, b.ID, os[1].ID)
	require.Equal(t, tasks.Succeeded, os[1].State)
	require.Equal(t, []string{c.ID, b.ID}, done.Parents)
	ra, err := e.client.Get(context.Background(), a.ID)
	require.NoError(t, err)
	require.Equal(t, []string{b.ID, c.ID}, ra.Children)
}

func TestFanOutAndFanIn(t *testing.T) {
	t.Parallel()
	e := depsSetup(t, Config{Workers: 8})
	e.start()
	root := e.submit(tasks.Spec{Name: "record", Args: json.RawMessage(`"root"`), In: 100 * time.Millisecond})
	var mids []string
	for range 100 {
		mids = append(mids, e.submit(tasks.Spec{Name: "parents", After: []string{root.ID}}).ID)
	}
	sink := e.submit(tasks.Spec{Name: "parents", After: mids})
	done := e.wait(sink.ID, 20*time.Second)
	require.Equal(t, tasks.Succeeded, done.State)
	os := outcomes(t, done)
	require.Len(t, os, 100)
	for i, o := range os {
		require.Equal(t, mids[i], o.ID)
		require.Equal(t, tasks.Succeeded, o.State)
	}
	for _, id := range append(mids, root.ID, sink.ID) {
		require.Equal(t, 1, e.runs.count(id))
	}
}

func TestChildSubmittedAfterItsParentFinished(t *testing.T) {
	t.Parallel()
	e := depsSetup(t, Config{Workers: 2})
	e.start()
	p := e.submit(tasks.Spec{Name: "record", Args: json.RawMessage(`{"v":7}`)})
	e.wait(p.ID, 5*time.Second)
	c := e.submit(tasks.Spec{Name: "parents", After: []string{p.ID}})
	done := e.wait(c.ID, 5*time.Second)
	require.Equal(t, tasks.Succeeded, done.State)
	require.JSONEq(t, `{"v":7}`, string(outcomes(t, done)[0].Result))

	bad := e.submit(tasks.Spec{Name: "fail", Args: json.RawMessage(`"broken"`)})
	e.wait(bad.ID, 5*time.Second)
	late := e.submit(tasks.Spec{Name: "parents", After: []string{bad.ID}})
	done = e.wait(late.ID, 5*time.Second)
	require.Equal(t, tasks.Failed, done.State)
	require.Contains(t, done.Error, bad.ID)
	require.Zero(t, e.runs.count(late.ID))
	rp, err := e.client.Get(context.Background(), p.ID)
	require.NoError(t, err)
	require.Equal(t, []string{c.ID}, rp.Children)
}

func TestFailurePoliciesApplyDownTheGraph(t *testing.T) {
	t.Parallel()
	e := depsSetup(t, Config{Workers: 4})
	e.start()
	for _, c := range []struct {
		policy            tasks.Policy
		child, grandchild tasks.State
		childRuns         bool
	}{
		{tasks.PolicyFail, tasks.Failed, tasks.Failed, false},
		{tasks.PolicySkip, tasks.Canceled, tasks.Canceled, false},
		{tasks.PolicyRun, tasks.Succeeded, tasks.Succeeded, true},
	} {
		p := e.submit(tasks.Spec{Name: "fail", Args: json.RawMessage(`"parent broke"`), In: 50 * time.Millisecond})
		child := e.submit(tasks.Spec{Name: "parents", After: []string{p.ID}, OnParentFailure: c.policy})
		grand := e.submit(tasks.Spec{Name: "parents", After: []string{child.ID}})
		gc := e.wait(grand.ID, 10*time.Second)
		ch, err := e.client.Get(context.Background(), child.ID)
		require.NoError(t, err)
		require.Equal(t, c.child, ch.State, c.policy)
		require.Equal(t, c.grandchild, gc.State, c.policy)
		require.Equal(t, c.childRuns, e.runs.count(child.ID) == 1, c.policy)
		if c.childRuns {
			os := outcomes(t, ch)
			require.Equal(t, tasks.Failed, os[0].State)
			require.Equal(t, `"parent broke"`, os[0].Error)
		} else {
			require.Contains(t, ch.Error, "parent "+p.ID)
			require.Contains(t, gc.Error, "parent "+child.ID)
			require.Zero(t, e.runs.count(grand.ID))
		}
	}
}

func TestRetriedParentHasNotFinished(t *testing.T) {
	t.Parallel()
	e := depsSetup(t, Config{Workers: 2, RetryBase: 20 * time.Millisecond, RetryCap: 20 * time.Millisecond})
	var calls atomic.Int32
	e.reg.Register("flaky", func(ctx context.Context, c *tasks.Call) (any, error) {
		if calls.Add(1) == 1 {
			return nil, errors.New("first try fails")
		}
		return "second try", nil
	})
	e.start()
	p := e.submit(tasks.Spec{Name: "flaky", MaxAttempts: 2})
	c := e.submit(tasks.Spec{Name: "parents", After: []string{p.ID}})
	done := e.wait(c.ID, 5*time.Second)
	require.Equal(t, tasks.Succeeded, done.State)
	os := outcomes(t, done)
	require.Equal(t, tasks.Succeeded, os[0].State)
	require.JSONEq(t, `"second try"`, string(os[0].Result))
}

func TestCancelCascadesToPendingDescendants(t *testing.T) {
	t.Parallel()
	e := depsSetup(t, Config{Workers: 2})
	e.start()
	p := e.submit(tasks.Spec{Name: "record", In: time.Hour})
	child := e.submit(tasks.Spec{Name: "parents", After: []string{p.ID}, OnParentFailure: tasks.PolicySkip})
	grand := e.submit(tasks.Spec{Name: "parents", After: []string{child.ID}})
	runs := e.submit(tasks.Spec{Name: "parents", After: []string{p.ID, child.ID}, OnParentFailure: tasks.PolicyRun})
	rec, err := e.client.Get(context.Background(), child.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Waiting, rec.State)
	_, err = e.client.Cancel(context.Background(), p.ID)
	require.NoError(t, err)
	for _, id := range []string{child.ID, grand.ID} {
		done := e.wait(id, 5*time.Second)
		require.Equal(t, tasks.Canceled, done.State)
		require.Contains(t, done.Error, "was canceled")
		require.Zero(t, e.runs.count(id))
		require.Zero(t, done.Attempts, "it never ran")
		require.True(t, done.StartedAt.IsZero(), "it never started")
	}
	// A run child waits for every parent, however it ended, and then runs.
	done := e.wait(runs.ID, 5*time.Second)
	require.Equal(t, tasks.Succeeded, done.State)
	require.Equal(t, 1, e.runs.count(runs.ID))
	for _, o := range done.Outcomes {
		require.Equal(t, tasks.Canceled, o.State)
	}
}

func TestCancelWaitingTaskDoomsItsChildren(t *testing.T) {
	t.Parallel()
	e := depsSetup(t, Config{Workers: 2})
	e.start()
	p := e.submit(tasks.Spec{Name: "record", In: time.Hour})
	child := e.submit(tasks.Spec{Name: "parents", After: []string{p.ID}})
	grand := e.submit(tasks.Spec{Name: "parents", After: []string{child.ID}})
	_, err := e.client.Cancel(context.Background(), child.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Canceled, e.wait(grand.ID, 5*time.Second).State)
	st, err := e.client.Stats(context.Background())
	require.NoError(t, err)
	require.Zero(t, st.States[tasks.Waiting])
}

func TestParentFinishingWakesNoLoopUnlessAChildIsReady(t *testing.T) {
	t.Parallel()
	e := depsSetup(t, Config{Workers: 2})
	ctx := context.Background()
	s := e.start()
	ps := e.rdb.Subscribe(ctx, e.keys.Announce("default"))
	defer ps.Close()
	_, err := ps.Receive(ctx) // subscribed
	require.NoError(t, err)

	far := e.submit(tasks.Spec{Name: "record", In: time.Hour})
	p := e.submit(tasks.Spec{Name: "record"})
	child := e.submit(tasks.Spec{Name: "parents", After: []string{p.ID, far.ID}})
	e.wait(p.ID, 5*time.Second)
	claims := s.Counters().Claimed
	marker := e.submit(tasks.Spec{Name: "record"})
	var seen []string
	for {
		msg, err := ps.ReceiveMessage(ctx)
		require.NoError(t, err)
		seen = append(seen, msg.Payload)
		if len(seen) > 10 || msg.Payload[len(msg.Payload)-len(marker.ID):] == marker.ID {
			break
		}
	}
	// far (the head at first), p (the new head), the marker: p's finish
	// released nobody, so it announced nothing.
	require.Len(t, seen, 3, "announcements: %v", seen)
	e.wait(marker.ID, 5*time.Second)
	require.Equal(t, claims+1, s.Counters().Claimed, "only the marker was claimed")
	rec, err := e.client.Get(ctx, child.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Waiting, rec.State)
	require.Equal(t, 1, rec.Pending)
	require.Len(t, rec.Outcomes, 1)
}

func TestWorkflowIsWrittenAtOnceAndRuns(t *testing.T) {
	t.Parallel()
	e := depsSetup(t, Config{Workers: 4})
	e.start()
	w := &deps.Workflow{Nodes: []deps.Node{
		{Name: "report", Spec: tasks.Spec{Name: "parents"}, After: []string{"left", "right"}},
		{Name: "left", Spec: tasks.Spec{Name: "record", Args: json.RawMessage(`"L"`)}, After: []string{"fetch"}},
		{Name: "right", Spec: tasks.Spec{Name: "record", Args: json.RawMessage(`"R"`)}, After: []string{"fetch"}},
		{Name: "fetch", Spec: tasks.Spec{Name: "record", Args: json.RawMessage(`"F"`), In: 50 * time.Millisecond}},
	}}
	sw, err := e.client.SubmitWorkflow(context.Background(), w)
	ids := sw.Tasks
	require.NoError(t, err)
	require.Len(t, ids, 4)
	done := e.wait(ids["report"], 10*time.Second)
	require.Equal(t, tasks.Succeeded, done.State)
	os := outcomes(t, done)
	require.Equal(t, []string{ids["left"], ids["right"]}, []string{os[0].ID, os[1].ID})
	require.JSONEq(t, `"R"`, string(os[1].Result))
	fetch, err := e.client.Get(context.Background(), ids["fetch"])
	require.NoError(t, err)
	require.ElementsMatch(t, []string{ids["left"], ids["right"]}, fetch.Children)
}
