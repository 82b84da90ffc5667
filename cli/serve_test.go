package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/apiclient"
	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/config"
	"github.com/dueq/dueq/internal/testutil"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// logged returns the attributes of the first JSON log line with msg.
func logged(logs *testutil.SyncBuffer, msg string) map[string]any {
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == msg {
			return line
		}
	}
	return nil
}

// embedded starts an embedded Redis, as a daemon with no redis.url does,
// for daemons that join it by its address. It closes when the test ends.
func embedded(t *testing.T) *miniredis.Miniredis {
	t.Helper()
	m, err := StartEmbedded(EmbeddedAddr)
	require.NoError(t, err)
	t.Cleanup(m.Close)
	return m
}

func testConfig() *config.Config {
	cfg := config.Default()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Workers = 2
	cfg.ShutdownGrace = time.Second
	return cfg
}

// Serve with no redis.url runs on an embedded Redis, answers the API, and
// returns nil when its context ends.
func TestServeEmbedded(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	logs := &testutil.SyncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, cfg, Registry(cfg), logger) }()

	var running map[string]any
	require.Eventually(t, func() bool {
		running = logged(logs, "dueq daemon running")
		return running != nil
	}, 10*time.Second, 10*time.Millisecond, "the daemon did not start: %s", logs)
	embedded := logged(logs, "no redis.url configured: started an embedded Redis; its state is in memory only and is lost when this daemon exits")
	require.NotNil(t, embedded, logs.String())
	require.Contains(t, embedded["join"], "--redis redis://"+embedded["addr"].(string))

	url := "http://" + running["http"].(string)
	cl := &apiclient.Client{BaseURL: url}
	require.NoError(t, cl.Health(ctx))
	code, out, errOut := runWith(func(string) string { return "" }, "--server", url, "submit", "echo", `{"a":1}`, "--wait")
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, out, `{"a":1}`)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	require.NotNil(t, logged(logs, "dueq daemon stopped"))
	require.Error(t, cl.Health(context.Background()), "the API is down after Serve returned")
}

// A daemon on a configured Redis (here another daemon's embedded one,
// joined by its address) runs tasks there; Stop is safe twice.
func TestDaemonConfiguredRedis(t *testing.T) {
	t.Parallel()
	mr := embedded(t)
	cfg := testConfig()
	cfg.Redis.URL = "redis://" + mr.Addr() + "/0"
	reg := Registry(cfg)
	reg.Register("double", func(_ context.Context, c *tasks.Call) (any, error) {
		var n int
		if err := c.Bind(&n); err != nil {
			return nil, err
		}
		return 2 * n, nil
	})
	d, err := StartDaemon(context.Background(), cfg, reg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.Empty(t, d.RedisAddr())

	code, out, errOut := runWith(func(string) string { return "" }, "--server", "http://"+d.HTTPAddr(), "submit", "double", "21", "--wait")
	require.Equal(t, ExitOK, code, errOut)
	require.Equal(t, "42\n", out)
	require.NotEmpty(t, mr.Keys(), "the task went to the configured Redis")

	require.NoError(t, d.Stop(context.Background()))
	require.NoError(t, d.Stop(context.Background()))
}

// An unreachable Redis is a clear error that never shows the password.
func TestDaemonUnreachableRedis(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	addr := mr.Addr()
	mr.Close() // nothing listens there now
	cfg := testConfig()
	cfg.Redis.URL = "redis://alice:hunter2@" + addr + "/0"
	_, err := StartDaemon(context.Background(), cfg, Registry(cfg), slog.New(slog.DiscardHandler))
	require.ErrorContains(t, err, "cannot reach Redis at redis://alice:xxxxx@"+addr+"/0")
	require.NotContains(t, err.Error(), "hunter2")
}

func TestServeBadConfig(t *testing.T) {
	t.Parallel()
	none := func(string) string { return "" }
	code, out, errOut := runWith(none, "serve", "--config", filepath.Join(t.TempDir(), "missing.yaml"))
	require.Equal(t, ExitError, code)
	require.Empty(t, out)
	require.Contains(t, errOut, "dueq: config file")
	require.Contains(t, errOut, "does not exist")

	path := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(path, []byte("workers: many\n"), 0o600))
	code, _, errOut = runWith(none, "serve", "--config", path)
	require.Equal(t, ExitError, code)
	require.Contains(t, errOut, `workers (from `+path+`): "many" is not a whole number`)

	code, _, errOut = runWith(none, "serve", "--workers", "many")
	require.Equal(t, ExitError, code)
	require.Contains(t, errOut, "--workers")
}

