package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/dueq/dueq/deps"
	"github.com/dueq/dueq/internal/backoff"
	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/tasks"
)

// abandonAfter is how long a loop waits for a handler that ignores its
// canceled context before it reports the task and moves on.
const abandonAfter = time.Second

// loop is one worker loop: it runs the tasks the dispatcher claims for it,
// one at a time, and tells the dispatcher when it is free again.
func (s *Scheduler) loop() {
	s.ready <- idle{}
	for t := range s.work {
		s.ready <- s.execute(t)
	}
}

// execute runs one claimed task and records its outcome: a retry or a
// hand-back at once; a final outcome (succeeded, failed, or decided by a
// parent) it hands to the dispatcher, which writes the outcomes of all the
// loops that ended a task meanwhile in one call with its next claim.
func (s *Scheduler) execute(t *tasks.Task) idle {
	ctx, cancel := context.WithCancel(s.handlerCtx)
	defer cancel()
	if t.Timeout > 0 {
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, t.Timeout)
		defer c2()
	}
	r := s.track(t, cancel)
	fin := s.run(ctx, t, r)
	if fin.fin == nil {
		s.untrack(t) // a final outcome is settled by the dispatcher once written
	}
	return fin
}

// run runs t's handler, unless its parents' outcomes decided it, and
// records what came of it: a retry or a hand-back at once, a final outcome
// handed to the dispatcher.
func (s *Scheduler) run(ctx context.Context, t *tasks.Task, r *runningTask) idle {
	bg := context.WithoutCancel(ctx)
	var (
		hs  []store.Head
		ok  bool
		rec error
	)
	run, doom, reason := deps.Verdict(t)
	var result []byte
	var err error
	if run {
		began := s.cfg.Clock.Now()
		if o := s.cfg.Observer; o != nil {
			o.Started(t, s.clock(s.space.Of(t.ID)).Now().Sub(t.DueAt))
		}
		result, err = s.call(ctx, t)
		r.ended.Store(true)
		if o := s.cfg.Observer; o != nil {
			o.Ended(t, s.attemptEnd(err, t), s.cfg.Clock.Now().Sub(began))
		}
	}
	r.ended.Store(true)
	switch {
	case !run: // a parent's outcome decided it: finish without running
		return idle{fin: &store.Finishing{Task: t, State: doom, Err: reason}}
	case r.canceled.Load():
		return idle{} // cancel.lua recorded it; nothing to write
	case r.lost.Load():
		return idle{} // another daemon holds its claim now
	case s.handlerCtx.Err() != nil && err != nil:
		ok, hs, rec = s.requeue(bg, t, r, 0, "", true)
		if ok {
			s.counters.handedBack.Add(1)
			s.log.Info("handed a task back at shutdown", "id", t.ID, "name", t.Name)
		}
	case err == nil:
		return idle{fin: &store.Finishing{Task: t, State: tasks.Succeeded, Result: result, Ran: true}}
	case t.Attempts < t.MaxAttempts:
		ok, hs, rec = s.requeue(bg, t, r, s.backoff(t.Attempts), err.Error(), false)
		if ok {
			s.counters.retried.Add(1)
			s.log.Warn("task attempt failed; retrying", "id", t.ID, "name", t.Name, "attempt", t.Attempts, "of", t.MaxAttempts, "err", err)
		}
	default:
		s.log.Warn("task failed", "id", t.ID, "name", t.Name, "attempts", t.Attempts, "err", err)
		return idle{fin: &store.Finishing{Task: t, State: tasks.Failed, Result: result, Err: err.Error(), Ran: true}}
	}
	switch {
	case rec != nil:
		s.redisError(rec)
		s.log.Error("could not record a task's outcome; it runs again when its lease expires", "id", t.ID, "err", rec)
		return idle{}
	case !ok:
		s.lostClaim(t)
	}
	return idle{lane: lane{s.space.Of(t.ID), t.Queue}, heads: hs, fresh: true}
}

// requeueTries bounds the tries of a re-queue that fails for another reason
// than a refusal or an outage (which may pass by themselves).
const requeueTries = 10

