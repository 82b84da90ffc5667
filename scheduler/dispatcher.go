package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
)

// idle is what a worker loop tells the dispatcher when it is free: the
// final outcome of its last task for the dispatcher to write, or the fresh
// heads of the queue its last task's re-queue returned (none at start).
type idle struct {
	fin   *finishing
	queue string
	heads []head
	fresh bool
}

// dispatcher is the wait of SPEC §1, shared by a daemon's idle loops: it
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
	pending  []*finishing // outcomes handed in by loops, not written yet
	stale    bool         // re-read the heads before deciding
	// schedules caches the schedules of occurrences this daemon claimed.
	schedules map[string]*Schedule

	// waiting is true while the dispatcher is blocked in wait (for tests).
	waiting atomic.Bool

	// announcements, filled by the subscriber goroutine
	mu     sync.Mutex
	ann    map[string][]head
	resync bool
	wake   chan struct{}
}

func newDispatcher(s *Scheduler) *dispatcher {
	return &dispatcher{s: s, deadline: newDeadline(), heads: heads{}, leases: map[string]int64{}, stale: true, schedules: map[string]*Schedule{},
		ann: map[string][]head{}, wake: make(chan struct{}, 1)}
}

// maxAnnounced bounds the announcements kept per queue between two looks.
const maxAnnounced = 64

// onMessage folds an announcement into the pending ones and wakes the
// dispatcher. It runs on the subscriber's goroutine.
func (d *dispatcher) onMessage(channel, payload string) {
	queue, ok := strings.CutPrefix(channel, d.s.x.keys.Announce(""))
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
		d.ann[queue] = append(d.ann[queue], head{id: a.ID, due: a.DueMs})
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
	d.ann, d.resync = map[string][]head{}, false
	d.mu.Unlock()
	if resync {
		d.stale = true
	}
	for q, hs := range ann {
		d.heads.add(q, hs, d.s.nHeads)
	}
}

// run waits and claims until ctx is done; then it writes the outcomes of
// the tasks still running as they end, and closes the work channel once
// every loop is idle.
func (d *dispatcher) run(ctx context.Context) {
	defer close(d.s.work)
	s := d.s
	backoff := time.Duration(0)
	for {
		d.collectIdle()
		if ctx.Err() != nil {
			if d.drain(ctx) {
				return
			}
			continue
		}
		if d.idle == 0 {
			select { // every loop is busy: nothing to claim for
			case m := <-s.ready:
				d.onIdle(m)
			case <-ctx.Done():
			}
			continue
		}
		d.takeNews()
		err := d.step(ctx)
		if err == errWait {
			backoff = 0
			s.redisOK()
			d.wait(ctx)
			continue
		}
		if err != nil && ctx.Err() == nil {
			backoff = nextBackoff(backoff)
			s.redisError(err)
			d.stale = true
			sleepCtx(ctx, backoff)
			continue
		}
		backoff = 0
		s.redisOK()
	}
}

