// Package tests holds dueq's end-to-end tests: they build the binary and run
// daemons against a real redis-server started on a random port in a
// temporary directory. Without a redis-server binary they skip, unless
// DUEQ_REQUIRE_REDIS=1 (as in CI), which makes them fail instead.
package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/internal/testutil"
	"github.com/dueq/dueq/tasks"
)

// binary is the dueq binary built once for all tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dueq-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binary = filepath.Join(dir, "dueq")
	build := exec.Command("go", "build", "-race", "-o", binary, "..")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building dueq:", err)
		os.Exit(2)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// redisServer is the Redis one test owns: one redis-server, or, as
// DUEQ_TEST_REDIS chooses (see testTopology), a local cluster or a primary
// with a replica and sentinels.
type redisServer struct {
	Addr  string // the server (single), or the first node or sentinel
	URL   string // what dueq serve --redis is given
	dir   string
	cmd   *exec.Cmd
	port  int
	path  string
	extra []string
	topo  topology
}

// startRedis starts the Redis of a test, as DUEQ_TEST_REDIS chooses: a
// redis-server on a free port in a temporary directory (the default), or
// a cluster or sentinel setup made by scripts/redis-cluster.sh or
// scripts/redis-sentinel.sh, with extra added to every data server's
// arguments. It is stopped when the test ends.
func startRedis(t *testing.T, extra ...string) *redisServer {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("DUEQ_REQUIRE_REDIS") == "1" {
			t.Fatal("redis-server is not installed and DUEQ_REQUIRE_REDIS=1: install it (apt-get install -y redis-server)")
		}
		t.Skip("redis-server is not installed: skipping the real-Redis tests (set DUEQ_REQUIRE_REDIS=1 to fail instead)")
	}
	r := &redisServer{dir: t.TempDir(), path: path, extra: extra, topo: testTopology(t)}
	if r.topo != single {
		t.Cleanup(func() { r.killAll(true) })
		r.startTopology(t)
		return r
	}
	r.port = testutil.FreePort(t)
	r.Addr = "127.0.0.1:" + strconv.Itoa(r.port)
	r.URL = "redis://" + r.Addr
	r.start(t, path, extra...)
	t.Cleanup(func() { r.stop() })
	return r
}

// start starts the server again (after stop), on the same port and
// directory.
func (r *redisServer) start(t *testing.T, path string, extra ...string) {
	t.Helper()
	if r.topo != single {
		r.script(t, "restart", r.dir)
		return
	}
	args := append([]string{"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", filepath.Join(r.dir, "redis.log")}, extra...)
	r.cmd = exec.Command(path, args...)
	testutil.DieWithTests(r.cmd)
	require.NoError(t, r.cmd.Start())
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer rdb.Close()
	require.Eventually(t, func() bool { return rdb.Ping(context.Background()).Err() == nil },
		10*time.Second, 10*time.Millisecond, "redis-server did not start on %s", r.Addr)
}

// stop kills the server (SIGKILL), or every data server and sentinel of
// a cluster or sentinel setup, keeping their directories.
func (r *redisServer) stop() {
	if r.topo != single {
		r.killAll(false)
		return
	}
	if r.cmd != nil && r.cmd.Process != nil && r.cmd.ProcessState == nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
}

// restart kills the server (SIGKILL: no chance to save) and starts it again
// on the same port and directory, so it reloads whatever it had persisted.
func (r *redisServer) restart(t *testing.T) {
	t.Helper()
	r.stop()
	r.start(t, r.path, r.extra...)
}

// client returns a go-redis client of the Redis, closed at the end of the
// test: on a cluster, a cluster client whose KEYS asks every primary.
func (r *redisServer) client(t *testing.T) redis.UniversalClient {
	rdb := r.topo.client(r)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// daemon is one `dueq serve` process.
type daemon struct {
	URL  string // its HTTP API
	args []string
	env  []string
	cmd  *exec.Cmd
	out  *testutil.SyncBuffer
	done chan error
	// exited is set once the test has seen the process end.
	exited bool
}

// startDaemon runs `dueq serve` against redisURL with extra flags, waits
// until its API answers, and stops it (SIGTERM) when the test ends.
func startDaemon(t *testing.T, redisURL string, extra ...string) *daemon {
	t.Helper()
	port := testutil.FreePort(t)
	d := &daemon{URL: "http://127.0.0.1:" + strconv.Itoa(port)}
	d.args = append([]string{"serve", "--http", "127.0.0.1:" + strconv.Itoa(port)}, extra...)
	if redisURL != "" {
		d.args = append(d.args, "--redis", redisURL)
	}
	d.env = append(os.Environ(), "DUEQ_LOG_LEVEL=warn")
	d.start(t)
	t.Cleanup(func() { d.stop(t) })
	return d
}

func (d *daemon) start(t *testing.T) {
	t.Helper()
	d.cmd = exec.Command(binary, d.args...)
	testutil.DieWithTests(d.cmd)
	d.cmd.Env = d.env
	d.cmd.Dir = t.TempDir() // no config.yaml there unless a test writes one
	d.out = &testutil.SyncBuffer{}
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	require.NoError(t, d.cmd.Start())
	d.done, d.exited = make(chan error, 1), false
	go func() { d.done <- d.cmd.Wait() }()
	require.Eventually(t, func() bool {
		resp, err := http.Get(d.URL + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 10*time.Millisecond, "dueq serve did not answer on %s:\n%s", d.URL, d.out)
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	if d.cmd == nil || d.exited {
		return // never started, or already gone (kill9)
	}
	d.exited = true
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		require.NoError(t, err, "dueq serve did not exit 0 on SIGTERM:\n%s", d.out)
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		t.Errorf("dueq serve did not exit within 30s of SIGTERM:\n%s", d.out)
	}
}

// kill9 kills the daemon with SIGKILL: no graceful stop, no hand-back.
func (d *daemon) kill9(t *testing.T) {
	t.Helper()
	require.NoError(t, d.cmd.Process.Kill())
	<-d.done
	d.exited = true
}

// restart stops the daemon gracefully and starts it again on the same port.
func (d *daemon) restart(t *testing.T) {
	t.Helper()
	d.stop(t)
	d.start(t)
}

// result is what one CLI run printed and its exit code.
type result struct {
	Stdout, Stderr string
	Code           int
}

// dueq runs the CLI against server and returns its output and exit code.
func dueq(t *testing.T, server string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "DUEQ_SERVER="+server)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.Code = exit.ExitCode()
	case err != nil:
		t.Fatalf("dueq %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mustDueq runs the CLI and requires exit code 0.
func mustDueq(t *testing.T, server string, args ...string) string {
	t.Helper()
	r := dueq(t, server, args...)
	require.Zero(t, r.Code, "dueq %s: %s", strings.Join(args, " "), r.Stderr)
	return strings.TrimSpace(r.Stdout)
}

// finished counts the tasks of the default namespace that finished in
// state, in every partition of rdb's namespace (as many as a daemon on
// rdb makes by default).
func finished(t *testing.T, rdb redis.UniversalClient, state tasks.State) int64 {
	t.Helper()
	sp, err := store.NewSpace("dueq", store.DefaultPartitions(rdb))
	require.NoError(t, err)
	var n int64
	for p := range sp.N() {
		n += rdb.ZCard(context.Background(), sp.Part(p).Done(state)).Val()
	}
	return n
}
