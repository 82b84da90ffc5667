package testutil

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// RedisServer starts a redis-server with the extra arguments (e.g.
// "--maxmemory", "1mb") on a free loopback port in a temporary directory,
// without persistence, waits until it answers (an error reply counts), stops it when the test ends,
// and returns its address. Without a redis-server binary it skips the test,
// unless DUEQ_REQUIRE_REDIS=1 (as in CI), which makes it fail instead.
func RedisServer(t testing.TB, extra ...string) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("DUEQ_REQUIRE_REDIS") == "1" {
			t.Fatal("redis-server is not installed and DUEQ_REQUIRE_REDIS=1: install it (apt-get install -y redis-server)")
		}
		t.Skip("redis-server is not installed: skipping a real-Redis test (set DUEQ_REQUIRE_REDIS=1 to fail instead)")
	}
	dir, port := t.TempDir(), strconv.Itoa(FreePort(t))
	args := append([]string{"--port", port, "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log")}, extra...)
	cmd := exec.Command(path, args...)
	DieWithTests(cmd)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := "127.0.0.1:" + port
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	require.Eventually(t, func() bool {
		err := rdb.Ping(context.Background()).Err()
		var reply redis.Error // a stale replica answers MASTERDOWN: it runs
		return err == nil || errors.As(err, &reply)
	},
		10*time.Second, 10*time.Millisecond, "redis-server did not start on %s (log: %s)", addr, filepath.Join(dir, "redis.log"))
	return addr
}