// Config schedules are upserted by name at every start: a restart keeps the
// one schedule, a changed entry updates it, and a bad entry stops the start
// with an error naming it.
func TestDaemonUpsertsConfigSchedules(t *testing.T) {
	t.Parallel()
	mr := embedded(t)
	cfg := testConfig()
	cfg.Redis.URL = "redis://" + mr.Addr() + "/0"
	cfg.Schedules = []config.Schedule{
		{Name: "heartbeat", Task: "echo", Args: json.RawMessage(`{"Ping":true}`), Every: time.Hour},
		{Name: "nightly", Task: "sleep", Cron: "CRON_TZ=Europe/Berlin 0 3 * * *", Misfire: "skip"},
	}
	logs := &testutil.SyncBuffer{}
	start := func(cfg *config.Config) (*Daemon, error) {
		return StartDaemon(context.Background(), cfg, Registry(cfg), slog.New(slog.NewJSONHandler(logs, nil)))
	}
	schedules := func(d *Daemon) []*wire.Schedule {
		list, err := (&apiclient.Client{BaseURL: "http://" + d.HTTPAddr()}).Schedules(context.Background())
		require.NoError(t, err)
		return list
	}

	d, err := start(cfg)
	require.NoError(t, err)
	first := schedules(d)
	require.Len(t, first, 2)
	byName := map[string]*wire.Schedule{}
	for _, sc := range first {
		byName[sc.Name] = sc
	}
	require.Equal(t, "echo", byName["heartbeat"].Task)
	require.JSONEq(t, `{"Ping":true}`, string(byName["heartbeat"].Args))
	require.Equal(t, time.Hour, byName["heartbeat"].Every)
	require.Equal(t, wire.MisfireSkip, byName["nightly"].Misfire)
	line := logged(logs, "schedule upserted")
	require.NotNil(t, line, logs.String())
	require.Equal(t, "heartbeat", line["name"])
	require.Equal(t, "every 1h0m0s", line["rule"])
	require.NoError(t, d.Stop(context.Background()))

	// A restart with the same configuration changes nothing.
	d, err = start(cfg)
	require.NoError(t, err)
	again := schedules(d)
	require.Len(t, again, 2)
	for _, sc := range again {
		require.Equal(t, byName[sc.Name].ID, sc.ID)
		require.True(t, byName[sc.Name].NextAt.Equal(sc.NextAt), "an unchanged schedule keeps its slots")
	}
	require.NoError(t, d.Stop(context.Background()))

	// A changed entry updates its schedule, under the same id.
	cfg.Schedules[0].Every = 2 * time.Hour
	d, err = start(cfg)
	require.NoError(t, err)
	changed := schedules(d)
	require.Len(t, changed, 2)
	for _, sc := range changed {
		require.Equal(t, byName[sc.Name].ID, sc.ID)
		if sc.Name == "heartbeat" {
			require.Equal(t, 2*time.Hour, sc.Every)
		}
	}
	require.NoError(t, d.Stop(context.Background()))

	// An entry whose task this daemon does not run stops the start.
	bad := *cfg
	bad.Schedules = append(append([]config.Schedule(nil), cfg.Schedules...), config.Schedule{Name: "ghost", Task: "nosuch", Every: time.Minute})
	_, err = start(&bad)
	require.ErrorContains(t, err, "schedule ghost (schedules[2]): task: unknown handler \"nosuch\"")
}

// `dueq serve` with a bad schedule in its file exits 2 naming the entry.
func TestServeBadSchedule(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "dueq.yaml")
	require.NoError(t, os.WriteFile(path, []byte("schedules:\n  - {name: a, task: echo, every: 1s, cron: '@hourly'}\n"), 0o600))
	code, out, errOut := runWith(func(string) string { return "" }, "serve", "--config", path)
	require.Equal(t, ExitError, code)
	require.Empty(t, out)
	require.Contains(t, errOut, "dueq: schedules[0]: every and cron both given")
}

// A daemon serves its metrics at GET /metrics: the tasks it ran, its loops'
// counters and the task counts of its Redis.
func TestDaemonServesMetrics(t *testing.T) {
	t.Parallel()
	mr := embedded(t)
	cfg := testConfig()
	cfg.Redis.URL = "redis://" + mr.Addr() + "/0"
	d, err := StartDaemon(context.Background(), cfg, Registry(cfg), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Stop(context.Background()) })

	url := "http://" + d.HTTPAddr()
	code, out, errOut := runWith(func(string) string { return "" }, "--server", url, "submit", "echo", `{"a":1}`, "--wait")
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, out, `{"a":1}`)

	want := []string{
		`dueq_up 1`,
		`dueq_tasks{state="succeeded"} 1`,
		`dueq_tasks_claimed_total 1`,
		`dueq_task_attempts_total{name="echo",outcome="succeeded",queue="default"} 1`,
		`dueq_task_lateness_seconds_count{queue="default"} 1`,
		`dueq_daemons_alive 1`,
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		resp, err := http.Get(url + "/metrics")
		require.NoError(c, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(c, err)
		require.Equal(c, http.StatusOK, resp.StatusCode, string(body))
		lines := map[string]bool{}
		for _, l := range strings.Split(string(body), "\n") {
			lines[l] = true
		}
		var missing []string
		for _, w := range want {
			if !lines[w] {
				missing = append(missing, w)
			}
		}
		assert.Empty(c, missing, "series missing from GET /metrics")
	}, 10*time.Second, 10*time.Millisecond)
}

