package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
	"github.com/dueq/dueq/wire"
)

// flush writes the pending outcomes (up to finishChunk of them) and claims
// due tasks of queue (none when queue is "") for the idle loops, in one
// pipelined round trip. Claiming an occurrence of a recurring task also
// writes the schedule's next occurrence. Outcomes a failed call did not
// write stay pending for the next step.
func (d *dispatcher) flush(ctx context.Context, queue string) error {
	s := d.s
	if err := s.x.prepare(ctx); err != nil {
		return err
	}
	var (
		cands []candidate
		skip  map[string]string
		err   error
	)
	if queue != "" {
		if cands, skip, err = d.candidates(ctx, queue, s.x.clock.Now().UnixMilli()); err != nil {
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
			nHeads := s.nHeads // the heads re-read after a task, which ...
			if queue != "" {
				nHeads = 0 // ... come with the claim
			}
			fcmd, fqueues = s.x.finishCall(ctx, pipe, fs, nHeads)
		}
		if queue != "" {
			ccmd = s.x.claimCall(ctx, pipe, queue, s.cl, d.idle, s.nHeads, len(d.foreign[queue]), cands)
		}
		sent, sentLocal := time.Now(), s.cfg.Clock.Now()
		_, _ = pipe.Exec(ctx) // each command's own error is read below
		recvLocal := s.cfg.Clock.Now()
		if ccmd != nil {
			s.counters.claimNanos.Add(int64(time.Since(sent)))
		}
		noScript := false
		var errs []error
		if fcmd != nil {
			if noScript = isNoScript(fcmd.Err()); !noScript {
				if err := d.finishReply(fcmd, fs, fqueues, queue == ""); err != nil {
					errs = append(errs, err)
				}
				fs = nil
			}
		}
		if ccmd != nil { // read even when the finish failed: its tasks are leased to us
			if isNoScript(ccmd.Err()) {
				noScript = true
			} else {
				r, cerr := parseClaim(queue, s.cl.daemon, ccmd)
				if cerr != nil {
					errs = append(errs, cerr)
				} else {
					s.x.clock.observe(sentLocal, recvLocal, r.nowUs, notYetDue(cands, r))
					d.claimed(queue, r, skip)
				}
				queue = ""
			}
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		if !noScript {
			return nil
		}
		if try > 0 {
			return errors.New("the scripts keep vanishing from Redis (NOSCRIPT right after loading them)")
		}
		if err := s.x.load(ctx, finishScript, claimScript); err != nil {
			return err
		}
	}
	return nil
}

// finishReply reads a finish.lua reply for fs, the first of the pending
// outcomes, taking the heads it returns when useHeads. When the call failed
// (Redis unreachable), the outcomes stay pending for the next step; a reply
// that cannot be read drops them, logged: what was written is unknown, and
// a task whose outcome was not written runs again after its lease.
func (d *dispatcher) finishReply(cmd *redis.Cmd, fs []*finishing, queues []string, useHeads bool) error {
	if err := cmd.Err(); err != nil {
		return fmt.Errorf("finish %d tasks: %w", len(fs), err)
	}
	hs, err := parseFinish(cmd, fs, queues)
	if err != nil {
		for _, f := range fs {
			d.s.log.Error("could not read the reply to writing a task's outcome; if it was not written, the task runs again when its lease expires",
				"id", f.task.ID, "err", err)
		}
		for _, f := range fs {
			d.s.untrack(f.task)
		}
		d.pending = d.pending[len(fs):]
		return err
	}
	if useHeads {
		for q, h := range hs {
			d.setHeads(q, h, false)
		}
	}
	d.s.counters.finishCalls.Add(1)
	d.finished(fs)
	return nil
}

// finished takes a finish.lua reply for fs, the first of the pending
// outcomes: it counts and logs them and keeps pending only those whose
// children list changed, to write again with it. The others are settled:
// their leases need no more renewing.
func (d *dispatcher) finished(fs []*finishing) {
	s := d.s
	var again []*finishing
	for _, f := range fs {
		switch f.status {
		case finishVanished:
			when := "while it was scheduled; it is recorded as failed"
			if f.ran {
				when = "while it ran; its outcome was written anew"
			}
			s.recordVanished(f.task.ID, f.task.Queue, when)
			fallthrough
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
		s.untrack(f.task)
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
				if missed := !sc.rule.Next(fire).After(nowT); missed && sc.Misfire == wire.MisfireSkip {
					skip[id] = fmt.Sprintf("missed its slot at %s while no daemon ran; misfire is skip", fire.Format(tasks.TimeLayout))
				}
			}
		}
		cands = append(cands, c)
	}
	return cands, skip, nil
}

