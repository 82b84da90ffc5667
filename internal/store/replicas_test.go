package store_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/internal/testutil"
	"github.com/dueq/dueq/tasks"
)

type localClock struct{}

func (localClock) Now() time.Time { return time.Now() }

func scheduledTask() *tasks.Task {
	return &tasks.Task{ID: ulid.Make().String(), Name: "t", Args: json.RawMessage(`{}`), Queue: "default",
		State: tasks.Scheduled, MaxAttempts: 1, OnParentFailure: tasks.PolicyFail}
}

// commandLog records the name of every command sent, alone or in a pipeline.
type commandLog struct {
	mu    sync.Mutex
	names []string
}

func (*commandLog) DialHook(next redis.DialHook) redis.DialHook { return next }

func (l *commandLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		l.add(cmd)
		return next(ctx, cmd)
	}
}

func (l *commandLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		l.add(cmds...)
		return next(ctx, cmds)
	}
}

func (l *commandLog) add(cmds ...redis.Cmder) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range cmds {
		l.names = append(l.names, c.Name())
	}
}

// A store that waits for replicas answers a submit once the replica has
// it, and, asked for more replicas than there are, says which tasks were
// written without their confirmation; those tasks are there all the same.
func TestASubmitWaitsForReplicas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	primary := testutil.RedisServer(t)
	host, port, _ := strings.Cut(primary, ":")
	replica := testutil.RedisServer(t, "--replicaof", host, port)
	rdb := redis.NewClient(&redis.Options{Addr: primary})
	t.Cleanup(func() { _ = rdb.Close() })
	rep := redis.NewClient(&redis.Options{Addr: replica})
	t.Cleanup(func() { _ = rep.Close() })
	require.Eventually(t, func() bool {
		info, err := rep.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	}, 10*time.Second, 10*time.Millisecond, "the replica syncs")
	keys, _ := store.NewKeys("dueq")

	st := store.New(rdb, keys, time.Hour, localClock{})
	st.WaitForReplicas(1, nil)
	a := scheduledTask()
	out, err := st.Submit(ctx, store.SubmitParams{Tasks: []*tasks.Task{a}, NewQueue: func(*tasks.Task) bool { return true }})
	require.NoError(t, err)
	require.True(t, out[0].Created)
	n, err := rep.Exists(ctx, keys.Task(a.ID)).Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "answered only once the replica has it")

	st2 := store.New(rdb, keys, time.Hour, localClock{})
	st2.WaitForReplicas(2, nil)
	b, c := scheduledTask(), scheduledTask()
	start := time.Now()
	_, err = st2.Submit(ctx, store.SubmitParams{Tasks: []*tasks.Task{b, c}, NewQueue: func(*tasks.Task) bool { return false }})
	require.ErrorIs(t, err, store.ErrNotReplicated)
	require.GreaterOrEqual(t, time.Since(start), store.ReplicaWait, "it waited for the second replica")
	require.ErrorContains(t, err, b.ID)
	require.ErrorContains(t, err, c.ID)
	require.ErrorContains(t, err, "only 1 of 2 replicas")
	for _, id := range []string{b.ID, c.ID} {
		got, err := st2.Get(ctx, id)
		require.NoError(t, err, "written all the same")
		require.Equal(t, tasks.Scheduled, got.State)
	}

	// Any other write says so too: a cancel.
	_, err = st2.Cancel(ctx, store.CancelParams{ID: b.ID})
	require.ErrorIs(t, err, store.ErrNotReplicated)
	got, err := st2.Get(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Canceled, got.State)

	// A store that does not wait sends no WAIT.
	log := &commandLog{}
	rdb2 := redis.NewClient(&redis.Options{Addr: primary})
	t.Cleanup(func() { _ = rdb2.Close() })
	rdb2.AddHook(log)
	st3 := store.New(rdb2, keys, time.Hour, localClock{})
	_, err = st3.Submit(ctx, store.SubmitParams{Tasks: []*tasks.Task{scheduledTask()}, NewQueue: func(*tasks.Task) bool { return false }})
	require.NoError(t, err)
	require.Contains(t, log.names, "evalsha")
	require.NotContains(t, log.names, "wait")
}