// startServe runs `dueq serve` with args until the test ends and returns
// the base URL of its API, as its "dueq daemon running" log line says, and
// its stderr. It fails the test if the daemon does not start.
func startServe(t *testing.T, args ...string) (url string, stderr *testutil.SyncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr = &testutil.SyncBuffer{}
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, append([]string{"serve"}, args...), strings.NewReader(""), &testutil.SyncBuffer{}, stderr, func(string) string { return "" })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case c := <-code:
			assert.Equal(t, ExitOK, c, stderr.String())
		case <-time.After(30 * time.Second):
			t.Error("dueq serve did not return after its context ended")
		}
	})
	running := regexp.MustCompile(`msg="dueq daemon running" .*\bhttp=(\S+)`)
	var m []string
	require.Eventually(t, func() bool {
		m = running.FindStringSubmatch(stderr.String())
		return m != nil || len(code) > 0
	}, 10*time.Second, 10*time.Millisecond, "the daemon did not start: %s", stderr)
	require.NotNil(t, m, "dueq serve exited: %s", stderr)
	_, port, err := net.SplitHostPort(m[1])
	require.NoError(t, err)
	return "http://127.0.0.1:" + port, stderr
}

// `dueq serve --token` sets http.token, over DUEQ_HTTP_TOKEN and the
// configuration file: a public --http address starts with it, and the API
// then requires it. It is not the clients' --token, which serve ignored.
func TestServeTokenFlagSetsTheAPIToken(t *testing.T) {
	t.Parallel()
	none := func(string) string { return "" }
	code, out, errOut := runWith(none, "serve", "--http", "0.0.0.0:0")
	require.Equal(t, ExitError, code)
	require.Empty(t, out)
	require.Contains(t, errOut, "http.token is required: set http.token (DUEQ_HTTP_TOKEN, or dueq serve --token)")

	url, stderr := startServe(t, "--http", "0.0.0.0:0", "--token", "s3cret", "--workers", "1")
	require.Contains(t, stderr.String(), "token=true")
	code, _, errOut = runWith(none, "--server", url, "stats")
	require.Equal(t, ExitError, code)
	require.Contains(t, errOut, "401")
	code, out, errOut = runWith(none, "--server", url, "--token", "s3cret", "submit", "echo", `{"a":1}`, "--wait")
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, out, `{"a":1}`)
	require.NotContains(t, stderr.String(), "s3cret", "the daemon never logs its token")

	code, out, errOut = runWith(none, "serve", "--help")
	require.Equal(t, ExitOK, code, errOut)
	require.Regexp(t, `--token string\s+bearer token the HTTP API requires \(http.token, env DUEQ_HTTP_TOKEN\)`, out)
	require.NotContains(t, out, "bearer token of the daemon's API", "serve's --token is its own, not the clients'")
}

// With its HTTP address taken, a daemon fails before it claims anything:
// the error names the address and the fix, the scheduler never started,
// and a due task stays scheduled, unclaimed.
func TestDaemonWithItsAddressTakenClaimsNothing(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = taken.Close() })
	addr := taken.Addr().String()

	mr := embedded(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	cl, err := client.New(rdb, client.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cl.Close() })
	due, err := cl.Submit(context.Background(), tasks.Spec{Name: "echo"})
	require.NoError(t, err)

	cfg := testConfig()
	cfg.Redis.URL = "redis://" + mr.Addr() + "/0"
	cfg.HTTP.Addr = addr
	logs := &testutil.SyncBuffer{}
	_, err = StartDaemon(context.Background(), cfg, Registry(cfg), slog.New(slog.NewJSONHandler(logs, nil)))
	require.ErrorContains(t, err, "http.addr "+addr+": cannot listen there")
	require.ErrorContains(t, err, "address already in use")
	require.ErrorContains(t, err, "--http")
	require.Nil(t, logged(logs, "scheduler started"), "the loops started: %s", logs)

	code, out, errOut := runWith(func(string) string { return "" }, "serve", "--redis", cfg.Redis.URL, "--http", addr)
	require.Equal(t, ExitError, code)
	require.Empty(t, out)
	require.Contains(t, errOut, "dueq: http.addr "+addr+": cannot listen there")
	require.NotContains(t, errOut, "scheduler started")

	rec, err := cl.Get(context.Background(), due.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Scheduled, rec.State, "a daemon that could not start claimed the task")
	require.Zero(t, rec.Attempts)
	live, err := cl.Daemons(context.Background())
	require.NoError(t, err)
	require.Empty(t, live, "no daemon registered itself")
}
