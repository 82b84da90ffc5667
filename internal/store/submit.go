package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
)

// Submitted is submit.lua's answer for one task: its id (the first task's,
// when its idempotency key was taken), whether this call created it, or why
// it was refused (an unknown parent, wrapping tasks.ErrInvalid).
type Submitted struct {
	ID      string
	Created bool
	Err     error
}

// How submits are grouped: tasks per submit.lua call, and calls per
// pipelined round trip. A call of SubmitPerCall tasks keeps Redis busy for
// well under a millisecond, so other clients are not held up.
const (
	SubmitPerCall  = 100
	submitPerTrip  = 10
	submitPerChunk = SubmitPerCall * submitPerTrip
)

// SubmitParams asks submit.lua to store new Tasks, in order. NewQueue
// reports whether a task's queue may be missing from the queue set; the
// queue set learns a queue from the first task of it created in a call
// that NewQueue says so of (so the caller marks a queue known only once a
// task of it was created).
type SubmitParams struct {
	Tasks    []*tasks.Task
	NewQueue func(*tasks.Task) bool
}

// submitCall is the part of a SubmitParams that one submit.lua call
// writes: tasks, from the whole's task first on, and for each whether its
// queue is to be added to the queue set.
type submitCall struct {
	first    int
	tasks    []*tasks.Task
	newQueue []bool
	remote   func(id string) bool // whether a parent lives in another partition; nil: none does
	call     *call                // built of the others
}

// Submit stores new tasks, SubmitPerCall tasks per submit.lua call and
// submitPerTrip calls per pipelined round trip; out[i] answers p.Tasks[i],
// and a created task gets the times Redis gave it. The next round trip's
// calls are built while one is on its way; trips of tasks that may depend
// on earlier ones (by parent or idempotency key) go alone, after those, so
// the order holds, and the others two at a time. err is a failure to reach
// Redis: the tasks of the failed round trip, and of those after it that
// had not been answered, have no answer.
func (s *Store) Submit(ctx context.Context, p SubmitParams) (out []Submitted, err error) {
	ts := p.Tasks
	out = make([]Submitted, len(ts))
	build := func(lo int) []submitCall {
		chunk := ts[lo:min(lo+submitPerChunk, len(ts))]
		calls := make([]submitCall, 0, submitPerTrip)
		for c := 0; c < len(chunk); c += SubmitPerCall {
			sc := submitCall{first: lo + c, tasks: chunk[c:min(c+SubmitPerCall, len(chunk))]}
			if s.space.N() > 1 {
				sc.remote = s.remote
			}
			for _, t := range sc.tasks {
				sc.newQueue = append(sc.newQueue, p.NewQueue(t))
			}
			sc.call = sc.build(s.keys)
			calls = append(calls, sc)
		}
		return calls
	}
	if len(ts) <= submitPerChunk {
		return out, s.submitTrip(ctx, build(0), out)
	}
	trips := make(chan []submitCall, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(trips)
		for lo := 0; lo < len(ts); lo += submitPerChunk {
			select {
			case trips <- build(lo):
			case <-stop:
				return
			}
		}
	}()
	// Up to submitInFlight round trips are on their way at once, on
	// connections of their own, when a trip's tasks name no parent and no
	// idempotency key: they cannot depend on an earlier trip's tasks, so
	// the order in which Redis runs the trips changes nothing. A trip that
	// may depend on earlier ones waits for them, and goes alone: its calls
	// may depend on each other, and a trip beside it that loads the script
	// Redis forgot (NOSCRIPT) while its calls arrive lets the later ones
	// run before the earlier ones are sent again (send).
	var (
		inFlight []chan error
		alone    bool // the trip on its way goes alone
	)
	wait := func(n int) error { // until at most n trips are on their way
		var first error
		for len(inFlight) > n {
			if err := <-inFlight[0]; err != nil && first == nil {
				first = err
			}
			inFlight = inFlight[1:]
		}
		return first
	}
	for calls := range trips {
		limit := submitInFlight - 1
		if dep := dependent(calls); dep || alone {
			limit, alone = 0, dep
		}
		if err := wait(limit); err != nil {
			_ = wait(0)
			return out, err
		}
		done := make(chan error, 1)
		inFlight = append(inFlight, done)
		go func() { done <- s.submitTrip(ctx, calls, out) }()
	}
	return out, wait(0)
}

