package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
	"github.com/dueq/dueq/wire"
)

// flush writes the pending outcomes (up to store.FinishChunk of them per
// partition) and claims due tasks of lane l (none when its queue is "")
// for the idle loops, in one pipelined round trip: a call per partition
// with outcomes, the claim going with those of its partition. Claiming an
// occurrence of a recurring task also writes the schedule's next
// occurrence. Outcomes a failed call did not write stay pending for the
// next step.
func (d *dispatcher) flush(ctx context.Context, l lane) error {
	s := d.s
	if err := s.stores.Part(0).Prepare(ctx); err != nil {
		return err
	}
	claiming := l.queue != ""
	var (
		steps []store.Step
		skip  map[string]string
	)
	at := map[int]int{} // partition → its step
	step := func(p int) *store.Step {
		i, ok := at[p]
		if !ok {
			i = len(steps)
			at[p] = i
			steps = append(steps, store.Step{Part: p, Finish: store.FinishParams{Heads: s.nHeads}})
		}
		return &steps[i]
	}
	var rest []*store.Finishing
	for _, f := range d.pending {
		st := step(s.space.Of(f.Task.ID))
		if len(st.Finish.Tasks) == store.FinishChunk {
			rest = append(rest, f)
			continue
		}
		f.Parent = f.Parent || d.parents[f.Task.ID]
		st.Finish.Tasks = append(st.Finish.Tasks, f)
	}
	if claiming {
		cands, sk, err := d.candidates(ctx, l, d.now(l))
		if err != nil {
			return err
		}
		skip = sk
		st := step(l.part)
		st.Finish.Heads = 0 // the heads re-read after a task come with the claim
		st.Claim = store.ClaimParams{Queue: l.queue, Claimer: s.cl, Want: d.idle, Heads: s.nHeads, Extra: len(d.foreign[l]), Candidates: cands}
	}
	if len(steps) == 0 {
		return nil
	}
	d.pending = rest
	sent := time.Now()
	rs := s.stores.Round(ctx, steps)
	if claiming {
		s.counters.claimNanos.Add(int64(time.Since(sent)))
	}
	var errs []error
	var keep []*store.Finishing
	for i, st := range steps {
		r := rs[i]
		if len(st.Finish.Tasks) > 0 {
			again, err := d.finishReply(r.Finish, r.FinishErr, st.Part, st.Finish.Tasks, st.Claim.Queue == "")
			keep = append(keep, again...)
			if err != nil {
				errs = append(errs, err)
			}
		}
		if st.Claim.Queue != "" { // read even when the finish failed: its tasks are leased to us
			if r.ClaimErr != nil {
				errs = append(errs, r.ClaimErr)
			} else {
				d.claimed(l, r.Claim, skip)
			}
		}
	}
	d.pending = append(keep, d.pending...)
	return errors.Join(errs...)
}

// finishReply takes a finish.lua reply (or err) for fs, outcomes of
// partition p, taking the heads it returns when useHeads, and returns
// those to write again. When the call failed (Redis unreachable), they
// all are, for the next step; a reply that cannot be read drops them,
// logged: what was written is unknown, and a task whose outcome was not
// written runs again after its lease.
func (d *dispatcher) finishReply(r store.FinishReply, err error, p int, fs []*store.Finishing, useHeads bool) ([]*store.Finishing, error) {
	if err != nil && !errors.Is(err, store.ErrReply) {
		return fs, err
	}
	if err != nil {
		for _, f := range fs {
			d.s.log.Error("could not read the reply to writing a task's outcome; if it was not written, the task runs again when its lease expires",
				"id", f.Task.ID, "err", err)
		}
		for _, f := range fs {
			d.s.untrack(f.Task)
		}
		return nil, err
	}
	if useHeads {
		for q, h := range r.Heads {
			d.setHeads(lane{p, q}, h, false)
		}
	}
	d.s.counters.finishCalls.Add(1)
	return d.finished(fs), nil
}

