package tests

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/testutil"
)

// A Redis that evicts keys when full is refused at start (exit 2, as
// `dueq serve --help` says for a daemon that cannot start), with the fix in
// the message; with redis.allow_eviction: true in the config file the
// daemon starts, warns, and runs tasks.
func TestServeRefusesEvictingRedis(t *testing.T) {
	t.Parallel()
	r := startRedis(t, "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")

	http := "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
	res := dueq(t, "http://"+http, "serve", "--redis", r.URL, "--http", http)
	require.Equal(t, 2, res.Code, "stdout: %s\nstderr: %s", res.Stdout, res.Stderr)
	require.Contains(t, res.Stderr, "dueq: the Redis at "+r.URL+" evicts keys when full (maxmemory-policy allkeys-lru): dueq would lose tasks: run CONFIG SET maxmemory-policy noeviction there (and set it in redis.conf), or set redis.allow_eviction: true")
	require.NotContains(t, res.Stderr, "dueq daemon running")

	cfg := writeFile(t, "config.yaml", "redis:\n  url: "+r.URL+"\n  allow_eviction: true\n")
	d := startDaemon(t, "", "--config", cfg)
	require.Contains(t, d.out.String(), "level=WARN")
	require.Contains(t, d.out.String(), "evicts keys when full (maxmemory-policy allkeys-lru): tasks may be lost; redis.allow_eviction is true, so the daemon runs anyway")
	require.Contains(t, mustDueq(t, d.URL, "submit", "echo", `{"a":1}`, "--wait"), `{"a":1}`)
}

// A submit to a Redis at maxmemory says that Redis is out of memory, not
// that it is unavailable, and works again once memory is available.
func TestSubmitOnFullRedisSaysOutOfMemory(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	d := startDaemon(t, r.URL)
	rdb := r.client(t)
	ctx := context.Background()
	require.NoError(t, rdb.ConfigSet(ctx, "maxmemory", "1").Err()) // below what it uses: every write is refused
	t.Cleanup(func() { _ = rdb.ConfigSet(ctx, "maxmemory", "0").Err() })

	res := dueq(t, d.URL, "submit", "echo", `{"a":1}`)
	require.Equal(t, 2, res.Code, "stdout: %s\nstderr: %s", res.Stdout, res.Stderr)
	require.Contains(t, res.Stderr, "dueq: Redis is out of memory (maxmemory): it refuses writes until memory is freed or maxmemory is raised: ")
	require.Contains(t, res.Stderr, "OOM command not allowed when used memory > 'maxmemory'", "what Redis said")
	require.Contains(t, res.Stderr, "(HTTP 503 Service Unavailable)")
	require.False(t, strings.Contains(res.Stderr, "not available"), res.Stderr)

	require.NoError(t, rdb.ConfigSet(ctx, "maxmemory", "0").Err())
	require.Contains(t, mustDueq(t, d.URL, "submit", "echo", `{"a":1}`, "--wait"), `{"a":1}`)
}
