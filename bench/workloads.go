package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/tasks"
)

// throughput: 8 producers submit no-op tasks due now while the daemons run
// them; timed from the first submit to the last completion.
func (r *run) throughput(ctx context.Context, admin redis.UniversalClient, res *Result) error {
	line := newFinishLine(r.opt.Tasks)
	reg := tasks.NewRegistry()
	reg.Register("noop", func(ctx context.Context, c *tasks.Call) (any, error) {
		line.cross()
		return nil, nil
	})
	_, stop, err := r.daemons(ctx, reg)
	if err != nil {
		return err
	}
	defer stop()
	return r.measured(ctx, admin, res, r.opt.Tasks, func() error {
		if _, err := r.produce(ctx, r.opt.Tasks, func(int) tasks.Spec {
			return tasks.Spec{Name: "noop", Args: json.RawMessage(`"8 bytes"`)}
		}); err != nil {
			return err
		}
		return r.await(line)
	})
}

// measured runs body and sets the phase's figures: its time, tasks per
// second, and Redis CPU, commands and round trips per task for n tasks.
func (r *run) measured(ctx context.Context, admin redis.UniversalClient, res *Result, n int, body func() error) error {
	before, err := readStats(ctx, admin)
	if err != nil {
		return err
	}
	trips0, start := r.trips.Load(), time.Now()
	if err := body(); err != nil {
		return err
	}
	elapsed := time.Since(start)
	after, err := readStats(ctx, admin)
	if err != nil {
		return err
	}
	res.Seconds = elapsed.Seconds()
	res.TasksPerS = num(float64(n) / elapsed.Seconds())
	r.perTask(res, before, after, trips0, n)
	return nil
}

// finishLine closes all when the last of n handlers has run.
type finishLine struct {
	n    int64
	done atomic.Int64
	all  chan struct{}
}

func newFinishLine(n int) *finishLine {
	f := &finishLine{n: int64(n), all: make(chan struct{})}
	if n == 0 {
		close(f.all)
	}
	return f
}

// cross records one finished handler.
func (f *finishLine) cross() {
	if f.done.Add(1) == f.n {
		close(f.all)
	}
}

// lateness: tasks due over Seconds, starting 2 s out; each handler records
// its start minus its due time.
func (r *run) lateness(ctx context.Context, admin redis.UniversalClient, res *Result) error {
	late, _, err := r.timed(ctx, r.opt.Tasks, r.opt.Seconds)
	if err != nil {
		return err
	}
	res.Seconds = r.opt.Seconds
	p50, p99, pmax := late.percentiles()
	res.LatenessP50Ms, res.LatenessP99Ms, res.LatenessMaxMs = num(p50), num(p99), num(pmax)
	return nil
}

// timed runs n tasks due over seconds, from 2 s out, on fresh daemons and
// returns how late each started and the daemons' mean claim round trip.
func (r *run) timed(ctx context.Context, n int, seconds float64) (*samples, time.Duration, error) {
	late := &samples{}
	line := newFinishLine(n)
	reg := tasks.NewRegistry()
	reg.Register("timed", func(ctx context.Context, c *tasks.Call) (any, error) {
		late.add(time.Since(c.Task.DueAt))
		line.cross()
		return nil, nil
	})
	ss, stop, err := r.daemons(ctx, reg)
	if err != nil {
		return nil, 0, err
	}
	defer stop()
	first, due := spread(n, seconds)
	if _, err := r.produce(ctx, n, func(i int) tasks.Spec {
		return tasks.Spec{Name: "timed", At: due(i)}
	}); err != nil {
		return nil, 0, err
	}
	if time.Now().After(first) {
		return nil, 0, fmt.Errorf("bench: submitting took longer than 2 s; use fewer tasks")
	}
	r.progress("submitted %d tasks due over %.1f s", n, seconds)
	if err := r.await(line); err != nil {
		return nil, 0, err
	}
	var total time.Duration
	var calls int64
	for _, s := range ss {
		c := s.Counters()
		total, calls = total+c.ClaimTime, calls+c.ClaimCalls
	}
	return late, total / time.Duration(max(calls, 1)), nil
}