// submitInFlight is how many round trips of a bulk submit may be on their
// way at once: two keep Redis busy while one trip's reply and the next
// trip's request cross the network.
const submitInFlight = 2

// dependent reports whether a trip's tasks may depend on tasks submitted
// before them, in earlier trips or earlier calls of their own: they name
// parents, or idempotency keys an earlier task may hold.
func dependent(calls []submitCall) bool {
	for _, sc := range calls {
		for _, t := range sc.tasks {
			if len(t.Parents) > 0 || t.Key != "" {
				return true
			}
		}
	}
	return false
}

// submitTrip sends calls in one pipelined round trip and reads each reply
// into out.
func (s *Store) submitTrip(ctx context.Context, scs []submitCall, out []Submitted) error {
	calls := make([]*call, len(scs))
	for i, sc := range scs {
		calls[i] = sc.call
	}
	if err := s.send(ctx, calls...); err != nil {
		return err
	}
	var unconfirmed []string
	var replicas error
	for _, sc := range scs {
		nowUs, err := parseSubmit(sc.tasks, sc.call.cmd, out[sc.first:])
		if err != nil {
			return err
		}
		s.clock.Observe(sc.call.sent, sc.call.recv, nowUs, false)
		if sc.call.replicas != nil {
			replicas = sc.call.replicas
			for i := range sc.tasks {
				if o := out[sc.first+i]; o.Created {
					unconfirmed = append(unconfirmed, o.ID)
				}
			}
		}
	}
	if replicas != nil && len(unconfirmed) > 0 {
		return fmt.Errorf("tasks %s: %w", strings.Join(unconfirmed, ", "), replicas)
	}
	return nil
}

// build builds one submit.lua call's KEYS and ARGV, in the order the
// script's header documents.
func (sc submitCall) build(k Keys) *call {
	ts := sc.tasks
	var queues []string
	qn := map[string]int{}
	newQueue := map[string]bool{}
	for i, t := range ts {
		if qn[t.Queue] == 0 {
			queues = append(queues, t.Queue)
			qn[t.Queue] = len(queues)
		}
		newQueue[t.Queue] = newQueue[t.Queue] || sc.newQueue[i]
	}
	keys := make([]string, 0, 2+len(queues)+len(ts))
	keys = append(keys, k.Queues(), k.Waiting())
	args := make([]any, 0, 4+2*len(queues)+6*len(ts))
	args = append(args, len(ts), k.EventsChannel(), k.Announce(""), len(queues))
	for _, q := range queues {
		keys = append(keys, k.Due(q))
		flag := "0"
		if newQueue[q] {
			flag = "1"
		}
		args = append(args, q, flag)
	}
	for _, t := range ts {
		keys = append(keys, k.Task(t.ID))
		local, others := t.Parents, []string(nil)
		if sc.remote != nil {
			local, others = nil, nil
			for _, p := range t.Parents {
				if sc.remote(p) {
					others = append(others, p)
				} else {
					local = append(local, p)
				}
			}
		}
		extra := ""
		custom := t.OnParentFailure != tasks.PolicyFail && t.OnParentFailure != ""
		if len(t.Parents) > 0 || t.Key != "" || custom {
			opf := "-"
			if custom {
				opf = string(t.OnParentFailure)
			}
			extra = strconv.Itoa(len(local))
			if len(others) > 0 {
				extra += "+" + strconv.Itoa(len(others))
			}
			extra += " " + opf + " " + t.Key
		}
		if t.Key != "" {
			keys = append(keys, k.Idem(t.Key, t.ID))
		}
		args = append(args, t.ID, dueArg(t), qn[t.Queue], t.Name, transport.EncodeImmutableOpen(t), extra)
		for _, p := range local {
			keys = append(keys, k.Task(p), k.Kids(p))
			args = append(args, p)
		}
		if len(others) > 0 {
			keys = append(keys, k.Outbox())
			for _, p := range others {
				args = append(args, p)
			}
		}
	}
	return &call{script: submitScript, keys: keys, args: args}
}

