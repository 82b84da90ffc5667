// Command asynq runs dueq's benchmark workloads on the
// strongest Go peer, github.com/hibiken/asynq v0.26.0, so that
// scripts/bench.sh can put the two side by side from one run on one Redis.
// It lives in its own module so that dueq's go.mod does not require asynq.
//
// !!! WARNING: it runs FLUSHALL on the Redis named by --redis before it starts,
// !!! erasing every database of that server. Point it only at a scratch
// !!! redis-server (scripts/bench.sh starts one on a free port and stops it).
//
//	go run . --redis 127.0.0.1:6401 --mode throughput --tasks 20000 --workers 8
//	go run . --redis 127.0.0.1:6401 --mode lateness --tasks 10000 --seconds 10 --daemons 4
//	go run . --redis 127.0.0.1:6401 --mode idle --seconds 10
//	go run . --redis 127.0.0.1:6401 --mode scale --tasks 100000
//
// It prints one JSON object on stdout (progress goes to stderr), with the
// field names of `dueq bench`; a mode leaves out the figures it does not
// measure:
//
//   - throughput: --daemons asynq servers (each with its own go-redis client,
//     so its own connections; Concurrency --workers) run a no-op handler while
//     8 producer goroutines enqueue --tasks tasks (8-byte payload) through
//     one asynq.Client as fast as they can. The phase runs from the first
//     enqueue to the last handler call; tasks_per_s = tasks / seconds.
//   - lateness: the same servers; --tasks tasks with ProcessAt spread evenly
//     over --seconds starting 2 s from now, the due time (Unix ns) being the
//     8-byte payload. The handler records start minus due: lateness_p50_ms,
//     lateness_p99_ms, lateness_max_ms.
//   - idle: start the servers, let them settle 3 s, then count Redis commands
//     over --seconds: idle_cmds_per_s is per daemon.
//   - scale: no servers; 8 producers enqueue --tasks tasks due in 1 h with an
//     8-byte payload; redis_bytes_per_task = INFO used_memory delta / tasks,
//     tasks_per_s = the enqueue rate (asynq has no pipelined bulk enqueue: one
//     request per task, 8 at a time).
//
// In throughput and lateness modes the Redis cost of the phase is reported
// per task: redis_cpu_us_per_task (INFO cpu used_cpu_user+used_cpu_sys
// delta), redis_cmds_per_task (INFO total_commands_processed delta, which
// counts the commands run inside Lua scripts too) and round_trips_per_task
// (requests sent by the go-redis clients given to asynq, counted by a hook;
// a pipeline counts once). The figures include everything the servers do in
// the phase (polling, heartbeats, forwarding), as a fleet's Redis would see it.
// asynq runs with its defaults (TaskCheckInterval 1 s, DelayedTaskCheckInterval
// 5 s, which bounds lateness), as an application would ship it.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// result is the JSON printed on stdout; nil fields are left out.
type result struct {
	System           string   `json:"system"`
	Mode             string   `json:"mode"`
	Tasks            int      `json:"tasks,omitempty"`
	Workers          int      `json:"workers,omitempty"`
	Daemons          int      `json:"daemons,omitempty"`
	Seconds          float64  `json:"seconds"`
	TasksPerS        *float64 `json:"tasks_per_s,omitempty"`
	RedisCPUUsPerTsk *float64 `json:"redis_cpu_us_per_task,omitempty"`
	RedisCmdsPerTask *float64 `json:"redis_cmds_per_task,omitempty"`
	RoundTripsPerTsk *float64 `json:"round_trips_per_task,omitempty"`
	LatenessP50Ms    *float64 `json:"lateness_p50_ms,omitempty"`
	LatenessP99Ms    *float64 `json:"lateness_p99_ms,omitempty"`
	LatenessMaxMs    *float64 `json:"lateness_max_ms,omitempty"`
	IdleCmdsPerS     *float64 `json:"idle_cmds_per_s,omitempty"`
	RedisBytesPerTsk *float64 `json:"redis_bytes_per_task,omitempty"`
}

func f(x float64, d int) *float64 { v := round(x, d); return &v }

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench/asynq: "+format+"\n", a...)
	os.Exit(1)
}

func progress(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }

const producers = 8

