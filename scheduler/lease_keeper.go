package scheduler

import (
	"context"
	"sync"
	"time"
)

// LeaseKeeper renews the leases of the tasks its daemon is running, every
// third of the lease, in one command per queue. A task whose lease is gone
// (re-queued by another daemon, canceled) is not renewed.
type LeaseKeeper struct {
	s      *Scheduler
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
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
	tick := time.NewTicker(s.cfg.Lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
		until := s.cfg.Clock.Now().Add(s.cfg.Lease).UnixMilli()
		for q, ids := range s.runningByQueue() {
			if err := s.x.extend(ctx, q, ids, until); err != nil {
				s.redisError(err)
			}
		}
	}
}
