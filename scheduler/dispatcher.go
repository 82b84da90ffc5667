package scheduler

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/internal/backoff"
	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/transport"
)

// idle is what a worker loop tells the dispatcher when it is free: the
// final outcome of its last task for the dispatcher to write, or the fresh
// heads of the queue its last task's re-queue returned (none at start).
type idle struct {
	fin   *store.Finishing
	queue string
	heads []store.Head
	fresh bool
}

// dispatcher is the daemon's wait, shared by a daemon's idle loops: it
// knows the next deadline (the earliest due task or lease of its queues),
// waits for it with one timer and a select on pub/sub announcements, claims
// due tasks for as many loops as are idle in one script call, and re-queues
// tasks whose lease expired. It never polls: with nothing due it sleeps until
// the next deadline or SafetyWait, whichever is first. It also writes the
// loops' final outcomes: all those handed in since its last call go in one
// finish.lua call, pipelined with the next claim, so a busy daemon spends
// about one round trip per batch of tasks. It runs on one goroutine; the
// loops run the tasks.
type dispatcher struct {
	s        *Scheduler
	deadline *deadline
	heads    heads
	leases   map[string]int64 // earliest lease deadline per queue, ms; absent: none
	idle     int
	pending  []*store.Finishing // outcomes handed in by loops, not written yet
	stale    bool               // re-read the heads before deciding
	// schedules caches the schedules of occurrences this daemon claimed.
	schedules map[string]*store.Schedule
	foreign   foreign // due tasks whose handler this daemon does not have
	// lastClaim is how many tasks the last claim handed to loops, and
	// lastClaimAt when; gather waits up to claimWait after it.
	lastClaim   int
	lastClaimAt time.Time
	claimWait   time.Duration
	// parents are the running tasks claimed here that may have children.
	parents map[string]bool

	// waiting is true while the dispatcher is blocked in wait (for tests).
	waiting atomic.Bool

	// announcements, filled by the subscriber goroutine
	mu     sync.Mutex
	ann    map[string][]store.Head
	resync bool
	wake   chan struct{}
}

func newDispatcher(s *Scheduler) *dispatcher {
	return &dispatcher{s: s, deadline: newDeadline(s.cfg.Clock), heads: heads{}, leases: map[string]int64{}, stale: true, schedules: map[string]*store.Schedule{},
		foreign: foreign{}, ann: map[string][]store.Head{}, wake: make(chan struct{}, 1), claimWait: claimWait, parents: map[string]bool{}}
}

// maxAnnounced bounds the announcements kept per queue between two looks.
const maxAnnounced = 64

// onMessage folds an announcement into the pending ones and wakes the
// dispatcher. It runs on the subscriber's goroutine.
func (d *dispatcher) onMessage(channel, payload string) {
	queue, ok := strings.CutPrefix(channel, d.s.keys.Announce(""))
	if !ok {
		d.s.onCancelMessage(channel, payload)
		return
	}
	a, err := transport.ParseAnnounce(payload)
	if err != nil {
		d.s.log.Warn("ignoring a malformed announcement", "channel", channel, "err", err)
		return
	}
	d.s.counters.announced.Add(1)
	d.mu.Lock()
	if len(d.ann[queue]) < maxAnnounced {
		d.ann[queue] = append(d.ann[queue], store.Head{ID: a.ID, Due: a.DueMs})
	} else {
		d.resync = true // too many to keep: re-read the index instead
	}
	d.mu.Unlock()
	d.poke()
}

// onSubscribe makes the dispatcher re-read the heads: messages may have been
// lost while the subscription was down.
func (d *dispatcher) onSubscribe() {
	d.s.counters.resubscribes.Add(1)
	d.mu.Lock()
	d.resync = true
	d.mu.Unlock()
	d.poke()
}