// drain is one step of a stopping dispatcher: write the pending outcomes
// (once: an error drops them, to be run again after their lease), or wait
// for a busy loop. It reports whether every loop is idle with nothing left.
func (d *dispatcher) drain(ctx context.Context) bool {
	s := d.s
	if len(d.pending) > 0 {
		if err := d.flush(context.WithoutCancel(ctx), "", 0); err != nil {
			s.redisError(err)
			for _, f := range d.pending {
				s.log.Error("could not record a task's outcome; it runs again when its lease expires", "id", f.task.ID, "err", err)
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

// step does one thing: re-read, recover expired leases, or write pending
// outcomes and claim due tasks.
func (d *dispatcher) step(ctx context.Context) error {
	s := d.s
	if d.stale {
		return d.peek(ctx)
	}
	now := s.cfg.Clock.Now().UnixMilli()
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
	return d.flush(ctx, q, now)
}

// flush writes the pending outcomes (up to finishChunk of them) and claims
// due tasks of queue (none when queue is "") for the idle loops, in one
// pipelined round trip. Claiming an occurrence of a recurring task also
// writes the schedule's next occurrence. Outcomes a failed call did not
// write stay pending for the next step.
func (d *dispatcher) flush(ctx context.Context, queue string, now int64) error {
	s := d.s
	var (
		cands []candidate
		skip  map[string]string
		err   error
	)
	if queue != "" {
		if cands, skip, err = d.candidates(ctx, queue, now); err != nil {
			return err
		}
	}
	fs := d.pending[:min(len(d.pending), finishChunk)]
	for try := 0; len(fs) > 0 || queue != ""; try++ {
		var (
			fcmd, ccmd *redis.Cmd
			fqueues    []string
		)
		pipe := s.x.rdb.Pipeline()
		if len(fs) > 0 {
			nHeads := s.nHeads // the heads re-read after a task (SPEC §1) ...
			if queue != "" {
				nHeads = 0 // ... come with the claim
			}
			fcmd, fqueues = s.x.finishCall(ctx, pipe, fs, nHeads)
		}
		if queue != "" {
			ccmd = s.x.claimCall(ctx, pipe, queue, now, now+s.cfg.Lease.Milliseconds(), d.idle, s.nHeads, cands)
		}
		sent := time.Now()
		_, _ = pipe.Exec(ctx) // each command's own error is read below
		if ccmd != nil {
			s.counters.claimNanos.Add(int64(time.Since(sent)))
		}
		noScript := false
		if fcmd != nil {
			if noScript = isNoScript(fcmd.Err()); !noScript {
				hs, ferr := parseFinish(fcmd, fs, fqueues)
				if ferr != nil {
					return ferr
				}
				if queue == "" {
					for q, h := range hs {
						d.heads.set(q, h)
					}
				}
				s.counters.finishCalls.Add(1)
				d.finished(fs)
				fs = nil
			}
		}
		if ccmd != nil {
			if isNoScript(ccmd.Err()) {
				noScript = true
			} else {
				got, hs, stale, cerr := parseClaim(queue, ccmd)
				if cerr != nil {
					return cerr
				}
				d.claimed(queue, now, got, hs, stale, skip)
				queue = ""
			}
		}
		if !noScript {
			return nil
		}
		if try > 0 {
			return errors.New("the scripts keep vanishing from Redis (NOSCRIPT right after loading them)")
		}
		if err := loadScripts(ctx, s.x.rdb, finishScript, claimScript); err != nil {
			return err
		}
	}
	return nil
}

// finished takes a finish.lua reply for fs, the first of the pending
// outcomes: it counts and logs them and keeps pending only those whose
// children list changed, to write again with it.
func (d *dispatcher) finished(fs []*finishing) {
	s := d.s
	var again []*finishing
	for _, f := range fs {
		switch f.status {
		case finishDone:
			switch {
			case f.ran && f.state == tasks.Succeeded:
				s.counters.succeeded.Add(1)
			case f.ran && f.state == tasks.Failed:
				s.counters.failed.Add(1)
			}
		case finishRefused:
			s.lostClaim(f.task)
		case finishKids:
			if f.tries++; f.tries < maxKidsTries {
				again = append(again, f)
				continue
			}
			s.log.Error("could not record a task's outcome: its children kept changing; it runs again when its lease expires",
				"id", f.task.ID, "tries", f.tries)
		}
	}
	d.pending = append(again, d.pending[len(fs):]...)
}

// candidates lists the due heads of queue worth naming in a claim, with the
// next occurrence of each occurrence of a recurring task; skip holds the
// occurrences that missed their slot under misfire skip, with the reason.
func (d *dispatcher) candidates(ctx context.Context, queue string, now int64) (cands []candidate, skip map[string]string, err error) {
	nowT := transport.FromMs(now)
	skip = map[string]string{}
	for _, id := range d.heads.dueBy(queue, now, 2*d.idle) {
		c := candidate{id: id}
		if sid, fire, ok := parseOccurrence(id); ok {
			sc, err := d.schedule(ctx, sid)
			if err != nil {
				return nil, nil, err
			}
			if sc != nil {
				c.next, c.rev = sc.occurrence(sc.rule.Next(maxTime(fire, nowT)), nowT), sc.rev
				if missed := !sc.rule.Next(fire).After(nowT); missed && sc.Misfire == MisfireSkip {
					skip[id] = fmt.Sprintf("missed its slot at %s while no daemon ran; misfire is skip", fire.Format(tasks.TimeLayout))
				}
			}
		}
		cands = append(cands, c)
	}
	return cands, skip, nil
}

// claimed takes a claim's reply: it hands the claimed tasks to idle loops.
func (d *dispatcher) claimed(queue string, now int64, got []claimed, hs []head, stale []string, skip map[string]string) {
	s := d.s
	d.heads.set(queue, hs)
	for _, id := range stale {
		sid, _, _ := parseOccurrence(id)
		delete(d.schedules, sid) // read it again before the next claim
	}
	s.counters.claimCalls.Add(1)
	if len(got) == 0 {
		s.counters.claimMisses.Add(1)
	}
	for _, c := range got {
		switch {
		case c.err != nil: // failed under this claim, so it does not block its queue
			s.log.Error("failing a task that cannot be read", "queue", queue, "err", c.err)
			if c.task != nil {
				d.pending = append(d.pending, &finishing{task: c.task, state: tasks.Failed, now: now, err: c.err.Error()})
			}
			continue
		case skip[c.id] != "": // no loop runs it: written with the next call
			d.pending = append(d.pending, &finishing{task: c.task, state: tasks.Canceled, now: now, err: skip[c.id]})
			continue
		}
		if d.leases[queue] == 0 || d.leases[queue] > now+s.cfg.Lease.Milliseconds() {
			d.leases[queue] = now + s.cfg.Lease.Milliseconds()
		}
		s.counters.claimed.Add(1)
		d.idle--
		s.work <- c.task // buffered for every loop: never blocks
	}
}

// schedule returns the active schedule sid, read once and cached until a
// claim finds it changed; nil when it is gone or canceled.
func (d *dispatcher) schedule(ctx context.Context, sid string) (*Schedule, error) {
	if sc, ok := d.schedules[sid]; ok {
		return sc, nil
	}
	h, err := d.s.x.rdb.HGetAll(ctx, d.s.x.keys.Schedule(sid)).Result()
	if err != nil {
		return nil, fmt.Errorf("read schedule %s: %w", sid, err)
	}
	if len(h) == 0 {
		return nil, nil
	}
	sc, err := decodeSchedule(sid, h)
	if err != nil {
		d.s.log.Error("running an occurrence of a schedule that cannot be read, without its next one", "err", err)
		return nil, nil
	}
	if sc.State != ScheduleActive {
		return nil, nil
	}
	d.schedules[sid] = sc
	return sc, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// recoverExpired re-queues the tasks of queue whose lease expired by now.
func (d *dispatcher) recoverExpired(ctx context.Context, queue string, now int64) error {
	s := d.s
	ids, err := s.x.expired(ctx, queue, now, 100)
	if err != nil {
		return err
	}
	for _, id := range ids {
		n, err := s.x.recover(ctx, queue, id, now, s.cfg.MaxRecoveries)
		if err != nil {
			return err
		}
		switch n {
		case recoverRequeued:
			s.counters.recovered.Add(1)
			s.log.Warn("re-queued a task whose daemon stopped renewing its lease", "id", id, "queue", queue)
		case recoverFailed:
			s.counters.recovered.Add(1)
			s.log.Error("failed a task whose daemons kept dying", "id", id, "queue", queue, "max_recoveries", s.cfg.MaxRecoveries)
		}
	}
	return nil
}

// peek re-reads the heads and earliest leases of every queue in one round
// trip.
func (d *dispatcher) peek(ctx context.Context) error {
	s := d.s
	pipe := s.x.rdb.Pipeline()
	dueCmds := make([]*redis.ZSliceCmd, len(s.cfg.Queues))
	leaseCmds := make([]*redis.ZSliceCmd, len(s.cfg.Queues))
	for i, q := range s.cfg.Queues {
		dueCmds[i] = pipe.ZRangeWithScores(ctx, s.x.keys.Due(q), 0, int64(s.nHeads-1))
		leaseCmds[i] = pipe.ZRangeWithScores(ctx, s.x.keys.Lease(q), 0, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	s.counters.peeks.Add(1)
	for i, q := range s.cfg.Queues {
		hs := make([]head, 0, len(dueCmds[i].Val()))
		for _, z := range dueCmds[i].Val() {
			hs = append(hs, head{id: z.Member.(string), due: int64(z.Score)})
		}
		d.heads.set(q, hs)
		delete(d.leases, q)
		if l := leaseCmds[i].Val(); len(l) > 0 {
			d.leases[q] = int64(l[0].Score)
		}
	}
	d.stale = false
	return nil
}

// wait sleeps until the next deadline, an announcement, a free loop or
// SafetyWait, whichever comes first.
func (d *dispatcher) wait(ctx context.Context) {
	s := d.s
	now := s.cfg.Clock.Now()
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
		d.heads.set(m.queue, m.heads)
	}
	if m.fin != nil {
		d.pending = append(d.pending, m.fin)
	}
}

// stopTimer stops t and drains its channel, so Reset starts clean.
func stopTimer(t *time.Timer) {
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
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
