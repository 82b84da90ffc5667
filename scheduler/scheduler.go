// Package scheduler is dueq's engine: the timing index (a Redis sorted set of
// due task ids per queue), the atomic claim, leases, and the worker loops that
// wait on pub/sub for the next deadline.
//
// Guarantees: each task is claimed by exactly one worker at a time across
// every daemon sharing a Redis (the claim is one Lua script); execution is
// at-least-once: a task whose daemon dies is re-run after its lease expires.
// Correctness never rests on a pub/sub message arriving: every wait is capped
// by Config.SafetyWait and every (re)subscribe re-reads the index.
//
// The engine runs tasks; programs submit, wait for and inspect them with
// package client, and every key and script is package store's.
package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/internal/rediserr"
	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// Scheduler is one daemon's engine: Config.Workers loops claiming and running
// tasks of Config.Queues with the handlers of a registry. Start it once; any
// number of Schedulers (in one process or many) may share a Redis.
type Scheduler struct {
	cfg    runConfig
	stores *store.Stores // one per partition
	space  store.Space
	rdb    redis.UniversalClient
	reg    *tasks.Registry
	log    *slog.Logger
	id     string
	nHeads int

	work  chan *tasks.Task // dispatcher → loops
	ready chan idle        // loops → dispatcher
	disp  *dispatcher
	sub   *store.Subscriber
	keep  *LeaseKeeper
	cl    store.Claimer // who this daemon's claims are for: its id, handlers and lease

	mu         sync.Mutex
	started    bool
	stopped    bool
	stopClaims context.CancelFunc // stops the dispatcher
	handlerCtx context.Context    // parent of every handler's context
	cancelRun  context.CancelFunc // cancels handlerCtx at the end of the grace
	running    map[string]*runningTask
	loopsDone  chan struct{}
	dispDone   chan struct{}

	redisDown atomic.Bool
	refusing  atomic.Bool // the latest Redis error was a refusal of writes
	counters  counters
}

// runningTask is a task this daemon holds the claim of: a loop runs it, or
// its handler returned and its outcome is on its way to Redis. Its lease is
// renewed until the outcome is written.
type runningTask struct {
	task     *tasks.Task
	cancel   context.CancelFunc
	canceled atomic.Bool // canceled by a user through the API
	lost     atomic.Bool // another daemon re-claimed it: this claim is void
	ended    atomic.Bool // its handler returned (or was never to run)
}

// New returns a Scheduler running reg's handlers on rdb. It validates cfg
// (after WithDefaults) and names the field to fix.
func New(rdb redis.UniversalClient, reg *tasks.Registry, cfg Config) (*Scheduler, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if reg == nil {
		return nil, errors.New("scheduler: no handler registry")
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = store.DefaultPartitions(rdb)
	}
	sp, _ := store.NewSpace(cfg.Namespace, cfg.Partitions) // validated above
	host, _ := os.Hostname()
	s := &Scheduler{
		cfg: cfg.run(), stores: store.NewStores(rdb, sp, cfg.ResultTTL, cfg.Clock), space: sp, rdb: rdb, reg: reg,
		id:     fmt.Sprintf("%s/%d/%s", host, os.Getpid(), strings.ToLower(ulid.Make().String()[20:])),
		nHeads: min(max(2*cfg.Workers, 4), 256),
		work:   make(chan *tasks.Task, cfg.Workers), ready: make(chan idle, cfg.Workers),
		running: map[string]*runningTask{},
	}
	s.log = cfg.Logger.With("daemon", s.id)
	s.stores.WaitForReplicas(cfg.WaitReplicas, func(e *store.NotReplicatedError) {
		s.log.Warn("a round of claims and finishes went on without its replicas' confirmation: a failover now may lose it; rounds go on without waiting for replicas for a while",
			"err", e, "pause", store.ReplicaPause)
	})
	s.disp = newDispatcher(s)
	s.keep = newLeaseKeeper(s)
	return s, nil
}

// ID names this daemon in logs and in `dueq stats`.
func (s *Scheduler) ID() string { return s.id }

