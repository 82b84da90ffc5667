package tests

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/testutil"
)

// A replica is checked at start as its primary is: one that would evict
// keys (it becomes the primary after a failover) stops the daemon with
// the fix, naming that replica; set right, the daemon starts.
func TestServeChecksEveryServerOfAClusterOrSentinel(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	if r.topo == single {
		t.Skip("one server has no replicas: run with DUEQ_TEST_REDIS=cluster or sentinel (make test-cluster, make test-sentinel)")
	}
	ctx := context.Background()
	var replica, name string
	switch r.topo {
	case cluster:
		// CLUSTER SHARDS: a replica of a new cluster can be missing from
		// CLUSTER SLOTS, and so from the cluster client's own view.
		shards, err := r.client(t).ClusterShards(ctx).Result()
		require.NoError(t, err)
		for _, sh := range shards {
			for _, n := range sh.Nodes {
				if n.Role == "replica" {
					replica = "127.0.0.1:" + strconv.FormatInt(n.Port, 10)
				}
			}
		}
		name = "cluster node " + replica
	case sentinel:
		primary := r.script(t, "primary", r.dir)
		data, err := os.ReadFile(filepath.Join(r.dir, "data"))
		require.NoError(t, err)
		for _, p := range strings.Fields(string(data)) {
			if p != primary {
				replica = "127.0.0.1:" + p
			}
		}
		name = "replica " + replica
	}
	require.NotEmpty(t, replica)
	rc := redis.NewClient(&redis.Options{Addr: replica})
	t.Cleanup(func() { _ = rc.Close() })
	require.NoError(t, rc.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err())

	http := "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
	res := dueq(t, "http://"+http, "serve", "--redis", r.URL, "--http", http)
	require.Equal(t, 2, res.Code, "stdout: %s\nstderr: %s", res.Stdout, res.Stderr)
	require.Contains(t, res.Stderr, "the Redis at "+name)
	require.Contains(t, res.Stderr, "evicts keys when full (maxmemory-policy allkeys-lru): dueq would lose tasks: run CONFIG SET maxmemory-policy noeviction there")
	require.NotContains(t, res.Stderr, "dueq daemon running")

	require.NoError(t, rc.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err())
	d := startDaemon(t, r.URL)
	require.Contains(t, mustDueq(t, d.URL, "submit", "echo", `{"a":1}`, "--wait"), `{"a":1}`)
}
