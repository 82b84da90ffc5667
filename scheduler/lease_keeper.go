package scheduler

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
)

// LeaseKeeper is a daemon's heartbeat. Every third of the lease (or
// SafetyWait, if shorter) it renews the leases of the tasks the daemon
// holds the claim of (running, or with their outcome on its way) in one
// keepalive.lua call, which also records the daemon's sign of life and what
// it serves. A lease is renewed only under the claim that holds it: a task
// another daemon re-claimed is reported, and its handler here canceled.
// Redis runs the call even when it refuses other writes for want of memory,
// so a healthy daemon never loses its tasks to a refusal. With several
// partitions, the sign of life goes to the namespace's home and each
// partition's leases to their partition, all in one round trip.
//
// Each round it also completes the deliveries between partitions that
// their writer left unfinished for store.OutboxGrace (it died between the
// two steps), and once a minute it trims the finished-task sets of
// entries older than the result TTL.
type LeaseKeeper struct {
	s      *Scheduler
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	// trimmedAt is when the keeper last trimmed; only its goroutine uses it.
	trimmedAt time.Time
	info      []byte    // this daemon's wire.DaemonInfo, JSON, set by Scheduler.Start
	infoAt    time.Time // when the keeper last wrote it; only its goroutine uses it
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
	if err := k.housekeep(ctx, k.s.cfg.Clock.Now(), nil); err != nil { // nothing runs yet
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
	timers, _ := timersOf(s.cfg.Clock)
	tick := timers.NewTicker(min(s.cfg.Lease/3, s.cfg.SafetyWait))
	defer tick.Stop()
	for {
		select {
		case <-tick.Chan():
		case <-ctx.Done():
			return
		}
		if err := k.housekeep(ctx, s.cfg.Clock.Now(), s.claimedTasks()); err != nil {
			s.redisError(err)
		}
	}
}

// housekeep renews the leases of rs and records the daemon's sign of life,
// and completes the outbox entries left unfinished; once a minute it also
// trims the finished sets and forgets daemons not seen for an hour. now is
// the local clock's.
func (k *LeaseKeeper) housekeep(ctx context.Context, now time.Time, rs []*tasks.Task) error {
	s := k.s
	var info []byte
	if now.Sub(k.infoAt) >= infoEvery {
		info = k.info
	}
	lost, err := s.stores.Keepalive(ctx, store.KeepaliveParams{Daemon: s.id, Info: info, Lease: s.cfg.Lease, Tasks: rs})
	if err != nil {
		return err
	}
	if info != nil {
		k.infoAt = now
	}
	if s.refusing.Load() && s.stores.Home().Writable(ctx) == nil {
		s.redisOK(true) // Redis takes writes again, even with nothing to write
	}
	s.lostClaims(lost)
	if s.space.N() > 1 {
		if err := k.completeOutboxes(ctx); err != nil {
			return err
		}
	}
	if now.Sub(k.trimmedAt) < time.Minute {
		return nil
	}
	// The number of partitions is recorded again, or found changed: a
	// Redis that lost it (a restart without persistence) would let a
	// client of another number record its own.
	if err := s.space.Claim(ctx, s.rdb); err != nil {
		if !errors.Is(err, store.ErrPartitions) {
			return err
		}
		s.log.Error("the namespace's partitions changed under this daemon: tasks submitted by the other number go where this daemon does not look", "err", err)
	}
	pipe := s.rdb.Pipeline()
	for p, st := range s.stores.All() {
		oldest := strconv.FormatInt(st.Clock().Now().Add(-s.cfg.ResultTTL).UnixMilli(), 10)
		for _, state := range []tasks.State{tasks.Succeeded, tasks.Failed, tasks.Canceled} {
			pipe.ZRemRangeByScore(ctx, s.space.Part(p).Done(state), "-inf", "("+oldest)
		}
	}
	home := s.stores.Home()
	pipe.ZRemRangeByScore(ctx, home.Keys().Daemons(), "-inf", strconv.FormatInt(home.Clock().Now().Add(-store.DaemonInfoTTL).UnixMilli(), 10))
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	k.trimmedAt = now
	return nil
}

// outboxBatch bounds the outbox entries of a partition a keeper completes
// per round.
const outboxBatch = 100

// completeOutboxes completes the outbox entries of every partition that
// their writers left for store.OutboxGrace: a client or daemon that died
// between the two steps of an edge between partitions. Any daemon may;
// the steps are idempotent, so two at once do no harm.
func (k *LeaseKeeper) completeOutboxes(ctx context.Context) error {
	s := k.s
	stale, err := s.stores.Stale(ctx, outboxBatch)
	if err != nil {
		return err
	}
	for p, ms := range stale {
		for _, m := range ms {
			if err := s.stores.Complete(ctx, p, m); err != nil {
				if !errors.Is(err, transport.ErrCorrupt) {
					return err
				}
				s.log.Error("skipping an outbox entry that cannot be read", "partition", p, "err", err)
				continue
			}
			s.counters.outboxCompleted.Add(1)
			s.log.Warn("completed an edge between partitions that its writer left unfinished", "partition", p, "entry", m)
		}
	}
	return nil
}

// infoEvery is how often a daemon writes its info again: it does not
// change, and it is kept for daemonInfoTTL, so an idle daemon's heartbeat is
// one score.
const infoEvery = 10 * time.Minute