// claimed takes a claim's reply: it hands the claimed tasks to idle loops.
func (d *dispatcher) claimed(queue string, r claimReply, skip map[string]string) {
	s := d.s
	now, got := r.nowUs/1000, r.got
	if d.learnForeign(queue, r.foreign) {
		// More foreign tasks than it looks past: nothing of this queue is
		// claimed again before the next wake.
		d.setHeads(queue, nil, false)
	} else {
		d.setHeads(queue, r.heads, true)
	}
	for _, id := range r.stale {
		sid, _, _ := parseOccurrence(id)
		delete(d.schedules, sid) // read it again before the next claim
	}
	s.counters.claimCalls.Add(1)
	if len(got) == 0 {
		s.counters.claimMisses.Add(1)
	}
	for _, c := range got {
		switch {
		case c.err != nil && c.task == nil: // its record vanished: finish.lua records it as failed, and tells its children
			d.pending = append(d.pending, &finishing{task: &tasks.Task{ID: c.id, Name: "?", Queue: queue}, state: tasks.Failed,
				err: "its record vanished from Redis while it was scheduled (evicted, or deleted by hand); it cannot run"})
			continue
		case c.err != nil: // failed under this claim, so it does not block its queue
			s.log.Error("failing a task that cannot be read", "queue", queue, "err", c.err)
			d.pending = append(d.pending, &finishing{task: c.task, state: tasks.Failed, err: c.err.Error()})
			s.track(c.task, func() {})
			continue
		case skip[c.id] != "": // no loop runs it: written with the next call
			d.pending = append(d.pending, &finishing{task: c.task, state: tasks.Canceled, err: skip[c.id]})
			s.track(c.task, func() {})
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
func (d *dispatcher) schedule(ctx context.Context, sid string) (*schedule, error) {
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
	if sc.State != wire.ScheduleActive {
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

// recoverExpired re-queues the tasks of queue whose lease expired by now
// (Redis's time as this daemon sees it; recover.lua checks with Redis's
// own clock).
func (d *dispatcher) recoverExpired(ctx context.Context, queue string, now int64) error {
	s := d.s
	ids, err := s.x.expired(ctx, queue, now, 100)
	if err != nil {
		return err
	}
	for _, id := range ids {
		n, err := s.x.recover(ctx, queue, id, s.cfg.MaxRecoveries)
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
		case recoverVanished:
			s.recordVanished(id, queue, "while it ran and its daemon stopped renewing its lease; it is recorded as failed")
		}
	}
	return nil
}

// notYetDue reports whether a claim found a candidate still in the index
// but not due by Redis's clock: the daemon's estimate of that clock woke it
// early, and the sample of the reply should replace it. (A candidate another
// daemon took first is no such sign.)
func notYetDue(cands []candidate, r claimReply) bool {
	if len(r.got) > 0 || len(cands) == 0 {
		return false
	}
	now := r.nowUs / 1000
	for _, h := range r.heads {
		if h.due > now {
			for _, c := range cands {
				if c.id == h.id {
					return true
				}
			}
		}
	}
	return false
}