func (d *dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// takeNews moves pending announcements into the heads.
func (d *dispatcher) takeNews() {
	d.mu.Lock()
	ann, resync := d.ann, d.resync
	d.ann, d.resync = map[string][]store.Head{}, false
	d.mu.Unlock()
	if resync {
		d.stale = true
	}
	for q, hs := range ann {
		d.heads.add(q, d.foreign.filter(q, hs), d.s.nHeads)
	}
}

// setHeads replaces queue's heads with hs, without the foreign tasks. With
// prune, hs is a read that reached past every known foreign task, so those
// not in it have left the index and are forgotten.
func (d *dispatcher) setHeads(queue string, hs []store.Head, prune bool) {
	if prune {
		d.foreign.prune(queue, hs)
	}
	d.heads.set(queue, d.foreign.filter(queue, hs))
}

// learnForeign records due tasks of queue whose handler this daemon lacks.
// The heads are then re-read, reaching that much further: the tasks behind
// them may be this daemon's.
// It reports whether some did not fit: then the queue is given up until the
// next wake.
func (d *dispatcher) learnForeign(queue string, ids []string) (full bool) {
	added, full := d.foreign.learn(queue, ids)
	if added {
		d.stale = true
	}
	return full
}

// run waits and claims until ctx is done; then it writes the outcomes of
// the tasks still running as they end, and closes the work channel once
// every loop is idle.
func (d *dispatcher) run(ctx context.Context) {
	defer close(d.s.work)
	s := d.s
	wait := time.Duration(0)
	for {
		d.collectIdle()
		if ctx.Err() != nil {
			if d.drain(ctx) {
				return
			}
			continue
		}
		if d.idle == 0 && len(d.pending) == 0 {
			select { // every loop is busy: nothing to claim for, nothing to write
			case m := <-s.ready:
				d.onIdle(m)
			case <-ctx.Done():
			}
			continue
		}
		d.gather(ctx)
		d.takeNews()
		peek := d.stale && d.idle > 0
		err := d.step(ctx)
		switch {
		case err == errWait:
			wait = 0
			s.redisOK(false)
			d.wait(ctx)
		case err != nil && ctx.Err() == nil:
			// A read that succeeds says nothing of the writes Redis may
			// still refuse (out of memory, a read-only replica): only a step
			// that wrote, or found nothing to do, ends the backoff.
			wait = backoff.Next(wait)
			s.redisError(err)
			d.stale = true
			backoff.Sleep(ctx, wait)
		case err == nil && !peek:
			wait = 0
			s.redisOK(true)
		}
	}
}

// drain is one step of a stopping dispatcher: write the pending outcomes
// (once: an error drops them, to be run again after their lease), or wait
// for a busy loop. It reports whether every loop is idle with nothing left.
func (d *dispatcher) drain(ctx context.Context) bool {
	s := d.s
	if len(d.pending) > 0 {
		if err := d.flush(context.WithoutCancel(ctx), ""); err != nil {
			s.redisError(err)
			for _, f := range d.pending {
				s.log.Error("could not record a task's outcome; it runs again when its lease expires", "id", f.Task.ID, "err", err)
				s.untrack(f.Task)
			}
			d.pending = nil
		}
		return false
	}
	if d.idle >= s.cfg.Workers {
		return true
	}
	d.onIdle(<-s.ready)
	return false
}

// errWait tells run that nothing is due: wait for the next deadline.
var errWait = errors.New("nothing due")

// step does one thing: write pending outcomes when every loop is busy,
// re-read, recover expired leases, or write pending outcomes and claim due
// tasks. Outcomes never wait for a free loop: a task's outcome is written
// as soon as its handler returns, whatever the other loops are doing.
func (d *dispatcher) step(ctx context.Context) error {
	s := d.s
	if d.idle == 0 {
		return d.flush(ctx, "")
	}
	if d.stale {
		return d.peek(ctx)
	}
	now := s.st.Clock().Now().UnixMilli()
	for q, at := range d.leases {
		if at <= now {
			d.stale = true
			return d.recoverExpired(ctx, q, now)
		}
	}
	q, due, ok := d.heads.earliest()
	if !ok || due > now {
		if len(d.pending) == 0 {
			return errWait
		}
		q = ""
	}
	return d.flush(ctx, q)
}

// peek re-reads the heads and earliest leases of every queue in one round
// trip.
func (d *dispatcher) peek(ctx context.Context) error {
	s := d.s
	pipe := s.rdb.Pipeline()
	dueCmds := make([]*redis.ZSliceCmd, len(s.cfg.Queues))
	leaseCmds := make([]*redis.ZSliceCmd, len(s.cfg.Queues))
	for i, q := range s.cfg.Queues {
		dueCmds[i] = pipe.ZRangeWithScores(ctx, s.keys.Due(q), 0, int64(s.nHeads+len(d.foreign[q])-1))
		leaseCmds[i] = pipe.ZRangeWithScores(ctx, s.keys.Lease(q), 0, 0)
	}
	var timeCmd *redis.Cmd
	if _, _, waiting := d.heads.earliest(); waiting || len(d.leases) > 0 || s.st.Clock().Stale() {
		var err error // a deadline to wait for: Redis's time steers the wait
		if timeCmd, err = s.st.QueueTime(ctx, pipe); err != nil {
			return err
		}
	}
	sent := s.cfg.Clock.Now()
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	if timeCmd != nil {
		us, err := store.RedisTime(timeCmd)
		if err != nil {
			return err
		}
		s.st.Clock().Observe(sent, s.cfg.Clock.Now(), us, false)
	}
	s.counters.peeks.Add(1)
	for i, q := range s.cfg.Queues {
		hs := make([]store.Head, 0, len(dueCmds[i].Val()))
		for _, z := range dueCmds[i].Val() {
			hs = append(hs, store.Head{ID: z.Member.(string), Due: int64(z.Score)})
		}
		d.setHeads(q, hs, true)
		delete(d.leases, q)
		if l := leaseCmds[i].Val(); len(l) > 0 {
			d.leases[q] = int64(l[0].Score)
		}
	}
	d.stale = false
	return nil
}

// wait sleeps until the next deadline, an announcement, a free loop or
// SafetyWait, whichever comes first. Deadlines are Redis's times, and so
// is now: the local clock corrected by the offset seen in Redis's replies.
func (d *dispatcher) wait(ctx context.Context) {
	s := d.s
	now := s.st.Clock().Now()
	next, safety := now.Add(s.cfg.SafetyWait), true
	if _, due, ok := d.heads.earliest(); ok && transport.FromMs(due).Before(next) {
		next, safety = transport.FromMs(due), false
	}
	for _, at := range d.leases {
		if transport.FromMs(at).Before(next) {
			next, safety = transport.FromMs(at), false
		}
	}
	fire, exact := d.deadline.after(now, next, !safety)
	defer d.deadline.stop()
	d.waiting.Store(true)
	defer d.waiting.Store(false)
	select {
	case <-fire:
		switch {
		case !exact: // close to the deadline: the rest is slept precisely
		case safety:
			s.counters.safetyWakes.Add(1)
			d.stale = true
		default:
			s.counters.deadlineWakes.Add(1)
		}
	case <-d.wake:
		s.counters.messageWakes.Add(1)
	case m := <-s.ready:
		d.onIdle(m)
	case <-ctx.Done():
	}
}

// collectIdle counts loops that became free without blocking.
func (d *dispatcher) collectIdle() {
	for {
		select {
		case m := <-d.s.ready:
			d.onIdle(m)
		default:
			return
		}
	}
}

func (d *dispatcher) onIdle(m idle) {
	d.idle++
	if m.fresh {
		d.setHeads(m.queue, m.heads, false)
	}
	if m.fin != nil {
		d.pending = append(d.pending, m.fin)
	}
}

// idleWaiting reports whether the dispatcher is blocked in its wait with no
// announcement or resubscribe pending: only a new message, a deadline or
// the safety cap can wake it now. Tests use it to start from a quiet loop.
func (d *dispatcher) idleWaiting() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.waiting.Load() && !d.resync && len(d.ann) == 0 && len(d.wake) == 0
}