// requeue puts t back into the index after a failed attempt or at
// shutdown. While Redis refuses the write (out of memory) or cannot be
// reached, the loop tries again with backoff, as long as it takes, holding
// the claim and so the lease: a refusal must not turn into a lease
// recovery, which would give the attempt back. At shutdown it tries once.
func (s *Scheduler) requeue(ctx context.Context, t *tasks.Task, r *runningTask, delay time.Duration, errMsg string, giveBack bool) (ok bool, hs []store.Head, err error) {
	wait := time.Duration(0)
	for try := 1; ; try++ {
		var rep store.RequeueReply
		rep, err = s.stores.Of(t.ID).Requeue(ctx, store.RequeueParams{Task: t, Delay: delay, Err: errMsg, GiveBack: giveBack, Heads: s.nHeads})
		ok, hs = rep.OK, rep.Heads
		if err == nil {
			s.redisOK(true)
			return ok, hs, nil
		}
		if (try >= requeueTries && !transient(err)) || r.lost.Load() || s.handlerCtx.Err() != nil {
			return ok, hs, err
		}
		s.redisError(err)
		wait = backoff.Next(wait)
		if !backoff.Sleep(s.handlerCtx, wait) {
			return ok, hs, err
		}
	}
}

// attemptEnd is how an attempt that returned err ends, for an Observer:
// succeeded, failed for good, or scheduled again (a retry or a hand-back).
func (s *Scheduler) attemptEnd(err error, t *tasks.Task) tasks.State {
	switch {
	case err == nil:
		return tasks.Succeeded
	case t.Attempts < t.MaxAttempts || s.handlerCtx.Err() != nil:
		return tasks.Scheduled
	default:
		return tasks.Failed
	}
}

// lostClaim logs an outcome dropped because its worker no longer held the
// claim.
func (s *Scheduler) lostClaim(t *tasks.Task) {
	s.log.Warn("lost the claim on a task before it finished (its lease expired or it was canceled); its outcome is dropped", "id", t.ID, "name", t.Name)
}

// call runs t's handler and returns its result as JSON, which a failing
// handler may return too. A panic becomes an error; a handler still running abandonAfter past its context's end is
// reported as timed out (or canceled) and left behind.
func (s *Scheduler) call(ctx context.Context, t *tasks.Task) ([]byte, error) {
	h, err := s.reg.Lookup(t.Name)
	if err != nil {
		return nil, fmt.Errorf("%w (on daemon %s)", err, s.id)
	}
	type outcome struct {
		v   any
		err error
	}
	out := make(chan outcome, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				out <- outcome{err: fmt.Errorf("handler %s panicked: %v\n%s", t.Name, p, debug.Stack())}
			}
		}()
		v, err := h(ctx, &tasks.Call{Task: t, Parents: t.Outcomes})
		out <- outcome{v, err}
	}()
	var o outcome
	select {
	case o = <-out:
	case <-ctx.Done():
		timer := time.NewTimer(abandonAfter)
		defer timer.Stop()
		select {
		case o = <-out:
		case <-timer.C:
			o.err = fmt.Errorf("handler %s did not return %s after its context ended: %w", t.Name, abandonAfter, ctx.Err())
		}
	}
	if o.err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && s.handlerCtx.Err() == nil {
			o.err = fmt.Errorf("timed out after %s: %w", t.Timeout, o.err)
		}
		var res []byte
		if o.v != nil { // a failed attempt may still say something, like a shell's output
			var rerr error
			if res, rerr = encodeResult(o.v); rerr != nil {
				o.err = fmt.Errorf("%w; %w", o.err, rerr)
			}
		}
		return res, o.err
	}
	return encodeResult(o.v)
}

// encodeResult turns a handler's result into JSON; a json.RawMessage is
// kept as it is. A result that could not be read
// back whole (invalid UTF-8, or nested deeper than tasks.MaxJSONDepth) is
// an error, so it fails its own task and is never stored.
func encodeResult(v any) ([]byte, error) {
	var b []byte
	switch r := v.(type) {
	case nil:
		return []byte("null"), nil
	case json.RawMessage:
		b = r
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			return nil, fmt.Errorf("handler result cannot be stored as JSON: %w", err)
		}
	}
	if err := tasks.CheckJSON("result", b); err != nil {
		return nil, fmt.Errorf("handler result cannot be stored: %w", err)
	}
	return b, nil
}

// backoff is the wait before attempt n+1 after n failed attempts:
// exponential from RetryBase, capped at RetryCap, with jitter (a random time
// between half and all of it).
func (s *Scheduler) backoff(n int) time.Duration {
	d := s.cfg.RetryBase
	for i := 1; i < n && d < s.cfg.RetryCap; i++ {
		d *= 2
	}
	d = min(d, s.cfg.RetryCap)
	return d/2 + rand.N(d/2+1)
}
