package tests

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// topology is the kind of Redis the end-to-end tests run on.
type topology string

const (
	single   topology = "single"   // one redis-server
	cluster  topology = "cluster"  // scripts/redis-cluster.sh: 3 primaries, 3 replicas
	sentinel topology = "sentinel" // scripts/redis-sentinel.sh: a primary, a replica, 3 sentinels
)

// testTopology is DUEQ_TEST_REDIS: single (the default), cluster or
// sentinel. `make test` runs the core, dependency, recurring and fault
// tests once more on each of the other two.
func testTopology(t *testing.T) topology {
	switch v := topology(os.Getenv("DUEQ_TEST_REDIS")); v {
	case "", single:
		return single
	case cluster, sentinel:
		return v
	default:
		t.Fatalf("DUEQ_TEST_REDIS=%q: use single, cluster or sentinel", v)
		return ""
	}
}

// scriptPath is the script that runs a topology.
func (tp topology) scriptPath() string {
	return filepath.Join("..", "scripts", "redis-"+string(tp)+".sh")
}

// script runs the topology's script with args and returns what it printed.
func (r *redisServer) script(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("bash", append([]string{r.topo.scriptPath()}, args...)...)
	// OWNER_PID: the servers the script starts run in the background, and
	// stop once this test binary exits, however it exits.
	cmd.Env = append(os.Environ(), "REDIS_ARGS="+strings.Join(r.extra, " "), "OWNER_PID="+strconv.Itoa(os.Getpid()))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s: %s", r.topo.scriptPath(), strings.Join(args, " "), out)
	return strings.TrimSpace(string(out))
}

// startTopology starts a cluster or a sentinel setup in r.dir.
func (r *redisServer) startTopology(t *testing.T) {
	t.Helper()
	r.dir = filepath.Join(r.dir, string(r.topo))
	r.URL = r.script(t, "start", r.dir)
	hosts := strings.TrimPrefix(r.URL, "redis-"+string(r.topo)+"://")
	r.Addr, _, _ = strings.Cut(hosts, ",")
}

// killAll kills every data server of a cluster or sentinel setup
// (SIGKILL), as their pid files name them, and the sentinels too when
// sentinels.
func (r *redisServer) killAll(sentinels bool) {
	pids, _ := filepath.Glob(filepath.Join(r.dir, "*", "pid"))
	for _, p := range pids {
		if strings.HasPrefix(filepath.Base(filepath.Dir(p)), "s") && !sentinels {
			continue // a sentinel's directory: sPORT
		}
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		_ = exec.Command("kill", "-9", strings.TrimSpace(string(b))).Run()
		_ = os.Remove(p)
	}
}

// client returns a client of r's Redis.
func (tp topology) client(r *redisServer) redis.UniversalClient {
	switch tp {
	case cluster:
		var addrs []string
		for _, a := range strings.Split(strings.TrimPrefix(r.URL, "redis-cluster://"), ",") {
			addrs = append(addrs, a)
		}
		cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
		cc.AddHook(allPrimariesKeys{cc})
		return cc
	case sentinel:
		hosts, master, _ := strings.Cut(strings.TrimPrefix(r.URL, "redis-sentinel://"), "/")
		return redis.NewFailoverClient(&redis.FailoverOptions{MasterName: master, SentinelAddrs: strings.Split(hosts, ",")})
	}
	return redis.NewClient(&redis.Options{Addr: r.Addr})
}

// allPrimariesKeys makes a cluster client's KEYS ask every primary and
// answer all they hold, as one server's does: alone, it asks one node,
// and a test that a request wrote nothing would pass whatever it wrote.
type allPrimariesKeys struct{ cc *redis.ClusterClient }

func (allPrimariesKeys) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h allPrimariesKeys) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		keys, ok := cmd.(*redis.StringSliceCmd)
		if !ok || cmd.Name() != "keys" || len(cmd.Args()) != 2 {
			return next(ctx, cmd)
		}
		pattern, _ := cmd.Args()[1].(string)
		var mu sync.Mutex
		var all []string
		err := h.cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			ks, err := node.Keys(ctx, pattern).Result()
			mu.Lock()
			all = append(all, ks...)
			mu.Unlock()
			return err
		})
		if err != nil {
			keys.SetErr(err)
			return err
		}
		keys.SetVal(all)
		return nil
	}
}

func (allPrimariesKeys) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