// finished takes a finish.lua reply for fs: it counts and logs them and
// returns those whose children list changed, to write again with it. The
// others are settled: their leases need no more renewing.
func (d *dispatcher) finished(fs []*store.Finishing) []*store.Finishing {
	s := d.s
	var again []*store.Finishing
	for _, f := range fs {
		switch f.Status {
		case store.FinishVanished:
			when := "while it was scheduled; it is recorded as failed"
			if f.Ran {
				when = "while it ran; its outcome was written anew"
			}
			s.recordVanished(f.Task.ID, f.Task.Queue, when)
			fallthrough
		case store.FinishDone:
			switch {
			case f.Ran && f.State == tasks.Succeeded:
				s.counters.succeeded.Add(1)
			case f.Ran && f.State == tasks.Failed:
				s.counters.failed.Add(1)
			}
		case store.FinishRefused:
			s.lostClaim(f.Task)
		case store.FinishParent, store.FinishKids:
			f.Parent = true
			if f.Tries++; f.Tries < store.MaxKidsTries {
				again = append(again, f)
				continue
			}
			s.log.Error("could not record a task's outcome: its children kept changing; it runs again when its lease expires",
				"id", f.Task.ID, "tries", f.Tries)
		}
		s.untrack(f.Task)
		delete(d.parents, f.Task.ID)
	}
	return again
}

// candidates lists the due heads of lane l worth naming in a claim, with the
// next occurrence of each occurrence of a recurring task; skip holds the
// occurrences that missed their slot under misfire skip, with the reason.
func (d *dispatcher) candidates(ctx context.Context, l lane, now int64) (cands []store.Candidate, skip map[string]string, err error) {
	nowT := transport.FromMs(now)
	skip = map[string]string{}
	for _, id := range d.heads.dueBy(l, now, 2*d.idle) {
		c := store.Candidate{ID: id}
		if sid, fire, ok := store.ParseOccurrence(id); ok {
			sc, err := d.schedule(ctx, sid)
			if err != nil {
				return nil, nil, err
			}
			if sc != nil {
				c.Next, c.Rev = sc.Occurrence(sc.Rule.Next(maxTime(fire, nowT)), nowT), sc.Rev
				if missed := !sc.Rule.Next(fire).After(nowT); missed && sc.Misfire == wire.MisfireSkip {
					skip[id] = fmt.Sprintf("missed its slot at %s while no daemon ran; misfire is skip", fire.Format(tasks.TimeLayout))
				}
			}
		}
		cands = append(cands, c)
	}
	return cands, skip, nil
}

// claimed takes a claim's reply: it hands the claimed tasks to idle loops.
func (d *dispatcher) claimed(l lane, r store.ClaimReply, skip map[string]string) {
	s := d.s
	queue := l.queue
	now, got := r.NowUs/1000, r.Got
	if r.Paused {
		// Nothing is claimed of it until an announcement or a re-read
		// brings its heads back (a resume announces them).
		d.setHeads(l, nil, false)
		s.counters.claimCalls.Add(1)
		s.counters.pausedClaims.Add(1)
		return
	}
	if d.learnForeign(l, r.Foreign) {
		// More foreign tasks than it looks past: nothing of this lane is
		// claimed again before the next wake.
		d.setHeads(l, nil, false)
	} else {
		d.setHeads(l, r.Heads, true)
	}
	for _, id := range r.Stale {
		sid, _, _ := store.ParseOccurrence(id)
		delete(d.schedules, sid) // read it again before the next claim
	}
	s.counters.claimCalls.Add(1)
	if len(got) == 0 {
		s.counters.claimMisses.Add(1)
	}
	d.lastClaim, d.lastClaimAt = 0, time.Now()
	for _, c := range got {
		switch {
		case c.Alien:
			s.log.Error("dropped a due entry whose key is not a task record", "queue", queue, "err", c.Err)
			continue
		case c.Err != nil && c.Task == nil: // its record vanished: finish.lua records it as failed, and tells its children
			d.pending = append(d.pending, &store.Finishing{Task: &tasks.Task{ID: c.ID, Name: "?", Queue: queue}, State: tasks.Failed,
				Err: "its record vanished from Redis while it was scheduled (evicted, or deleted by hand); it cannot run"})
			continue
		case c.Err != nil: // failed under this claim, so it does not block its queue
			s.log.Error("failing a task that cannot be read", "queue", queue, "err", c.Err)
			d.pending = append(d.pending, &store.Finishing{Task: c.Task, State: tasks.Failed, Err: c.Err.Error()})
			s.track(c.Task, func() {})
			continue
		case skip[c.ID] != "": // no loop runs it: written with the next call
			d.pending = append(d.pending, &store.Finishing{Task: c.Task, State: tasks.Canceled, Err: skip[c.ID]})
			s.track(c.Task, func() {})
			continue
		}
		if d.leases[l] == 0 || d.leases[l] > now+s.cfg.Lease.Milliseconds() {
			d.leases[l] = now + s.cfg.Lease.Milliseconds()
		}
		s.counters.claimed.Add(1)
		d.idle--
		d.lastClaim++
		if c.Parent {
			d.parents[c.ID] = true
		}
		s.work <- c.Task // buffered for every loop: never blocks
	}
}

