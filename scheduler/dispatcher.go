package scheduler

import (
	"context"
	"errors"
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
// heads of the lane its last task's re-queue returned (none at start).
type idle struct {
	fin   *store.Finishing
	lane  lane
	heads []store.Head
	fresh bool
}

// dispatcher is the daemon's wait, shared by a daemon's idle loops: it
// knows the next deadline (the earliest due task or lease of its lanes:
// its queues in every partition),
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
	leases   map[lane]int64 // earliest lease deadline per lane, ms; absent: none
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

	// channels names the lane of each announce channel, and cancels the
	// cancel channels; set before the subscriber starts, then only read.
	channels map[string]lane
	cancels  map[string]bool

	// announcements, filled by the subscriber goroutine
	mu     sync.Mutex
	ann    map[lane][]store.Head
	resync bool
	wake   chan struct{}
}

func newDispatcher(s *Scheduler) *dispatcher {
	d := &dispatcher{s: s, deadline: newDeadline(s.cfg.Clock), heads: heads{}, leases: map[lane]int64{}, stale: true, schedules: map[string]*store.Schedule{},
		foreign: foreign{}, ann: map[lane][]store.Head{}, wake: make(chan struct{}, 1), claimWait: claimWait, parents: map[string]bool{},
		channels: map[string]lane{}, cancels: map[string]bool{}}
	for p := range s.space.N() {
		k := s.space.Part(p)
		d.cancels[k.CancelChannel()] = true
		for _, q := range s.cfg.Queues {
			d.channels[k.Announce(q)] = lane{p, q}
		}
	}
	return d
}

// lanes lists every lane of the daemon: each of its queues in each
// partition.
func (d *dispatcher) lanes() []lane {
	ls := make([]lane, 0, d.s.space.N()*len(d.s.cfg.Queues))
	for p := range d.s.space.N() {
		for _, q := range d.s.cfg.Queues {
			ls = append(ls, lane{p, q})
		}
	}
	return ls
}

// maxAnnounced bounds the announcements kept per lane between two looks.
const maxAnnounced = 64

// onMessage folds an announcement into the pending ones and wakes the
// dispatcher. It runs on the subscriber's goroutine.
func (d *dispatcher) onMessage(channel, payload string) {
	l, ok := d.channels[channel]
	if !ok {
		if d.cancels[channel] {
			d.s.onCancelMessage(payload)
		}
		return
	}
	a, err := transport.ParseAnnounce(payload)
	if err != nil {
		d.s.log.Warn("ignoring a malformed announcement", "channel", channel, "err", err)
		return
	}
	d.s.counters.announced.Add(1)
	d.mu.Lock()
	if len(d.ann[l]) < maxAnnounced {
		d.ann[l] = append(d.ann[l], store.Head{ID: a.ID, Due: a.DueMs})
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
	d.ann, d.resync = map[lane][]store.Head{}, false
	d.mu.Unlock()
	if resync {
		d.stale = true
	}
	for l, hs := range ann {
		d.heads.add(l, d.foreign.filter(l, hs), d.s.nHeads)
	}
}

// setHeads replaces lane l's heads with hs, without the foreign tasks. With
// prune, hs is a read that reached past every known foreign task, so those
// not in it have left the index and are forgotten.
func (d *dispatcher) setHeads(l lane, hs []store.Head, prune bool) {
	if prune {
		d.foreign.prune(l, hs)
	}
	d.heads.set(l, d.foreign.filter(l, hs))
}

// learnForeign records due tasks of lane l whose handler this daemon lacks.
// The heads are then re-read, reaching that much further: the tasks behind
// them may be this daemon's.
// It reports whether some did not fit: then the lane is given up until the
// next wake.
func (d *dispatcher) learnForeign(l lane, ids []string) (full bool) {
	added, full := d.foreign.learn(l, ids)
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
		if err := d.flush(context.WithoutCancel(ctx), lane{}); err != nil {
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
	if d.idle == 0 {
		return d.flush(ctx, lane{})
	}
	if d.stale {
		return d.peek(ctx)
	}
	for l, at := range d.leases {
		if now := d.now(l); at <= now {
			d.stale = true
			return d.recoverExpired(ctx, l, now)
		}
	}
	l, due, ok := d.heads.earliest()
	if !ok || due > d.now(l) {
		if len(d.pending) == 0 {
			return errWait
		}
		l = lane{}
	}
	return d.flush(ctx, l)
}

// now is Redis's time in ms as lane l's partition sees it.
func (d *dispatcher) now(l lane) int64 { return d.s.clock(l.part).Now().UnixMilli() }

// peek re-reads the heads and earliest leases of every lane in one round
// trip, with the time of each partition's Redis when there is a deadline
// to wait for.
func (d *dispatcher) peek(ctx context.Context) error {
	s := d.s
	pipe := s.rdb.Pipeline()
	lanes := d.lanes()
	dueCmds := make([]*redis.ZSliceCmd, len(lanes))
	leaseCmds := make([]*redis.ZSliceCmd, len(lanes))
	for i, l := range lanes {
		k := s.space.Part(l.part)
		dueCmds[i] = pipe.ZRangeWithScores(ctx, k.Due(l.queue), 0, int64(s.nHeads+len(d.foreign[l])-1))
		leaseCmds[i] = pipe.ZRangeWithScores(ctx, k.Lease(l.queue), 0, 0)
	}
	_, _, waiting := d.heads.earliest()
	timeCmds := make([]*redis.Cmd, s.space.N())
	for p, st := range s.stores.All() {
		if waiting || len(d.leases) > 0 || st.Clock().Stale() {
			var err error // a deadline to wait for: Redis's time steers the wait
			if timeCmds[p], err = st.QueueTime(ctx, pipe); err != nil {
				return err
			}
		}
	}
	sent := s.cfg.Clock.Now()
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	for p, cmd := range timeCmds {
		if cmd == nil {
			continue
		}
		us, err := store.RedisTime(cmd)
		if err != nil {
			return err
		}
		s.clock(p).Observe(sent, s.cfg.Clock.Now(), us, false)
	}
	s.counters.peeks.Add(1)
	for i, l := range lanes {
		hs := make([]store.Head, 0, len(dueCmds[i].Val()))
		for _, z := range dueCmds[i].Val() {
			hs = append(hs, store.Head{ID: z.Member.(string), Due: int64(z.Score)})
		}
		d.setHeads(l, hs, true)
		delete(d.leases, l)
		if ls := leaseCmds[i].Val(); len(ls) > 0 {
			d.leases[l] = int64(ls[0].Score)
		}
	}
	d.stale = false
	return nil
}

// wait sleeps until the next deadline, an announcement, a free loop or
// SafetyWait, whichever comes first, with one timer for every lane.
// Deadlines are Redis's times, each partition's by its own clock: the
// local clock corrected by the offset seen in that partition's replies.
func (d *dispatcher) wait(ctx context.Context) {
	s := d.s
	now := s.cfg.Clock.Now()
	next, safety := now.Add(s.cfg.SafetyWait), true
	at := func(l lane, ms int64) time.Time { // a deadline of lane l, by the local clock
		return now.Add(transport.FromMs(ms).Sub(s.clock(l.part).Now()))
	}
	if l, due, ok := d.heads.earliest(); ok && at(l, due).Before(next) {
		next, safety = at(l, due), false
	}
	for l, ms := range d.leases {
		if at(l, ms).Before(next) {
			next, safety = at(l, ms), false
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
		d.setHeads(m.lane, m.heads, false)
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