// parseSubmit reads the reply of one submit.lua call for ts into out, and
// the times Redis gave them; it returns Redis's time in µs.
func parseSubmit(ts []*tasks.Task, cmd *redis.Cmd, out []Submitted) (int64, error) {
	res, err := cmd.Slice()
	if err != nil {
		return 0, fmt.Errorf("submit %d tasks: %w", len(ts), err)
	}
	if len(res) != 1+3*len(ts) {
		return 0, fmt.Errorf("submit %d tasks: unexpected reply of %d items", len(ts), len(res))
	}
	nowUs, _ := res[0].(int64)
	created := time.UnixMicro(nowUs).UTC().Truncate(time.Millisecond)
	for i, t := range ts {
		id, _ := res[1+3*i].(string)
		switch code := res[2+3*i].(type) {
		case int64:
			out[i] = Submitted{ID: id, Created: code == 1}
			if due, _ := res[3+3*i].(int64); code == 1 {
				t.CreatedAt = created
				t.DueAt = transport.FromMs(due)
			}
		case string:
			p, _ := strings.CutPrefix(code, "DUEQ_NOPARENT ")
			out[i] = Submitted{Err: fmt.Errorf("%w: parent %s not found: never submitted, or finished longer ago than result_ttl", tasks.ErrInvalid, p)}
		default:
			return 0, fmt.Errorf("submit %s: unexpected reply %v", t.Name, res[2+3*i])
		}
	}
	return nowUs, nil
}

// dueArg is how submit.lua and workflow.lua are told a new task's due
// time: -N, N ms from now by Redis's clock, for a task due after a delay
// (or now), else its time in ms since the epoch.
func dueArg(t *tasks.Task) int64 {
	if t.DueAt.IsZero() {
		return -t.Delay.Milliseconds()
	}
	return max(transport.Ms(t.DueAt), 1) // 0 would read as "now"
}

// SubmitGroup stores a small group of new tasks (at most SubmitPerCall)
// of any partitions in one round trip: one submit.lua call per partition
// among them, the calls pipelined. out[i] answers ts[i], as Submit's do; a
// task with no partition in its id yet (Space.Tag) is placed with the
// group's first task that has one, or, when none has, with the others at
// random, so a group of independent tasks costs one call, wherever it
// goes.
func (ss *Stores) SubmitGroup(ctx context.Context, ts []*tasks.Task, free []bool, newQueue func(*tasks.Task) bool) ([]Submitted, error) {
	p := -1
	for i, t := range ts {
		if !free[i] {
			p = ss.space.Of(t.ID)
			break
		}
	}
	if p < 0 {
		p = ss.space.Pick()
	}
	var scs []submitCall
	at := map[int]int{} // partition → its call in scs
	idx := map[int][]int{}
	for i, t := range ts {
		if free[i] {
			t.ID = ss.space.Tag(t.ID, p)
		}
		q := ss.space.Of(t.ID)
		j, ok := at[q]
		if !ok {
			j = len(scs)
			at[q] = j
			scs = append(scs, submitCall{})
		}
		scs[j].tasks = append(scs[j].tasks, t)
		scs[j].newQueue = append(scs[j].newQueue, newQueue(t))
		idx[j] = append(idx[j], i)
	}
	calls := make([]*call, len(scs))
	for j := range scs {
		s := ss.parts[ss.space.Of(scs[j].tasks[0].ID)]
		if ss.space.N() > 1 {
			scs[j].remote = s.remote
		}
		scs[j].call = scs[j].build(s.keys)
		calls[j] = scs[j].call
	}
	out := make([]Submitted, len(ts))
	if err := ss.parts[p].send(ctx, calls...); err != nil {
		return out, err
	}
	var errs []error
	for j, sc := range scs {
		part := make([]Submitted, len(sc.tasks))
		nowUs, err := parseSubmit(sc.tasks, sc.call.cmd, part)
		for k, i := range idx[j] {
			out[i] = part[k]
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ss.Of(sc.tasks[0].ID).clock.Observe(sc.call.sent, sc.call.recv, nowUs, false)
		if sc.call.replicas != nil {
			var unconfirmed []string
			for _, o := range part {
				if o.Created {
					unconfirmed = append(unconfirmed, o.ID)
				}
			}
			if len(unconfirmed) > 0 {
				errs = append(errs, fmt.Errorf("tasks %s: %w", strings.Join(unconfirmed, ", "), sc.call.replicas))
			}
		}
	}
	return out, errors.Join(errs...)
}