// dag: parent → child pairs, parents due over Seconds; each child records
// how long after its parent's handler returned it started. Tasks per second
// here is the pace set by Seconds, not a throughput.
func (r *run) dag(ctx context.Context, admin redis.UniversalClient, res *Result) error {
	var (
		returned sync.Map // parent id → time its handler returned
		release  samples
	)
	line := newFinishLine(r.opt.Tasks)
	reg := tasks.NewRegistry()
	reg.Register("parent", func(ctx context.Context, c *tasks.Call) (any, error) {
		returned.Store(c.Task.ID, time.Now())
		return "parent result", nil
	})
	reg.Register("child", func(ctx context.Context, c *tasks.Call) (any, error) {
		if t, ok := returned.Load(c.Task.Parents[0]); ok {
			release.add(time.Since(t.(time.Time)))
		}
		line.cross()
		return nil, nil
	})
	_, stop, err := r.daemons(ctx, reg)
	if err != nil {
		return err
	}
	defer stop()
	err = r.measured(ctx, admin, res, 2*r.opt.Tasks, func() error {
		// Parents are due over Seconds from 2 s out, so each child is
		// submitted while its parent waits and releases are not queued
		// behind one another.
		_, due := spread(r.opt.Tasks, r.opt.Seconds)
		parents, err := r.produce(ctx, r.opt.Tasks, func(i int) tasks.Spec {
			return tasks.Spec{Name: "parent", At: due(i)}
		})
		if err != nil {
			return err
		}
		if _, err := r.produce(ctx, r.opt.Tasks, func(i int) tasks.Spec {
			return tasks.Spec{Name: "child", After: []string{parents[i]}}
		}); err != nil {
			return err
		}
		return r.await(line)
	})
	if err != nil {
		return err
	}
	_, p99, _ := release.percentiles()
	res.ReleaseP99Ms = num(p99)
	return nil
}

// idle: daemons with nothing to do; Redis commands per second per daemon.
func (r *run) idle(ctx context.Context, admin redis.UniversalClient, res *Result) error {
	_, stop, err := r.daemons(ctx, tasks.NewRegistry())
	if err != nil {
		return err
	}
	defer stop()
	settle := time.NewTimer(3 * time.Second)
	<-settle.C
	before, err := readStats(ctx, admin)
	if err != nil {
		return err
	}
	measure := time.NewTimer(time.Duration(r.opt.Seconds * float64(time.Second)))
	<-measure.C
	after, err := readStats(ctx, admin)
	if err != nil {
		return err
	}
	res.Seconds = r.opt.Seconds
	res.IdleCmdsPerS = num((after.commands - before.commands - 1) / r.opt.Seconds / float64(r.opt.Daemons))
	return nil
}

// scale: tasks scheduled an hour out with an 8-byte payload, submitted with
// the pipelined bulk path (Client.SubmitMany); Redis memory per task and the
// submit rate. Then, on top of that index, 1,000 tasks due over 2 s: the
// mean claim round trip and their lateness, to compare across index sizes.
func (r *run) scale(ctx context.Context, admin redis.UniversalClient, res *Result) error {
	c, err := client.New(r.client(), client.Config{Partitions: r.opt.Partitions, Logger: r.log})
	if err != nil {
		return err
	}
	defer c.Close()
	specs := make([]tasks.Spec, r.opt.Tasks)
	for i := range specs {
		specs[i] = tasks.Spec{Name: "noop", Args: json.RawMessage(`"8 bytes"`), In: time.Hour}
	}
	before, err := readStats(ctx, admin)
	if err != nil {
		return err
	}
	start := time.Now()
	if _, err := c.SubmitMany(ctx, specs); err != nil {
		return err
	}
	elapsed := time.Since(start)
	after, err := readStats(ctx, admin)
	if err != nil {
		return err
	}
	res.Seconds = elapsed.Seconds()
	res.TasksPerS = num(float64(r.opt.Tasks) / elapsed.Seconds())
	res.RedisBytesPerTask = num((after.memory - before.memory) / float64(max(r.opt.Tasks, 1)))
	r.progress("%d tasks scheduled; timing claims on top of them", r.opt.Tasks)
	late, claim, err := r.timed(ctx, 1000, 2)
	if err != nil {
		return err
	}
	p50, p99, pmax := late.percentiles()
	res.LatenessP50Ms, res.LatenessP99Ms, res.LatenessMaxMs = num(p50), num(p99), num(pmax)
	res.ClaimMs = num(float64(claim.Microseconds()) / 1000)
	return nil
}

// await waits for the finish line, or fails after the grace saying how
// many tasks finished.
func (r *run) await(line *finishLine) error {
	t := time.NewTimer(r.opt.Grace)
	defer t.Stop()
	select {
	case <-line.all:
		return nil
	case <-t.C:
		return fmt.Errorf("bench: only %d of %d tasks finished within %s", line.done.Load(), line.n, r.opt.Grace)
	}
}

// spread gives the due times of n tasks spread evenly over seconds,
// starting 2 s from now (time for the producers), and the first of them.
func spread(n int, seconds float64) (first time.Time, due func(i int) time.Time) {
	first = time.Now().Add(2 * time.Second)
	step := time.Duration(seconds * float64(time.Second) / float64(max(n, 1)))
	return first, func(i int) time.Time { return first.Add(time.Duration(i) * step) }
}

// samples collects durations from concurrent handlers.
type samples struct {
	mu sync.Mutex
	ds []time.Duration
}

func (s *samples) add(d time.Duration) {
	s.mu.Lock()
	s.ds = append(s.ds, d)
	s.mu.Unlock()
}

// percentiles returns p50, p99 and the maximum, in ms.
func (s *samples) percentiles() (p50, p99, pmax float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ds := s.ds
	if len(ds) == 0 {
		return 0, 0, 0
	}
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return ms(ds[len(ds)/2]), ms(ds[(len(ds)*99)/100]), ms(ds[len(ds)-1])
}