// Start subscribes to the queues' announcements and starts the loops. It
// returns at once; the loops run until Stop. A second Start is an error.
func (s *Scheduler) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("scheduler: already started")
	}
	if err := s.space.Claim(ctx, s.rdb); err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	pipe := s.rdb.Pipeline()
	for p := range s.space.N() {
		pipe.SAdd(ctx, s.space.Part(p).Queues(), anys(s.cfg.Queues)...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("scheduler: reach Redis: %w", err)
	}
	if err := s.stores.Part(0).Prepare(ctx); err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	s.started = true
	names := s.reg.Names()
	s.cl = store.NewClaimer(s.id, names, s.cfg.Lease)
	s.keep.info, _ = json.Marshal(wire.DaemonInfo{Queues: s.cfg.Queues, Handlers: names, Workers: s.cfg.Workers}) // strings and an int always marshal
	var channels []string
	for p := range s.space.N() {
		k := s.space.Part(p)
		channels = append(channels, k.CancelChannel())
		for _, q := range s.cfg.Queues {
			channels = append(channels, k.Announce(q))
		}
	}
	s.sub = store.Subscribe(s.rdb, channels, s.disp.onMessage, s.disp.onSubscribe, s.log)

	claimCtx, stopClaims := context.WithCancel(context.WithoutCancel(ctx))
	s.stopClaims = stopClaims
	s.handlerCtx, s.cancelRun = context.WithCancel(context.WithoutCancel(ctx))
	s.dispDone, s.loopsDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.dispDone)
		s.disp.run(claimCtx)
	}()
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.loop()
		}()
	}
	go func() {
		wg.Wait()
		close(s.loopsDone)
	}()
	s.keep.Start(ctx)
	s.log.Info("scheduler started", "queues", s.cfg.Queues, "workers", s.cfg.Workers, "partitions", s.space.N())
	return nil
}

// Stop stops claiming, lets running tasks finish for up to ShutdownGrace,
// then cancels the rest and hands them back to the index at once, so another
// daemon runs them without waiting for their lease. It returns ctx.Err() if
// ctx ends first (tasks still running are then handed back). Stop is safe to
// call twice, and before Start.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	if !s.started || s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	s.mu.Unlock()

	s.stopClaims() // the dispatcher claims nothing more; it returns once every loop is idle
	grace := time.NewTimer(s.cfg.ShutdownGrace)
	defer grace.Stop()
	var err error
	select {
	case <-s.dispDone:
	case <-grace.C:
		s.log.Info("shutdown grace over: canceling running tasks and handing them back", "running", s.runningCount())
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.cancelRun()
	select {
	case <-s.loopsDone:
	case <-ctx.Done():
		err = ctx.Err()
		s.handBackAll(context.WithoutCancel(ctx))
	}
	_ = s.keep.Stop(ctx)
	s.sub.Close()
	if rerr := s.rdb.ZRem(context.WithoutCancel(ctx), s.space.Home().Daemons(), s.id).Err(); rerr != nil {
		s.log.Warn("could not remove this daemon from the daemon list", "err", rerr)
	}
	s.log.Info("scheduler stopped")
	return err
}

// onCancelMessage cancels the handler of a task canceled through the API, if
// this daemon runs it; channel is one of the partitions' cancel channels.
func (s *Scheduler) onCancelMessage(id string) {
	s.mu.Lock()
	r := s.running[id]
	s.mu.Unlock()
	if r != nil {
		r.canceled.Store(true)
		r.cancel()
		s.log.Info("canceling a running task", "id", id)
	}
}

// track records that this daemon holds t's claim. An older claim of the
// same task that this daemon still tracks (it lost it while frozen, and has
// now claimed the task again) is void: its run is canceled and its outcome
// dropped.
func (s *Scheduler) track(t *tasks.Task, cancel context.CancelFunc) *runningTask {
	r := &runningTask{task: t, cancel: cancel}
	s.mu.Lock()
	old := s.running[t.ID]
	s.running[t.ID] = r
	s.mu.Unlock()
	// (An older claim whose handler has returned is only on its way out: a
	// retry re-queued it and this claim is its next attempt.)
	if old != nil && old.task.Run != t.Run && !old.ended.Load() && !old.lost.Swap(true) {
		s.counters.lostClaims.Add(1)
		old.cancel()
	}
	return r
}

