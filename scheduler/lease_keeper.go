package scheduler

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/tasks"
)

// LeaseKeeper renews the leases of the tasks its daemon is running, every
// third of the lease (or SafetyWait, if shorter), in one command per queue; a task whose lease is gone
// (re-queued by another daemon, canceled) is not renewed. On the same tick
// it records the daemon's sign of life for `dueq stats`, and once a minute
// it trims the finished-task sets of entries older than the result TTL.
type LeaseKeeper struct {
	s      *Scheduler
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	// trimmedAt is when the keeper last trimmed; only its goroutine uses it.
	trimmedAt time.Time
}

func newLeaseKeeper(s *Scheduler) *LeaseKeeper { return &LeaseKeeper{s: s} }

// Start begins renewing. Calling it twice has no further effect.
func (k *LeaseKeeper) Start(ctx context.Context) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.done != nil {
		return
	}
	ctx, k.cancel = context.WithCancel(context.WithoutCancel(ctx))
	k.done = make(chan struct{})
	if err := k.housekeep(ctx, k.s.cfg.Clock.Now()); err != nil {
		k.s.redisError(err)
	}
	go k.run(ctx)
}

// Stop ends renewing and waits for the keeper to return, or for ctx.
func (k *LeaseKeeper) Stop(ctx context.Context) error {
	k.mu.Lock()
	cancel, done := k.cancel, k.done
	k.mu.Unlock()
	if done == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (k *LeaseKeeper) run(ctx context.Context) {
	defer close(k.done)
	s := k.s
	tick := time.NewTicker(min(s.cfg.Lease/3, s.cfg.SafetyWait))
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
		now := s.cfg.Clock.Now()
		until := now.Add(s.cfg.Lease).UnixMilli()
		for q, ids := range s.runningByQueue() {
			if err := s.x.extend(ctx, q, ids, until); err != nil {
				s.redisError(err)
			}
		}
		if err := k.housekeep(ctx, now); err != nil {
			s.redisError(err)
		}
	}
}

// housekeep records the daemon's sign of life and, once a minute, trims the
// finished sets and forgets daemons not seen for an hour.
func (k *LeaseKeeper) housekeep(ctx context.Context, now time.Time) error {
	s := k.s
	pipe := s.x.rdb.Pipeline()
	pipe.ZAdd(ctx, s.x.keys.Daemons(), redis.Z{Score: float64(now.UnixMilli()), Member: s.id})
	if now.Sub(k.trimmedAt) >= time.Minute {
		oldest := strconv.FormatInt(now.Add(-s.cfg.ResultTTL).UnixMilli(), 10)
		for _, st := range []tasks.State{tasks.Succeeded, tasks.Failed, tasks.Canceled} {
			pipe.ZRemRangeByScore(ctx, s.x.keys.Done(st), "-inf", "("+oldest)
		}
		pipe.ZRemRangeByScore(ctx, s.x.keys.Daemons(), "-inf", strconv.FormatInt(now.Add(-time.Hour).UnixMilli(), 10))
		k.trimmedAt = now
	}
	_, err := pipe.Exec(ctx)
	return err
}