type bench struct {
	addr           string
	tasks, workers int
	daemons        int
	seconds        float64
	stats          *redis.Client // INFO only; not counted
	trips          atomic.Int64  // requests sent by the clients given to asynq
	done           atomic.Int64  // handler calls
	finished       chan struct{} // closed at the tasks-th handler call
	end            time.Time     // time of that call
	late           []float64     // lateness per task, ms (lateness mode)
	servers        []*asynq.Server
	clients        []*redis.Client
}

func main() {
	b := &bench{finished: make(chan struct{})}
	flag.StringVar(&b.addr, "redis", "127.0.0.1:6379", "Redis HOST:PORT; it is FLUSHALLed: use a scratch server")
	mode := flag.String("mode", "throughput", "throughput|lateness|idle|scale")
	flag.IntVar(&b.tasks, "tasks", 20000, "tasks to run (or to schedule, in scale mode)")
	flag.IntVar(&b.workers, "workers", 8, "asynq Concurrency of each server")
	flag.IntVar(&b.daemons, "daemons", 1, "asynq servers in this process, each with its own connections")
	flag.Float64Var(&b.seconds, "seconds", 10, "idle: measured duration; lateness: spread of the due times")
	flag.Parse()
	switch {
	case flag.NArg() > 0:
		fail("unexpected argument %q", flag.Arg(0))
	case b.tasks < 1 || b.workers < 1 || b.daemons < 1:
		fail("--tasks, --workers and --daemons must be at least 1")
	case b.seconds <= 0:
		fail("--seconds must be positive")
	}
	run := map[string]func(context.Context) result{
		"throughput": b.throughput, "lateness": b.lateness, "idle": b.idle, "scale": b.scale,
	}[*mode]
	if run == nil {
		fail("unknown --mode %q (throughput|lateness|idle|scale)", *mode)
	}
	ctx := context.Background()
	b.stats = redis.NewClient(&redis.Options{Addr: b.addr})
	if err := b.stats.Ping(ctx).Err(); err != nil {
		fail("cannot reach Redis at %s: %v (start a scratch redis-server and pass --redis HOST:PORT)", b.addr, err)
	}
	if err := b.stats.FlushAll(ctx).Err(); err != nil {
		fail("FLUSHALL: %v", err)
	}
	r := run(ctx)
	r.System, r.Mode = "asynq", *mode
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
}

// newClient returns a go-redis client whose requests are counted.
func (b *bench) newClient() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: b.addr})
	c.AddHook(tripCounter{&b.trips})
	b.clients = append(b.clients, c)
	return c
}

func (b *bench) snapshot(ctx context.Context) redisStats {
	s, err := readStats(ctx, b.stats)
	if err != nil {
		fail("INFO: %v", err)
	}
	return s
}

// startServers starts the asynq servers running h, each on its own client.
func (b *bench) startServers(h func(*asynq.Task)) {
	handler := asynq.HandlerFunc(func(_ context.Context, t *asynq.Task) error {
		h(t)
		if b.done.Add(1) == int64(b.tasks) {
			b.end = time.Now()
			close(b.finished)
		}
		return nil
	})
	for i := 0; i < b.daemons; i++ {
		srv := asynq.NewServerFromRedisClient(b.newClient(), asynq.Config{
			Concurrency: b.workers,
			LogLevel:    asynq.WarnLevel,
		})
		if err := srv.Start(handler); err != nil {
			fail("starting asynq server: %v", err)
		}
		b.servers = append(b.servers, srv)
	}
}

func (b *bench) stop() {
	for _, s := range b.servers {
		s.Shutdown()
	}
	for _, c := range b.clients {
		c.Close()
	}
}

// enqueue has 8 producers enqueue the tasks through one asynq.Client;
// task i carries payload(i) and the options opts(i).
func (b *bench) enqueue(ctx context.Context, payload func(i int) []byte, opts func(i int) []asynq.Option) {
	client := asynq.NewClientFromRedisClient(b.newClient())
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := p; i < b.tasks; i += producers {
				if _, err := client.EnqueueContext(ctx, asynq.NewTask("noop", payload(i)), opts(i)...); err != nil {
					fail("enqueue: %v", err)
				}
			}
		}(p)
	}
	wg.Wait()
}

