package metrics

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// statsTimeout bounds the stats call of one scrape.
const statsTimeout = 2 * time.Second

// loopCounter is a counter read from scheduler.Counters at scrape time.
type loopCounter struct {
	name, help string
	value      func(scheduler.Counters) float64
}

// loopCounters are the counters of a daemon's loops, but for the wakeups,
// which share one metric with a reason label.
var loopCounters = []loopCounter{
	{"dueq_claim_calls_total", "Claim script calls by this daemon's loops.",
		func(c scheduler.Counters) float64 { return float64(c.ClaimCalls) }},
	{"dueq_claim_misses_total", "Claim script calls that got no task (another daemon was first).",
		func(c scheduler.Counters) float64 { return float64(c.ClaimMisses) }},
	{"dueq_claim_seconds_total", "Time spent in claim round trips to Redis; divided by dueq_claim_calls_total it is a claim's latency.",
		func(c scheduler.Counters) float64 { return c.ClaimTime.Seconds() }},
	{"dueq_tasks_claimed_total", "Tasks claimed by this daemon's loops.",
		func(c scheduler.Counters) float64 { return float64(c.Claimed) }},
	{"dueq_finish_calls_total", "Finish script calls, each writing the outcomes of one or more tasks.",
		func(c scheduler.Counters) float64 { return float64(c.FinishCalls) }},
	{"dueq_lease_recoveries_total", "Tasks re-queued or failed by this daemon after their lease expired (their daemon died or stalled).",
		func(c scheduler.Counters) float64 { return float64(c.Recovered) }},
	{"dueq_tasks_handed_back_total", "Running tasks handed back to the index when this daemon stopped.",
		func(c scheduler.Counters) float64 { return float64(c.HandedBack) }},
	{"dueq_redis_errors_total", "Redis calls of this daemon's loops that failed.",
		func(c scheduler.Counters) float64 { return float64(c.RedisErrors) }},
	{"dueq_records_vanished_total", "Task records this daemon found gone from Redis (evicted under a maxmemory-policy other than noeviction, or deleted by hand); each such task is recorded as failed, or, if it was running here, its outcome is written anew. Anything above 0: set maxmemory-policy noeviction.",
		func(c scheduler.Counters) float64 { return float64(c.Vanished) }},
	{"dueq_lost_claims_total", "Running tasks this daemon lost to another daemon, which re-claimed them after this one stopped renewing their lease (it froze, or was cut off from Redis, for longer than the lease); their runs here were canceled and their outcomes dropped, and they may run twice. Anything above 0: this daemon stalls (CPU starvation, a long GC pause, a network cut) for longer than the lease.",
		func(c scheduler.Counters) float64 { return float64(c.LostClaims) }},
	{"dueq_index_rereads_total", "Re-reads of the heads of the timing index.",
		func(c scheduler.Counters) float64 { return float64(c.Peeks) }},
	{"dueq_announcements_total", "Pub/sub announcements of new deadlines received.",
		func(c scheduler.Counters) float64 { return float64(c.Announced) }},
	{"dueq_resubscribes_total", "Pub/sub (re)subscriptions, each followed by a re-read of the index.",
		func(c scheduler.Counters) float64 { return float64(c.Resubscribes) }},
}

// collector exports, at scrape time, a daemon's loop counters and the task
// counts of its Redis.
type collector struct {
	stats    func(context.Context) (*wire.Stats, error)
	counters atomic.Pointer[func() scheduler.Counters] // set by Watch

	loop                                 []*prometheus.Desc // one per loopCounters entry
	wakeups, up, states, queues, daemons *prometheus.Desc
}

func newCollector(stats func(context.Context) (*wire.Stats, error)) *collector {
	c := &collector{
		stats: stats,
		wakeups: prometheus.NewDesc("dueq_loop_wakeups_total",
			"Waits of this daemon's loops that ended, by reason: deadline (a task or lease was due), message (a pub/sub announcement or resubscribe), safety (the safety_wait cap).",
			[]string{"reason"}, nil),
		up: prometheus.NewDesc("dueq_up",
			"1 if this scrape could read the task counts from Redis, 0 if not (dueq_tasks, dueq_queue_tasks and dueq_daemons_alive are then missing).",
			nil, nil),
		states: prometheus.NewDesc("dueq_tasks",
			"Tasks in Redis by state; finished tasks count while their records are kept (result_ttl).",
			[]string{"state"}, nil),
		queues: prometheus.NewDesc("dueq_queue_tasks",
			"Unfinished tasks in Redis by queue and state: scheduled or running.",
			[]string{"queue", "state"}, nil),
		daemons: prometheus.NewDesc("dueq_daemons_alive",
			"Daemons on this Redis seen within 3 safety waits.",
			nil, nil),
	}
	for _, lc := range loopCounters {
		c.loop = append(c.loop, prometheus.NewDesc(lc.name, lc.help, nil, nil))
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.loop {
		ch <- d
	}
	for _, d := range []*prometheus.Desc{c.wakeups, c.up, c.states, c.queues, c.daemons} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it reads the counters (once
// Watch has set them) and the stats. A failed stats call exports dueq_up 0
// and nothing else from the stats.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	if counters := c.counters.Load(); counters != nil && *counters != nil {
		c.collectCounters(ch, (*counters)())
	}
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	st, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	for state, n := range st.States {
		ch <- prometheus.MustNewConstMetric(c.states, prometheus.GaugeValue, float64(n), string(state))
	}
	for q, qs := range st.Queues {
		ch <- prometheus.MustNewConstMetric(c.queues, prometheus.GaugeValue, float64(qs.Scheduled), q, string(tasks.Scheduled))
		ch <- prometheus.MustNewConstMetric(c.queues, prometheus.GaugeValue, float64(qs.Running), q, string(tasks.Running))
	}
	ch <- prometheus.MustNewConstMetric(c.daemons, prometheus.GaugeValue, float64(len(st.Daemons)))
}

func (c *collector) collectCounters(ch chan<- prometheus.Metric, n scheduler.Counters) {
	for i, lc := range loopCounters {
		ch <- prometheus.MustNewConstMetric(c.loop[i], prometheus.CounterValue, lc.value(n))
	}
	for reason, v := range map[string]int64{"deadline": n.DeadlineWakes, "message": n.MessageWakes, "safety": n.SafetyWakes} {
		ch <- prometheus.MustNewConstMetric(c.wakeups, prometheus.CounterValue, float64(v), reason)
	}
}
