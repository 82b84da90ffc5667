package bench

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/testutil"
)

// scratchRedis starts a redis-server on a free port for one test: the
// figures come from INFO, which only a real Redis has.
func scratchRedis(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("DUEQ_REQUIRE_REDIS") == "1" {
			t.Fatal("redis-server is not installed and DUEQ_REQUIRE_REDIS=1")
		}
		t.Skip("redis-server is not installed: skipping the benchmark driver's tests")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	cmd := exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	testutil.DieWithTests(cmd)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	require.Eventually(t, func() bool { return rdb.Ping(context.Background()).Err() == nil }, 10*time.Second, 10*time.Millisecond)
	return "redis://" + addr
}

func TestEveryModeReportsItsFigures(t *testing.T) {
	t.Parallel()
	url := scratchRedis(t)
	ctx := context.Background()
	for _, c := range []struct {
		opt   Options
		check func(*Result)
	}{
		{Options{Mode: "throughput", Tasks: 300, Workers: 4}, func(r *Result) {
			require.Positive(t, *r.TasksPerS)
			require.Positive(t, *r.RedisCPUUsPerTask)
			require.Positive(t, *r.RedisCmdsPerTask)
			require.Positive(t, *r.RoundTripsPerTask)
		}},
		{Options{Mode: "lateness", Tasks: 100, Seconds: 0.5, Daemons: 2}, func(r *Result) {
			require.GreaterOrEqual(t, *r.LatenessP50Ms, 0.0, "never early")
			require.GreaterOrEqual(t, *r.LatenessMaxMs, *r.LatenessP99Ms)
		}},
		{Options{Mode: "throughput", Tasks: 300, Workers: 4, Partitions: 4}, func(r *Result) {
			require.Equal(t, 4, r.Partitions)
			require.Positive(t, *r.TasksPerS, "every task ran, whichever of the 4 partitions it went to")
		}},
		{Options{Mode: "dag", Tasks: 50, Seconds: 0.5}, func(r *Result) {
			require.NotNil(t, r.ReleaseP99Ms)
			require.Positive(t, *r.TasksPerS)
		}},
		{Options{Mode: "idle", Seconds: 1}, func(r *Result) {
			require.NotNil(t, r.IdleCmdsPerS)
		}},
		{Options{Mode: "scale", Tasks: 1000}, func(r *Result) {
			require.Positive(t, *r.RedisBytesPerTask)
			require.Positive(t, *r.ClaimMs, "claims timed on top of the index")
			require.GreaterOrEqual(t, *r.LatenessP50Ms, 0.0)
		}},
	} {
		c.opt.RedisURL = url
		res, err := Run(ctx, c.opt)
		require.NoError(t, err, c.opt.Mode)
		require.Equal(t, "dueq", res.System)
		require.Equal(t, c.opt.Mode, res.Mode)
		require.Contains(t, res.JSON(), `"mode":"`+c.opt.Mode+`"`)
		c.check(res)
	}
}

func TestBadOptionsAreRefused(t *testing.T) {
	t.Parallel()
	for _, opt := range []Options{
		{Mode: "throughput"},
		{RedisURL: "redis://127.0.0.1:1", Mode: "sideways"},
		{RedisURL: "mysql://x", Mode: "idle"},
		{RedisURL: "redis://127.0.0.1:1", Mode: "idle", Workers: -1},
	} {
		_, err := Run(context.Background(), opt)
		require.Error(t, err, "%+v", opt)
	}
}

// On a Redis Cluster the figures add up every primary's, and each
// primary's share of them is reported.
func TestOnAClusterEachShardsShareIsReported(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("DUEQ_REQUIRE_REDIS") == "1" {
			t.Fatal("redis-server is not installed and DUEQ_REQUIRE_REDIS=1")
		}
		t.Skip("redis-server is not installed: skipping the benchmark driver's tests")
	}
	dir := filepath.Join(t.TempDir(), "cluster")
	start := exec.Command("bash", "../scripts/redis-cluster.sh", "start", dir)
	start.Env = append(os.Environ(), "OWNER_PID="+strconv.Itoa(os.Getpid())) // stopped even if this binary crashes
	out, err := start.CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Cleanup(func() { _ = exec.Command("bash", "../scripts/redis-cluster.sh", "stop", dir).Run() })
	url := strings.TrimSpace(string(out))
	require.True(t, strings.HasPrefix(url, "redis-cluster://"), url)

	res, err := Run(context.Background(), Options{RedisURL: url, Mode: "throughput", Tasks: 300, Workers: 4})
	require.NoError(t, err)
	require.Positive(t, *res.RedisCPUUsPerTask)
	require.Len(t, res.Shards, 3, "one per primary")
	var cpu, cmds float64
	for _, sh := range res.Shards {
		require.GreaterOrEqual(t, sh.CPUShare, 0.0)
		cpu += sh.CPUShare
		cmds += sh.CmdsShare
	}
	require.InDelta(t, 1, cpu, 0.001)
	require.InDelta(t, 1, cmds, 0.001)
	require.Contains(t, res.JSON(), `"shards":[{"addr":"127.0.0.1:`)
}
