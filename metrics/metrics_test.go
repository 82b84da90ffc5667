package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
)

// env is one test's Redis, client and metrics, served over HTTP.
type env struct {
	t      *testing.T
	mr     *miniredis.Miniredis
	rdb    *redis.Client
	client *client.Client
	m      *Metrics
	url    string // of the metrics endpoint
}

// setup starts a miniredis, a client on it, and Metrics reading its stats,
// served by an httptest server.
func setup(t *testing.T) *env {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	cl, err := client.New(rdb, client.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cl.Close() })
	m := New(cl.Stats)
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, mr: mr, rdb: rdb, client: cl, m: m, url: srv.URL + "/metrics"}
}

// start runs a scheduler with reg's handlers, observed by e's metrics, until
// the test ends.
func (e *env) start(reg *tasks.Registry) *scheduler.Scheduler {
	e.t.Helper()
	s, err := scheduler.New(e.rdb, reg, scheduler.Config{
		Queues: []string{"default", "slow"}, Workers: 2, Observer: e.m, RetryBase: time.Millisecond, RetryCap: 2 * time.Millisecond,
	})
	require.NoError(e.t, err)
	e.m.Watch(s.Counters)
	require.NoError(e.t, s.Start(context.Background()))
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return s
}

// run submits spec and waits for the task to finish.
func (e *env) run(spec tasks.Spec) *tasks.Task {
	e.t.Helper()
	task, err := e.client.Submit(context.Background(), spec)
	require.NoError(e.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done, err := e.client.Wait(ctx, task.ID)
	require.NoError(e.t, err, "task %s (%s) did not finish", task.ID, spec.Name)
	return done
}

// scrape GETs the metrics endpoint; it must answer 200.
func scrape(t require.TestingT, url string) string {
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	return string(body)
}

// requireSeries scrapes until every line of want is a line of the answer,
// and returns the last answer.
func (e *env) requireSeries(want ...string) string {
	e.t.Helper()
	var body string
	require.EventuallyWithT(e.t, func(c *assert.CollectT) {
		body = scrape(c, e.url)
		lines := map[string]bool{}
		for _, l := range strings.Split(body, "\n") {
			lines[l] = true
		}
		var missing []string
		for _, w := range want {
			if !lines[w] {
				missing = append(missing, w)
			}
		}
		assert.Empty(c, missing, "series missing from the scrape")
	}, 10*time.Second, 10*time.Millisecond)
	return body
}

// A scrape after tasks ran on an observed scheduler shows the attempts by
// outcome, the lateness and durations, the loops' counters and the task
// counts in Redis.
func TestMetricsAfterTasksRan(t *testing.T) {
	t.Parallel()
	e := setup(t)
	reg := tasks.NewRegistry()
	reg.Register("ok", func(context.Context, *tasks.Call) (any, error) { return "done", nil })
	reg.Register("bad", func(context.Context, *tasks.Call) (any, error) { return nil, errors.New("boom") })
	reg.Register("flaky", func(_ context.Context, c *tasks.Call) (any, error) {
		if c.Task.Attempts < 2 {
			return nil, errors.New("not yet")
		}
		return "done", nil
	})
	e.start(reg)

	require.Equal(t, tasks.Succeeded, e.run(tasks.Spec{Name: "ok"}).State)
	require.Equal(t, tasks.Failed, e.run(tasks.Spec{Name: "bad"}).State)
	flaky := e.run(tasks.Spec{Name: "flaky", Queue: "slow", MaxAttempts: 2})
	require.Equal(t, tasks.Succeeded, flaky.State)
	require.Equal(t, 2, flaky.Attempts)

	body := e.requireSeries(
		`dueq_up 1`,
		`dueq_tasks{state="succeeded"} 2`,
		`dueq_tasks{state="failed"} 1`,
		`dueq_tasks{state="running"} 0`,
		`dueq_tasks{state="scheduled"} 0`,
		`dueq_queue_tasks{queue="default",state="scheduled"} 0`,
		`dueq_queue_tasks{queue="slow",state="running"} 0`,
		`dueq_daemons_alive 1`,

		`dueq_task_attempts_total{name="ok",outcome="succeeded",queue="default"} 1`,
		`dueq_task_attempts_total{name="bad",outcome="failed",queue="default"} 1`,
		`dueq_task_attempts_total{name="flaky",outcome="retried",queue="slow"} 1`,
		`dueq_task_attempts_total{name="flaky",outcome="succeeded",queue="slow"} 1`,
		`dueq_task_duration_seconds_count{name="ok",outcome="succeeded",queue="default"} 1`,
		`dueq_task_duration_seconds_count{name="bad",outcome="failed",queue="default"} 1`,
		`dueq_task_duration_seconds_bucket{name="ok",outcome="succeeded",queue="default",le="3600"} 1`,
		`dueq_task_lateness_seconds_count{queue="default"} 2`,
		`dueq_task_lateness_seconds_count{queue="slow"} 2`,
		`dueq_task_lateness_seconds_bucket{queue="default",le="10"} 2`,
		`# TYPE dueq_task_lateness_seconds histogram`,

		`dueq_tasks_claimed_total 4`,
		`dueq_lease_recoveries_total 0`,
		`dueq_tasks_handed_back_total 0`,
		`dueq_redis_errors_total 0`,
		`dueq_records_vanished_total 0`,
		`dueq_lost_claims_total 0`,
	)
	for _, name := range []string{
		"dueq_claim_calls_total", "dueq_claim_misses_total", "dueq_claim_seconds_total", "dueq_finish_calls_total",
		"dueq_index_rereads_total", "dueq_announcements_total", "dueq_resubscribes_total",
		`dueq_loop_wakeups_total{reason="deadline"}`, `dueq_loop_wakeups_total{reason="message"}`,
		`dueq_loop_wakeups_total{reason="safety"}`,
		"go_goroutines", "process_cpu_seconds_total",
	} {
		require.Contains(t, body, "\n"+name+" ", "%s is exported", name)
	}
	require.Contains(t, body, "# TYPE dueq_claim_calls_total counter")
	require.Contains(t, body, "# TYPE dueq_records_vanished_total counter")
	require.Contains(t, body, "# HELP dueq_records_vanished_total Task records this daemon found gone from Redis (evicted")
	require.Contains(t, body, "# TYPE dueq_lost_claims_total counter")
	require.Contains(t, body, "# HELP dueq_lost_claims_total Running tasks this daemon lost to another daemon")
	require.Contains(t, body, "# TYPE dueq_tasks gauge")
	require.Contains(t, body, `le="0.0001"`, "lateness buckets start at 0.1ms")
}

// When Redis does not answer, a scrape still answers 200 with dueq_up 0, the
// counters of the loops and the Go metrics.
func TestMetricsWhenStatsFail(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.m.Watch(func() scheduler.Counters {
		return scheduler.Counters{Claimed: 3, ClaimTime: 1500 * time.Millisecond, SafetyWakes: 2, Vanished: 4, LostClaims: 5}
	})
	e.requireSeries(`dueq_up 1`, `dueq_daemons_alive 0`)

	e.mr.Close()
	body := e.requireSeries(
		`dueq_up 0`,
		`dueq_tasks_claimed_total 3`,
		`dueq_claim_seconds_total 1.5`,
		`dueq_loop_wakeups_total{reason="safety"} 2`,
		`dueq_records_vanished_total 4`,
		`dueq_lost_claims_total 5`,
	)
	require.Contains(t, body, "\ngo_goroutines ")
	require.NotContains(t, body, "\ndueq_tasks{")
	require.NotContains(t, body, "\ndueq_daemons_alive ")
}

// Before Watch no loop counters are exported; the stats are.
func TestMetricsBeforeWatch(t *testing.T) {
	t.Parallel()
	e := setup(t)
	body := e.requireSeries(`dueq_up 1`, `dueq_tasks{state="succeeded"} 0`)
	require.NotContains(t, body, "dueq_tasks_claimed_total")
}

// A task record that vanished from Redis (as an eviction would drop it) is
// counted once the daemon finds it, when the task comes due.
func TestMetricsCountVanishedRecords(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.start(tasks.NewRegistry())
	task, err := e.client.Submit(context.Background(), tasks.Spec{Name: "ok", In: 200 * time.Millisecond})
	require.NoError(t, err)
	require.True(t, e.mr.Del("{dueq}:t:"+task.ID), "the record was there to delete")
	e.requireSeries(
		`dueq_records_vanished_total 1`,
		`dueq_tasks{state="failed"} 1`,
		`dueq_lost_claims_total 0`,
	)
}
