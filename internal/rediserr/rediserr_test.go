package rediserr_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/rediserr"
	"github.com/dueq/dueq/internal/testutil"
)

// client returns a go-redis client of addr that does not retry, closed when
// the test ends.
func client(t *testing.T, addr string) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// replied returns the error go-redis gives for a command on a miniredis
// that answers every command with the error reply msg.
func replied(t *testing.T, msg string) error {
	t.Helper()
	mr := miniredis.RunT(t)
	mr.SetError(msg)
	err := client(t, mr.Addr()).Set(context.Background(), "k", "v", 0).Err()
	require.Error(t, err)
	return err
}

// A write on a Redis at maxmemory with noeviction, plain or from a script,
// is an OOM refusal whose description says so and keeps Redis's words.
func TestOutOfMemory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := client(t, testutil.RedisServer(t, "--maxmemory", "1mb", "--maxmemory-policy", "noeviction"))
	big := strings.Repeat("x", 16<<10)
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		err = rdb.Set(ctx, fmt.Sprintf("fill:%d", i), big, 0).Err()
	}
	require.ErrorContains(t, err, "OOM command not allowed", "1000 writes of 16 KiB did not fill 1 MB")
	script := redis.NewScript(`return redis.call('SET', KEYS[1], ARGV[1])`)
	scriptErr := script.Run(ctx, rdb, []string{"k"}, "v").Err()
	require.ErrorContains(t, scriptErr, "OOM command not allowed")

	for _, err := range []error{err, scriptErr, fmt.Errorf("submit 1 tasks: %w", scriptErr)} {
		require.True(t, rediserr.Refused(err), "%v", err)
		require.Equal(t, "OOM", rediserr.Code(err))
		described := rediserr.Describe(err)
		require.True(t, strings.HasPrefix(described.Error(),
			"Redis is out of memory (maxmemory): it refuses writes until memory is freed or maxmemory is raised: "), described.Error())
		require.Contains(t, described.Error(), err.Error(), "Redis's own words are kept")
		require.ErrorIs(t, described, err)
		var re *rediserr.Error
		require.ErrorAs(t, described, &re)
		require.Equal(t, "OOM", re.Code)
		again := fmt.Errorf("again: %w", described)
		require.Same(t, again, rediserr.Describe(again), "a described error is not described twice")
	}
	require.NoError(t, rdb.Get(ctx, "fill:0").Err(), "reads still work: only writes are refused")
}

// Writes on a replica are READONLY; a replica that lost its primary and
// does not serve stale data answers MASTERDOWN; a primary short of
// min-replicas-to-write answers NOREPLICAS.
func TestReplicaRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dead := fmt.Sprint(testutil.FreePort(t)) // no primary listens there

	replica := client(t, testutil.RedisServer(t, "--replicaof", "127.0.0.1", dead))
	err := replica.Set(ctx, "k", "v", 0).Err()
	require.Equal(t, "READONLY", rediserr.Code(err), "%v", err)
	require.True(t, strings.HasPrefix(rediserr.Describe(err).Error(), "Redis is a read-only replica: it refuses writes: point redis.url at the primary: READONLY "), rediserr.Describe(err).Error())

	stale := client(t, testutil.RedisServer(t, "--replicaof", "127.0.0.1", dead, "--replica-serve-stale-data", "no"))
	err = stale.Get(ctx, "k").Err()
	require.Equal(t, "MASTERDOWN", rediserr.Code(err), "%v", err)
	require.Contains(t, rediserr.Describe(err).Error(), "Redis is a replica that lost its link to the primary (MASTERDOWN)")

	lonely := client(t, testutil.RedisServer(t, "--min-replicas-to-write", "1"))
	err = lonely.Set(ctx, "k", "v", 0).Err()
	require.Equal(t, "NOREPLICAS", rediserr.Code(err), "%v", err)
	require.Contains(t, rediserr.Describe(err).Error(), "min-replicas-to-write (NOREPLICAS)")
}

// A command sent while a script runs past busy-reply-threshold is BUSY.
func TestBusy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr := testutil.RedisServer(t, "--busy-reply-threshold", "20")
	looping := make(chan error, 1)
	go func() { looping <- client(t, addr).Eval(ctx, "while true do end", nil).Err() }()
	other := client(t, addr)
	var err error
	require.Eventually(t, func() bool {
		err = other.Ping(ctx).Err()
		return err != nil
	}, 10*time.Second, 5*time.Millisecond, "the script did not make Redis busy")
	require.Equal(t, "BUSY", rediserr.Code(err), "%v", err)
	require.Contains(t, rediserr.Describe(err).Error(), "Redis is busy running a script or function (BUSY): it refuses commands until it ends: BUSY ")
	require.NoError(t, other.ScriptKill(ctx).Err())
	require.Error(t, <-looping)
}

// The refusals of a cluster or a loading Redis, as go-redis parses them.
func TestOtherRefusals(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ reply, code, want string }{
		{"LOADING Redis is loading the dataset in memory", "LOADING", "Redis is loading its dataset into memory (LOADING)"},
		{"CLUSTERDOWN The cluster is down", "CLUSTERDOWN", "the Redis Cluster is down (CLUSTERDOWN)"},
		{"TRYAGAIN Multiple keys request during rehashing of slot", "TRYAGAIN", "(TRYAGAIN)"},
		{"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.", "MASTERDOWN", "(MASTERDOWN)"},
		{"ERR OOM command not allowed when used memory > 'maxmemory'.", "OOM", "Redis is out of memory"}, // KVRocks style
	} {
		err := replied(t, c.reply)
		require.True(t, rediserr.Refused(err), "%s: %v", c.reply, err)
		require.Equal(t, c.code, rediserr.Code(err))
		require.Contains(t, rediserr.Describe(err).Error(), c.want)
		require.Contains(t, rediserr.Describe(err).Error(), err.Error())
	}
}

// NOSCRIPT, errors of the command and errors of the connection are not
// refusals: Describe gives them back unchanged.
func TestNotRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mr := miniredis.RunT(t)
	rdb := client(t, mr.Addr())
	noscript := rdb.EvalSha(ctx, "0000000000000000000000000000000000000000", nil).Err()
	require.ErrorContains(t, noscript, "NOSCRIPT")
	require.NoError(t, rdb.Set(ctx, "s", "v", 0).Err())
	wrongType := rdb.LPush(ctx, "s", "x").Err()
	require.ErrorContains(t, wrongType, "WRONGTYPE")
	missing := rdb.Get(ctx, "none").Err()
	require.ErrorIs(t, missing, redis.Nil)
	closed := client(t, mr.Addr())
	mr.Close()
	refused := closed.Ping(ctx).Err()
	require.Error(t, refused)

	for name, err := range map[string]error{
		"NOSCRIPT": noscript, "WRONGTYPE": wrongType, "nil": missing, "connection": refused,
		"BUSYKEY":   replied(t, "BUSYKEY Target key name already exists."),
		"ERR":       replied(t, "ERR unknown command 'FOO'"),
		"canceled":  context.Canceled,
		"plain OOM": errors.New("OOM but not from Redis"),
		"none":      nil,
	} {
		require.False(t, rediserr.Refused(err), "%s: %v", name, err)
		require.Empty(t, rediserr.Code(err), name)
		require.Equal(t, err, rediserr.Describe(err), name)
	}
}