// untrack forgets t's claim, unless a newer claim of the task replaced it.
func (s *Scheduler) untrack(t *tasks.Task) {
	s.mu.Lock()
	if r := s.running[t.ID]; r != nil && r.task.Run == t.Run {
		delete(s.running, t.ID)
	}
	s.mu.Unlock()
}

func (s *Scheduler) runningCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.running)
}

// claimedTasks lists the tasks this daemon holds the claim of.
func (s *Scheduler) claimedTasks() []*tasks.Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := make([]*tasks.Task, 0, len(s.running))
	for _, r := range s.running {
		ts = append(ts, r.task)
	}
	return ts
}

// lostClaims takes tasks whose claim this daemon no longer holds: another daemon re-claimed them after this one stopped renewing
// their lease (it was frozen, or cut off from Redis). Their handlers are
// canceled and their outcomes dropped.
func (s *Scheduler) lostClaims(ts []*tasks.Task) {
	for _, t := range ts {
		s.mu.Lock()
		r := s.running[t.ID]
		s.mu.Unlock()
		if r == nil || r.task.Run != t.Run || r.lost.Swap(true) {
			continue // settled meanwhile, or claimed again under a new token
		}
		s.counters.lostClaims.Add(1)
		r.cancel()
		s.log.Warn("lost the claim on a task: another daemon took it over after this one stopped renewing its lease (frozen, or cut off from Redis); canceling this run",
			"id", t.ID, "name", r.task.Name)
	}
}

// recordVanished counts and logs a task whose record was found gone from
// Redis; the script that found it recorded it and published an event.
func (s *Scheduler) recordVanished(id, queue, when string) {
	s.counters.vanished.Add(1)
	s.log.Error("a task's record vanished from Redis "+when+": is Redis evicting keys (maxmemory-policy)?", "id", id, "queue", queue)
}

// handBackAll returns every task still running to the index, for a Stop
// whose context ended before the handlers did.
func (s *Scheduler) handBackAll(ctx context.Context) {
	s.mu.Lock()
	rs := make([]*runningTask, 0, len(s.running))
	for _, r := range s.running {
		if !r.ended.Load() { // an ended one's outcome was written, or dropped
			rs = append(rs, r)
		}
	}
	s.mu.Unlock()
	for _, r := range rs {
		if _, err := s.stores.Of(r.task.ID).Requeue(ctx, store.RequeueParams{Task: r.task, GiveBack: true, Heads: 1}); err != nil {
			s.log.Error("could not hand back a running task; it runs again when its lease expires", "id", r.task.ID, "err", err)
		}
	}
}

// redisError logs the first error of an outage; redisOK logs its end.
func (s *Scheduler) redisError(err error) {
	s.counters.redisErrors.Add(1)
	s.refusing.Store(rediserr.Refused(err))
	if !s.redisDown.Swap(true) {
		s.log.Error("Redis error; retrying with backoff", "err", rediserr.Describe(err))
	}
}

// redisOK ends an outage after a call that succeeded; wrote says whether it
// was a write. A read that succeeds does not end a refusal of writes (out of
// memory, a read-only replica).
func (s *Scheduler) redisOK(wrote bool) {
	if !wrote && s.refusing.Load() {
		return
	}
	s.refusing.Store(false)
	if s.redisDown.Swap(false) {
		s.log.Info("Redis is reachable again")
	}
}

// transient reports whether err may pass by itself: Redis refusing writes
// for now, or not reachable. Other errors (a script's own) would repeat.
func transient(err error) bool {
	var ne net.Error
	return rediserr.Refused(err) || errors.As(err, &ne) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, redis.ErrPoolTimeout)
}

// clock returns Redis's clock as the store of partition p sees it.
func (s *Scheduler) clock(p int) *store.RedisClock { return s.stores.Part(p).Clock() }

// Healthy reports whether the daemon's last Redis call succeeded.
func (s *Scheduler) Healthy() bool { return !s.redisDown.Load() }

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
