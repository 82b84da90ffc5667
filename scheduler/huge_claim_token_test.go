package scheduler

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/internal/testutil"
	"github.com/dueq/dueq/tasks"
)

// A record whose claim token (field run) is a number too large for a
// count is corrupt, and its claim fails it with that reason, rather than
// writing the token back as "1e+20", refusing its own finish and sending
// the task round lease recoveries. (Real Redis: its Lua formats the
// number.)
func TestARecordWithAHugeClaimTokenFailsAsCorrupt(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: testutil.RedisServer(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	reg := tasks.NewRegistry()
	reg.Register("record", func(context.Context, *tasks.Call) (any, error) { return nil, nil })
	cfg := Config{Workers: 1, Lease: 500 * time.Millisecond, MaxRecoveries: new(1), SafetyWait: 200 * time.Millisecond}
	k, err := store.NewKeys("dueq")
	require.NoError(t, err)
	past := strconv.FormatInt(time.Now().Add(-time.Minute).UnixMilli(), 10)
	require.NoError(t, rdb.HSet(ctx, k.Task("01HUGERUN"), "v", "3", "name", "record", "queue", "default",
		"state", "scheduled", "x", `{"a":{},"m":1}`, "due", past, "created", past, "run", "100000000000000000000").Err())
	require.NoError(t, rdb.ZAdd(ctx, k.Due("default"), redis.Z{Score: 1, Member: "01HUGERUN"}).Err())
	s, err := New(rdb, reg, cfg)
	require.NoError(t, err)
	require.NoError(t, s.Start(ctx))
	t.Cleanup(func() { _ = s.Stop(ctx) })
	var st []any
	require.Eventually(t, func() bool {
		st = rdb.HMGet(ctx, k.Task("01HUGERUN"), "state", "error").Val()
		return st[0] == "failed"
	}, 10*time.Second, 10*time.Millisecond)
	require.Contains(t, st[1], "corrupt task record", "it failed for another reason")
}
