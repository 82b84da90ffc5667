package store

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/testutil"
	"github.com/dueq/dueq/tasks"
)

// A claim that raises an error (here the queue's lease set is a string,
// written by hand) takes no task: a task it had taken out of the due index
// and marked running without entering its lease would be in no index and
// run by nobody, for ever. Once the key is mended, the next claim takes it.
// On miniredis and on a real Redis, whose pcall sees redis.call's errors
// as tables.
func TestAFailedClaimLeavesItsTasksDue(t *testing.T) {
	t.Parallel()
	for name, addr := range map[string]func(t *testing.T) string{
		"miniredis": func(t *testing.T) string { return miniredis.RunT(t).Addr() },
		"redis":     func(t *testing.T) string { return testutil.RedisServer(t) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			rdb := redis.NewClient(&redis.Options{Addr: addr(t)})
			t.Cleanup(func() { _ = rdb.Close() })
			keys, err := NewKeys("dueq")
			require.NoError(t, err)
			st := New(rdb, keys, time.Hour, systemClock{})
			a, b := newTask("default"), newTask("other")
			_, err = st.Submit(ctx, SubmitParams{Tasks: []*tasks.Task{a, b}, NewQueue: func(*tasks.Task) bool { return true }})
			require.NoError(t, err)
			cl := NewClaimer("d", []string{"t"}, time.Minute)
			got, err := st.Claim(ctx, ClaimParams{Queue: "default", Claimer: cl, Want: 1, Heads: 4, Candidates: Plain(a.ID)})
			require.NoError(t, err)
			require.Len(t, got.Got, 1)
			require.NoError(t, rdb.Set(ctx, keys.Lease("other"), "written by hand", 0).Err())

			fin := &Finishing{Task: got.Got[0].Task, State: tasks.Succeeded, Result: []byte(`1`), Ran: true}
			res := st.FinishAndClaim(ctx, FinishParams{Tasks: []*Finishing{fin}},
				ClaimParams{Queue: "other", Claimer: cl, Want: 1, Heads: 4, Candidates: Plain(b.ID)})
			require.NoError(t, res.FinishErr)
			require.ErrorIs(t, res.ClaimErr, ErrClaimScript)
			require.Contains(t, res.ClaimErr.Error(), "WRONGTYPE")

			rec, err := st.Get(ctx, b.ID)
			require.NoError(t, err)
			require.Equal(t, tasks.Scheduled, rec.State, "the failed claim did not take it")
			require.Zero(t, rec.Attempts)
			_, err = rdb.ZScore(ctx, keys.Due("other"), b.ID).Result()
			require.NoError(t, err, "it is still due")

			require.NoError(t, rdb.Del(ctx, keys.Lease("other")).Err())
			again, err := st.Claim(ctx, ClaimParams{Queue: "other", Claimer: cl, Want: 1, Heads: 4, Candidates: Plain(b.ID)})
			require.NoError(t, err)
			require.Len(t, again.Got, 1, "the mended queue's claim takes it")
			require.Equal(t, 1, again.Got[0].Task.Attempts)
		})
	}
}