// wait blocks until every task has run, reporting progress each second and
// giving up when nothing ran for 60 s.
func (b *bench) wait(what string) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last, stalled := int64(-1), 0
	for {
		select {
		case <-b.finished:
			return
		case <-tick.C:
			n := b.done.Load()
			progress("asynq %s: %d/%d done", what, n, b.tasks)
			if n == last {
				if stalled++; stalled >= 60 {
					fail("%s: no task ran for 60 s (%d/%d done)", what, n, b.tasks)
				}
			} else {
				last, stalled = n, 0
			}
		}
	}
}

// cost fills the per-task Redis cost of a phase.
func (b *bench) cost(r *result, d redisStats) {
	n := float64(b.tasks)
	r.RedisCPUUsPerTsk = f(d.cpu*1e6/n, 1)
	r.RedisCmdsPerTask = f(d.cmds/n, 2)
	r.RoundTripsPerTsk = f(float64(b.trips.Load())/n, 2)
}

func (b *bench) throughput(ctx context.Context) result {
	b.startServers(func(*asynq.Task) {})
	defer b.stop()
	time.Sleep(time.Second) // let the servers finish starting
	before := b.snapshot(ctx)
	b.trips.Store(0)
	start := time.Now()
	go b.enqueue(ctx,
		func(i int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(i)) },
		func(int) []asynq.Option { return nil })
	b.wait("throughput")
	d := b.snapshot(ctx).sub(before)
	secs := b.end.Sub(start).Seconds()
	r := result{Tasks: b.tasks, Workers: b.workers, Daemons: b.daemons, Seconds: round(secs, 3),
		TasksPerS: f(float64(b.tasks)/secs, 0)}
	b.cost(&r, d)
	return r
}

func (b *bench) lateness(ctx context.Context) result {
	b.late = make([]float64, b.tasks)
	var slot atomic.Int64
	b.startServers(func(t *asynq.Task) {
		due := int64(binary.BigEndian.Uint64(t.Payload()))
		b.late[slot.Add(1)-1] = float64(time.Now().UnixNano()-due) / 1e6
	})
	defer b.stop()
	time.Sleep(time.Second)
	before := b.snapshot(ctx)
	b.trips.Store(0)
	start := time.Now()
	first := start.Add(2 * time.Second)
	spread := time.Duration(b.seconds * float64(time.Second))
	due := func(i int) time.Time { return first.Add(spread * time.Duration(i) / time.Duration(b.tasks)) }
	b.enqueue(ctx,
		func(i int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(due(i).UnixNano())) },
		func(i int) []asynq.Option { return []asynq.Option{asynq.ProcessAt(due(i))} })
	if late := time.Since(first); late > 0 {
		progress("asynq lateness: warning: enqueueing ended %v after the first due time", late)
	}
	b.wait("lateness")
	d := b.snapshot(ctx).sub(before)
	s := sortedCopy(b.late)
	r := result{Tasks: b.tasks, Workers: b.workers, Daemons: b.daemons, Seconds: round(b.end.Sub(start).Seconds(), 3),
		LatenessP50Ms: f(percentile(s, 50), 3),
		LatenessP99Ms: f(percentile(s, 99), 3),
		LatenessMaxMs: f(s[len(s)-1], 3)}
	b.cost(&r, d)
	return r
}

func (b *bench) idle(ctx context.Context) result {
	b.startServers(func(*asynq.Task) {})
	defer b.stop()
	progress("asynq idle: settling 3 s, then measuring %.0f s", b.seconds)
	time.Sleep(3 * time.Second)
	before := b.snapshot(ctx)
	start := time.Now()
	time.Sleep(time.Duration(b.seconds * float64(time.Second)))
	d := b.snapshot(ctx).sub(before)
	secs := time.Since(start).Seconds()
	return result{Workers: b.workers, Daemons: b.daemons, Seconds: round(secs, 3),
		IdleCmdsPerS: f(d.cmds/secs/float64(b.daemons), 2)}
}

func (b *bench) scale(ctx context.Context) result {
	defer b.stop()
	before := b.snapshot(ctx)
	start := time.Now()
	at := start.Add(time.Hour)
	b.enqueue(ctx,
		func(i int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(i)) },
		func(int) []asynq.Option { return []asynq.Option{asynq.ProcessAt(at)} })
	secs := time.Since(start).Seconds()
	d := b.snapshot(ctx).sub(before)
	return result{Tasks: b.tasks, Seconds: round(secs, 3), TasksPerS: f(float64(b.tasks)/secs, 0),
		RedisBytesPerTsk: f(d.mem/float64(b.tasks), 0)}
}
