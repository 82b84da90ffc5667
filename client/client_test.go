package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

func TestIdempotencyKeyReturnsTheFirstTask(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{Workers: 1})
	first := e.submit(tasks.Spec{Name: "record", Key: "k1", In: time.Hour})
	keys := len(e.mr.Keys())
	second := e.submit(tasks.Spec{Name: "record", Key: "k1", Args: json.RawMessage(`{"other":true}`)})
	require.Equal(t, first.ID, second.ID)
	require.JSONEq(t, `{}`, string(second.Args))
	require.Len(t, e.mr.Keys(), keys, "the second submit wrote nothing")
}

func TestInvalidSpecsAreRejectedAndWriteNothing(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{})
	for name, spec := range map[string]tasks.Spec{
		"no name":          {},
		"bad name":         {Name: "has space"},
		"bad queue":        {Name: "record", Queue: "a b"},
		"bad args":         {Name: "record", Args: json.RawMessage(`{"a":`)},
		"negative in":      {Name: "record", In: -time.Second},
		"in and at":        {Name: "record", In: time.Second, At: time.Now()},
		"negative timeout": {Name: "record", Timeout: -time.Second},
		"max attempts":     {Name: "record", MaxAttempts: -1},
		"long key":         {Name: "record", Key: string(make([]byte, 300))},
	} {
		_, err := e.client.Submit(context.Background(), spec)
		require.ErrorIs(t, err, tasks.ErrInvalid, name)
	}
	require.Empty(t, e.mr.Keys())
}

func TestSubmitManyWritesEveryTaskOrNone(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{Workers: 4})
	ctx := context.Background()
	specs := make([]tasks.Spec, 2500) // three pipelines
	for i := range specs {
		specs[i] = tasks.Spec{Name: "record", Args: json.RawMessage(fmt.Sprint(i))}
	}
	specs[7].Key = "bulk-key"
	before := e.submit(tasks.Spec{Name: "record", Key: "bulk-key", In: time.Hour})
	require.NoError(t, e.rdb.ScriptFlush(ctx).Err()) // the bulk path reloads a script Redis forgot
	ts, err := e.client.SubmitMany(ctx, specs)
	require.NoError(t, err)
	require.Len(t, ts, len(specs))
	require.Equal(t, before.ID, ts[7].ID, "a used key returns the first task")
	e.start()
	for i, task := range ts {
		if i == 7 {
			continue
		}
		done := e.wait(task.ID, 20*time.Second)
		require.Equal(t, tasks.Succeeded, done.State)
		require.JSONEq(t, fmt.Sprint(i), string(done.Result))
	}

	keys := len(e.mr.Keys())
	_, err = e.client.SubmitMany(ctx, []tasks.Spec{{Name: "record"}, {Name: "record", In: -time.Second}})
	require.ErrorIs(t, err, tasks.ErrInvalid)
	require.ErrorContains(t, err, "spec 1")
	require.Len(t, e.mr.Keys(), keys, "nothing written")
}

func TestRetryRunsAFailedTaskAgainWithFreshAttempts(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{Workers: 2})
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
	e := setup(t, scheduler.Config{Workers: 2})
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
