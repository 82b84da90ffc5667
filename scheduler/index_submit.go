package scheduler

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
)

// submitted is submit.lua's answer for one task: its id (the first task's,
// when its idempotency key was taken), whether this call created it, or why
// it was refused (an unknown parent, wrapping tasks.ErrInvalid).
type submitted struct {
	id      string
	created bool
	err     error
}

// How submits are grouped: tasks per submit.lua call, and calls per
// pipelined round trip. A call of submitPerCall tasks keeps Redis busy for
// well under a millisecond, so other clients are not held up.
const (
	submitPerCall  = 100
	submitPerTrip  = 10
	submitPerChunk = submitPerCall * submitPerTrip
)

// submitBatch submits ts in order, submitPerCall tasks per script call and
// submitPerTrip calls per pipelined round trip; out[i] answers ts[i]. The
// queue set learns a queue from the first task of it for which newQueue
// says so. The next round trip's calls are built while one is on its way,
// and round trips go one after another, so the order holds. A call Redis
// had not loaded the script for is sent again after loading it, and only
// that one: the others ran. err is a failure to reach Redis: the tasks of
// the failed round trip and after it have no answer.
func (x *index) submitBatch(ctx context.Context, ts []*tasks.Task, newQueue func(*tasks.Task) bool) (out []submitted, err error) {
	out = make([]submitted, len(ts))
	added := map[string]bool{}
	addQueue := func(t *tasks.Task) bool {
		if added[t.Queue] || !newQueue(t) {
			return false
		}
		added[t.Queue] = true
		return true
	}
	build := func(lo int) []submitCallArgs {
		chunk := ts[lo:min(lo+submitPerChunk, len(ts))]
		calls := make([]submitCallArgs, 0, submitPerTrip)
		for c := 0; c < len(chunk); c += submitPerCall {
			group := chunk[c:min(c+submitPerCall, len(chunk))]
			keys, args := x.submitCall(group, addQueue)
			calls = append(calls, submitCallArgs{first: lo + c, tasks: group, keys: keys, args: args})
		}
		return calls
	}
	if len(ts) <= submitPerChunk {
		return out, x.submitTrip(ctx, build(0), out)
	}
	trips := make(chan []submitCallArgs, 1)
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
	for calls := range trips {
		if err := x.submitTrip(ctx, calls, out); err != nil {
			return out, err
		}
	}
	return out, nil
}

// submitCallArgs is one submit.lua call: tasks ts[first:first+len(tasks)].
type submitCallArgs struct {
	first int
	tasks []*tasks.Task
	keys  []string
	args  []any
}

// submitTrip sends calls in one pipelined round trip and reads each reply
// into out.
func (x *index) submitTrip(ctx context.Context, calls []submitCallArgs, out []submitted) error {
	if err := x.prepare(ctx); err != nil {
		return err
	}
	done := make([]bool, len(calls))
	for try := 0; ; try++ {
		pipe := x.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(calls))
		for i, c := range calls {
			if !done[i] {
				cmds[i] = x.evalSha(ctx, pipe, submitScript, c.keys, c.args...)
			}
		}
		sent := x.clock.local.Now()
		_, _ = pipe.Exec(ctx) // each command's own error is read below
		recv := x.clock.local.Now()
		noScript := false
		for i, cmd := range cmds {
			if cmd == nil {
				continue
			}
			if isNoScript(cmd.Err()) && try == 0 {
				noScript = true
				continue
			}
			nowUs, err := parseSubmit(calls[i].tasks, cmd, out[calls[i].first:])
			if err != nil {
				return err
			}
			x.clock.observe(sent, recv, nowUs, false)
			done[i] = true
		}
		if !noScript {
			return nil
		}
		if err := x.load(ctx, submitScript); err != nil {
			return err
		}
	}
}

// submitCall builds the keys and arguments of one submit.lua call for ts,
// in the order the script's header documents.
func (x *index) submitCall(ts []*tasks.Task, addQueue func(*tasks.Task) bool) ([]string, []any) {
	keys := make([]string, 0, 2+3*len(ts))
	keys = append(keys, x.keys.Queues(), x.keys.Waiting())
	args := make([]any, 0, 4+len(ts)*9)
	args = append(args, len(ts), x.keys.EventsChannel(), x.keys.Announce(""), transport.Version)
	for _, t := range ts {
		newQueue, opf := "0", ""
		if addQueue(t) {
			newQueue = "1"
		}
		if len(t.Parents) > 0 && t.OnParentFailure != tasks.PolicyFail {
			opf = string(t.OnParentFailure)
		}
		keys = append(keys, x.keys.Task(t.ID), x.keys.Due(t.Queue), x.keys.Idem(t.Key, t.ID))
		args = append(args, t.ID, dueArg(t), newQueue, t.Key, len(t.Parents), t.Queue, opf, t.Name,
			transport.EncodeImmutable(t))
		for _, p := range t.Parents {
			keys = append(keys, x.keys.Task(p), x.keys.Kids(p))
			args = append(args, p)
		}
	}
	return keys, args
}

// parseSubmit reads the reply of one submit.lua call for ts into out, and
// the times Redis gave them; it returns Redis's time in µs.
func parseSubmit(ts []*tasks.Task, cmd *redis.Cmd, out []submitted) (int64, error) {
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
			out[i] = submitted{id: id, created: code == 1}
			if due, _ := res[3+3*i].(int64); code == 1 {
				t.CreatedAt = created
				t.DueAt = transport.FromMs(due)
			}
		case string:
			p, _ := strings.CutPrefix(code, "DUEQ_NOPARENT ")
			out[i] = submitted{err: fmt.Errorf("%w: parent %s not found: never submitted, or finished longer ago than result_ttl", tasks.ErrInvalid, p)}
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

// newRecord is a new task's record fields for workflow.lua:
// its due and created fields come last, for the script to fill in from
// Redis's clock.
func newRecord(t *tasks.Task) []any {
	if !t.DueAt.IsZero() || !t.CreatedAt.IsZero() { // due at a time: the script sets it
		rec := *t
		rec.DueAt, rec.CreatedAt = time.Time{}, time.Time{}
		t = &rec
	}
	return append(transport.EncodeRecord(t), transport.FDue, 0, transport.FCreated, 0)
}