// schedule returns the active schedule sid, read once and cached until a
// claim finds it changed; nil when it is gone or canceled.
func (d *dispatcher) schedule(ctx context.Context, sid string) (*store.Schedule, error) {
	if sc, ok := d.schedules[sid]; ok {
		return sc, nil
	}
	h, err := d.s.rdb.HGetAll(ctx, d.s.space.KeysOf(sid).Schedule(sid)).Result()
	if err != nil {
		return nil, fmt.Errorf("read schedule %s: %w", sid, err)
	}
	if len(h) == 0 {
		return nil, nil
	}
	sc, err := store.DecodeSchedule(sid, h)
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

// recoverExpired re-queues the tasks of lane l whose lease expired by now
// (Redis's time as this daemon sees it; recover.lua checks with Redis's
// own clock).
func (d *dispatcher) recoverExpired(ctx context.Context, l lane, now int64) error {
	s := d.s
	queue, st := l.queue, s.stores.Part(l.part)
	ids, err := st.Expired(ctx, queue, now, 100)
	if err != nil {
		return err
	}
	for _, id := range ids {
		n, err := st.Recover(ctx, store.RecoverParams{Queue: queue, ID: id, MaxRecoveries: s.cfg.MaxRecoveries})
		if err != nil {
			return err
		}
		switch n {
		case store.RecoverRequeued:
			s.counters.recovered.Add(1)
			s.log.Warn("re-queued a task whose daemon stopped renewing its lease", "id", id, "queue", queue)
		case store.RecoverFailed:
			s.counters.recovered.Add(1)
			s.log.Error("failed a task whose daemons kept dying", "id", id, "queue", queue, "max_recoveries", s.cfg.MaxRecoveries)
		case store.RecoverVanished:
			s.recordVanished(id, queue, "while it ran and its daemon stopped renewing its lease; it is recorded as failed")
		}
	}
	return nil
}

// claimWait is how long after a claim the dispatcher may wait for company
// before the next: a round trip of a loaded Redis, well under a
// millisecond.
const claimWait = 200 * time.Microsecond

// gather waits for company before a claim: when the last claim handed
// several tasks to loops (a backlog), tasks are still due and no outcome
// handed in is a parent's (children wait for those), it waits
// until every loop is free again, but no later than claimWait after that
// claim. Loops that ran short tasks are back within that time, and one
// claim for all of them costs Redis much less than a claim for each few;
// a loop whose task takes longer is not waited for past the deadline, so a
// free loop waits at most claimWait. With one task at a time (no load), or
// nothing due, it returns at once. The outcomes handed in meanwhile wait
// with the loops: they go with that claim.
func (d *dispatcher) gather(ctx context.Context) {
	if d.idle >= d.s.cfg.Workers && len(d.pending) == 0 {
		clear(d.parents) // nothing runs here: forget those retried or handed back
	}
	if d.lastClaim < 2 || d.idle >= d.s.cfg.Workers || d.stale || d.releasing() {
		return
	}
	if l, due, ok := d.heads.earliest(); !ok || due > d.now(l) {
		return
	}
	left := time.Until(d.lastClaimAt.Add(d.claimWait))
	if left <= 0 {
		return
	}
	timer := time.NewTimer(left)
	defer timer.Stop()
	for d.idle < d.s.cfg.Workers {
		select {
		case m := <-d.s.ready:
			d.onIdle(m)
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// releasing reports whether a pending outcome is a parent's: its children
// wait for it, so it is written at once, not held for company.
func (d *dispatcher) releasing() bool {
	for _, f := range d.pending {
		if d.parents[f.Task.ID] {
			return true
		}
	}
	return false
}
