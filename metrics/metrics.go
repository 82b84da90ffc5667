// Package metrics exports a dueq daemon's metrics in the Prometheus format,
// for GET /metrics (the api.Config Metrics handler).
//
// Tasks, observed as this daemon's loops run them (Metrics is the daemon's
// scheduler.Observer):
//
//	dueq_task_lateness_seconds{queue}              histogram: due time to handler start
//	dueq_task_duration_seconds{name,queue,outcome} histogram: how long handlers ran
//	dueq_task_attempts_total{name,queue,outcome}   counter: attempts that ended
//
// where outcome is "succeeded", "failed" (for good) or "retried" (the task
// will run again: a failed attempt with attempts left, or one handed back at
// shutdown).
//
// The daemon's loops, read from scheduler.Counters at scrape time (counted
// since this daemon started; see Watch):
//
//	dueq_claim_calls_total              claim script calls
//	dueq_claim_misses_total             claim calls that got nothing
//	dueq_claim_seconds_total            time spent in claim round trips
//	dueq_tasks_claimed_total            tasks claimed
//	dueq_finish_calls_total             finish script calls
//	dueq_lease_recoveries_total         tasks recovered after their lease expired
//	dueq_tasks_handed_back_total        tasks handed back at shutdown
//	dueq_redis_errors_total             failed Redis calls of the loops
//	dueq_records_vanished_total         task records found gone from Redis (evicted)
//	dueq_lost_claims_total              running tasks re-claimed by another daemon
//	dueq_loop_wakeups_total{reason}     waits ended, by reason: deadline, message, safety
//	dueq_index_rereads_total            re-reads of the timing index heads
//	dueq_announcements_total            pub/sub announcements received
//	dueq_resubscribes_total             pub/sub (re)subscriptions
//
// Tasks in Redis, shared by every daemon on it, read with the stats function
// at scrape time:
//
//	dueq_up                             1 if the stats could be read, else 0
//	dueq_tasks{state}                   tasks by state (finished ones while their records are kept)
//	dueq_queue_tasks{queue,state}       scheduled and running tasks by queue
//	dueq_daemons_alive                  daemons seen within 3 safety waits
//
// The Go runtime's (go_*) and the process's (process_*) metrics come too.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// Outcomes of an attempt: the outcome label of the task metrics.
const (
	succeeded = "succeeded"
	failed    = "failed"
	retried   = "retried"
)

// latenessBuckets are the bounds, in seconds, of dueq_task_lateness_seconds:
// fine below a millisecond, since dueq starts tasks within milliseconds, and
// up to 10s.
var latenessBuckets = []float64{
	0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05,
	0.1, 0.25, 0.5,
	1, 2.5, 5, 10,
}

// durationBuckets are the bounds, in seconds, of dueq_task_duration_seconds:
// from a millisecond to an hour.
var durationBuckets = []float64{
	0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05,
	0.1, 0.25, 0.5,
	1, 2.5, 5, 10, 30,
	60, 120, 300, 600, 1800, 3600,
}

// Metrics holds one daemon's metrics, in a registry of its own (not
// Prometheus's global one). Create it with New, pass it as the
// scheduler.Config Observer, call Watch once the scheduler exists, and serve
// Handler. It is safe for concurrent use.
type Metrics struct {
	reg       *prometheus.Registry
	state     *collector
	lateness  *prometheus.HistogramVec
	durations *prometheus.HistogramVec
	attempts  *prometheus.CounterVec
	handler   http.Handler
}

var _ scheduler.Observer = (*Metrics)(nil)

// New returns the metrics of a daemon whose task counts stats reads (a
// client.Client's Stats). stats is called at every scrape, with a 2s
// timeout; when it fails, the scrape still answers, with dueq_up 0.
func New(stats func(context.Context) (*wire.Stats, error)) *Metrics {
	m := &Metrics{
		reg:   prometheus.NewRegistry(),
		state: newCollector(stats),
		lateness: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dueq_task_lateness_seconds",
			Help:    "How long after its due time a task's handler started on this daemon.",
			Buckets: latenessBuckets,
		}, []string{"queue"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dueq_task_duration_seconds",
			Help:    "How long task handlers ran on this daemon, by outcome: succeeded, failed (for good) or retried (will run again).",
			Buckets: durationBuckets,
		}, []string{"name", "queue", "outcome"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dueq_task_attempts_total",
			Help: "Task attempts that ended on this daemon, by outcome: succeeded, failed (for good) or retried (will run again).",
		}, []string{"name", "queue", "outcome"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.state, m.lateness, m.durations, m.attempts,
	)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A metric that cannot be gathered is left out; the rest is served.
		ErrorHandling: promhttp.ContinueOnError,
		// Each scrape reads Redis: a few at once are plenty.
		MaxRequestsInFlight: 4,
		// Counts failed scrapes as promhttp_metric_handler_errors_total.
		Registry: m.reg,
	})
	return m
}

// Watch makes every later scrape export counters(), the counters of the
// daemon's loops (a scheduler.Scheduler's Counters). Until it is called no
// loop counters are exported. It is safe to call at any time.
func (m *Metrics) Watch(counters func() scheduler.Counters) {
	m.state.counters.Store(&counters)
}

// Handler serves the metrics in the Prometheus text format (or OpenMetrics,
// or protobuf, as the scraper asks). A scrape never fails as a whole: what
// cannot be read is left out, or shows as dueq_up 0.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Started observes a task's lateness: how long after its due time its
// handler started. A negative lateness (a daemon's clock ahead of the one
// that set the due time) counts as 0.
func (m *Metrics) Started(t *tasks.Task, lateness time.Duration) {
	m.lateness.WithLabelValues(t.Queue).Observe(max(lateness, 0).Seconds())
}

// Ended observes how long a task's handler ran and counts the attempt, under
// the outcome its state gives: tasks.Succeeded, tasks.Failed (for good), or
// tasks.Scheduled (retried, or handed back at shutdown).
func (m *Metrics) Ended(t *tasks.Task, state tasks.State, took time.Duration) {
	o := outcome(state)
	m.durations.WithLabelValues(t.Name, t.Queue, o).Observe(took.Seconds())
	m.attempts.WithLabelValues(t.Name, t.Queue, o).Inc()
}

// outcome names how an attempt that ended in state went.
func outcome(state tasks.State) string {
	switch state {
	case tasks.Succeeded:
		return succeeded
	case tasks.Failed:
		return failed
	case tasks.Scheduled:
		return retried
	default:
		return string(state)
	}
}
