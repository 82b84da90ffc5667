package client

import (
	"context"
	"sync"
	"time"

	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/tasks"
)

// submitter groups the submits of a Client's concurrent callers: while one
// group is on its way to Redis, the submits that arrive meanwhile wait and
// then go together, as one submit.lua call in one round trip. A lone caller
// is sent at once, so grouping adds no delay; many callers (an HTTP server,
// a fan-out) cost Redis one request per group instead of one per task, and
// Redis CPU per request, not per command, is what bounds a fleet.
//
// Under load it also waits for company: when the last group held several
// submits and fewer than that are waiting, it waits up to groupWait for as
// many to arrive (the callers of the group just answered are on their way
// back). So groups keep the size the load gives them instead of splitting
// into two halves that alternate; a lone caller never waits.
//
// It runs no goroutine while idle: the first submit to find it idle starts
// one, which sends groups until none is waiting and then ends.
//
// With several partitions, a group goes in one round trip, a call per
// partition among its tasks; the tasks that nothing places (no key, no
// parent) join the partition of the group's first task that has one, or
// go together to one at random, so a group of independent tasks is still
// one call.
type submitter struct {
	st       *store.Stores
	newQueue func(*tasks.Task) bool // whether a task's queue may be missing from the queue set
	known    func(*tasks.Task)      // a task's queue is in the queue set now

	mu      sync.Mutex
	queue   []*submitReq
	running bool
	last    int           // the size of the last group sent; 0 after an idle spell
	more    chan struct{} // a submit joined the queue (buffered 1)
	wait    time.Duration // the longest wait for company, groupWait
}

// groupWait is the longest a group waits for company: a few round trips
// of a loaded Redis, well under a millisecond.
const groupWait = 200 * time.Microsecond

func newSubmitter(st *store.Stores, newQueue func(*tasks.Task) bool, known func(*tasks.Task)) *submitter {
	return &submitter{st: st, newQueue: newQueue, known: known, more: make(chan struct{}, 1), wait: groupWait}
}

// submitReq is one waiting submit and, once done is closed, its answer.
type submitReq struct {
	ctx  context.Context
	task *tasks.Task
	free bool // nothing places it: the group's send gives it a partition
	res  store.Submitted
	err  error // Redis could not be reached
	done chan struct{}
}

// submit sends t with whatever other submits are waiting. If ctx ends
// while t is on its way, submit returns ctx's error and t may or may not
// have been stored, as with any request whose answer was not read.
func (s *submitter) submit(ctx context.Context, t *tasks.Task, free bool) (store.Submitted, error) {
	r := &submitReq{ctx: ctx, task: t, free: free, done: make(chan struct{})}
	s.mu.Lock()
	s.queue = append(s.queue, r)
	if !s.running {
		s.running = true
		go s.run()
	}
	s.mu.Unlock()
	select {
	case s.more <- struct{}{}:
	default:
	}
	select {
	case <-r.done:
		return r.res, r.err
	case <-ctx.Done():
		return store.Submitted{}, ctx.Err()
	}
}

// run sends the waiting submits, a group at a time, until none is left.
func (s *submitter) run() {
	for {
		s.gather()
		s.mu.Lock()
		n := min(len(s.queue), store.SubmitPerCall)
		if n == 0 {
			s.running, s.last = false, 0
			s.mu.Unlock()
			return
		}
		s.last = n
		group := make([]*submitReq, 0, n)
		for _, r := range s.queue[:n] {
			if r.ctx.Err() == nil { // its caller has gone: do not store it
				group = append(group, r)
			}
		}
		s.queue = append(s.queue[:0], s.queue[n:]...)
		s.mu.Unlock()
		s.send(group)
	}
}

// gather waits, up to s.wait, until as many submits wait as the last
// group held; it returns at once when the last group was a lone submit or
// there was none (no load).
func (s *submitter) gather() {
	var timer *time.Timer
	for {
		s.mu.Lock()
		n, want := len(s.queue), min(s.last, store.SubmitPerCall)
		s.mu.Unlock()
		if n >= want || want < 2 {
			return
		}
		if timer == nil {
			timer = time.NewTimer(s.wait)
			defer timer.Stop()
		}
		select {
		case <-s.more:
		case <-timer.C:
			return
		}
	}
}

// send submits one group and answers each of its callers. It runs under
// the first caller's context values but not its cancellation: the other
// callers' submits must not fail because the first one gave up.
func (s *submitter) send(group []*submitReq) {
	if len(group) == 0 {
		return
	}
	ts := make([]*tasks.Task, len(group))
	free := make([]bool, len(group))
	for i, r := range group {
		ts[i], free[i] = r.task, r.free
	}
	out, err := s.st.SubmitGroup(context.WithoutCancel(group[0].ctx), ts, free, s.newQueue)
	for i, r := range group {
		switch {
		case out[i].ID != "":
			r.res = out[i]
			if out[i].Created {
				s.known(r.task)
			}
		case out[i].Err != nil:
			r.res = out[i]
		default:
			r.err = err // its round trip failed
		}
		close(r.done)
	}
}
