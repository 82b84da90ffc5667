package scheduler

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
)

// The Lua scripts, one per state transition; each file documents its KEYS
// and ARGV.
var (
	//go:embed submit.lua
	submitLua string
	//go:embed claim.lua
	claimLua string
	//go:embed finish.lua
	finishLua string
	//go:embed requeue.lua
	requeueLua string
	//go:embed recover.lua
	recoverLua string
	//go:embed cancel.lua
	cancelLua string
	//go:embed children.lua
	childrenLua string // shared by the scripts that finish a task
	//go:embed retry.lua
	retryLua string

	submitScript  = redis.NewScript(submitLua)
	claimScript   = redis.NewScript(claimLua)
	finishScript  = redis.NewScript(childrenLua + finishLua)
	requeueScript = redis.NewScript(requeueLua)
	recoverScript = redis.NewScript(childrenLua + recoverLua)
	cancelScript  = redis.NewScript(childrenLua + cancelLua)
	retryScript   = redis.NewScript(retryLua)
)

// ErrNotFound is returned for a task id that has no record: never submitted,
// or finished longer ago than the result TTL.
var ErrNotFound = errors.New("task not found")

// head is one entry of a timing index: a task id and its due time.
type head struct {
	id  string
	due int64 // ms
}

// claimed is one task a claim took: its record, or why it could not be read.
type claimed struct {
	id   string
	task *tasks.Task
	err  error // the record is gone or corrupt; the task is out of the index
}

// index runs the scripts of one namespace. It holds no state of its own.
type index struct {
	rdb       redis.UniversalClient
	keys      Keys
	resultTTL time.Duration
}

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

// submit writes t into its queue's index (state scheduled), or into the
// waiting set when it has unfinished parents. With an idempotency key
// already taken it writes nothing and returns the first task's id and
// created=false. An unknown parent is an error wrapping tasks.ErrInvalid.
func (x *index) submit(ctx context.Context, t *tasks.Task, newQueue bool) (id string, created bool, err error) {
	res, err := x.submitBatch(ctx, []*tasks.Task{t}, func(*tasks.Task) bool { return newQueue })
	if err != nil {
		return "", false, err
	}
	return res[0].id, res[0].created, res[0].err
}

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
	done := make([]bool, len(calls))
	for try := 0; ; try++ {
		pipe := x.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(calls))
		for i, c := range calls {
			if !done[i] {
				cmds[i] = submitScript.EvalSha(ctx, pipe, c.keys, c.args...)
			}
		}
		_, _ = pipe.Exec(ctx) // each command's own error is read below
		noScript := false
		for i, cmd := range cmds {
			if cmd == nil {
				continue
			}
			if isNoScript(cmd.Err()) && try == 0 {
				noScript = true
				continue
			}
			if err := parseSubmit(calls[i].tasks, cmd, out[calls[i].first:]); err != nil {
				return err
			}
			done[i] = true
		}
		if !noScript {
			return nil
		}
		if err := loadScripts(ctx, x.rdb, submitScript); err != nil {
			return err
		}
	}
}

// submitCall builds the keys and arguments of one submit.lua call for ts.
func (x *index) submitCall(ts []*tasks.Task, addQueue func(*tasks.Task) bool) ([]string, []any) {
	keys := make([]string, 0, 2+3*len(ts))
	keys = append(keys, x.keys.Queues(), x.keys.Waiting())
	args := make([]any, 0, 2+len(ts)*40)
	args = append(args, len(ts), x.keys.EventsChannel())
	for _, t := range ts {
		queueArg, keyFlag := "", "0"
		if addQueue(t) {
			queueArg = t.Queue
		}
		if t.Key != "" {
			keyFlag = "1"
		}
		keys = append(keys, x.keys.Task(t.ID), x.keys.Due(t.Queue), x.keys.Idem(t.Key, t.ID))
		args = append(args, t.ID, transport.Ms(t.DueAt), queueArg, x.keys.Announce(t.Queue), keyFlag,
			len(t.Parents), transport.Ms(t.CreatedAt), t.Queue, string(t.OnParentFailure), t.Name)
		for _, p := range t.Parents {
			keys = append(keys, x.keys.Task(p), x.keys.Kids(p))
			args = append(args, p)
		}
		fields := transport.EncodeRecord(t)
		args = append(args, len(fields))
		args = append(args, fields...)
	}
	return keys, args
}

// parseSubmit reads the reply of one submit.lua call for ts into out.
func parseSubmit(ts []*tasks.Task, cmd *redis.Cmd, out []submitted) error {
	res, err := cmd.Slice()
	if err != nil {
		return fmt.Errorf("submit %d tasks: %w", len(ts), err)
	}
	if len(res) != 2*len(ts) {
		return fmt.Errorf("submit %d tasks: unexpected reply of %d items", len(ts), len(res))
	}
	for i, t := range ts {
		id, _ := res[2*i].(string)
		switch code := res[2*i+1].(type) {
		case int64:
			out[i] = submitted{id: id, created: code == 1}
		case string:
			p, _ := strings.CutPrefix(code, "DUEQ_NOPARENT ")
			out[i] = submitted{err: fmt.Errorf("%w: parent %s not found: never submitted, or finished longer ago than result_ttl", tasks.ErrInvalid, p)}
		default:
			return fmt.Errorf("submit %s: unexpected reply %v", t.Name, res[2*i+1])
		}
	}
	return nil
}

// candidate is a task the dispatcher would claim. For an occurrence of an
// active schedule, next is the occurrence of the schedule's next slot, which
// the claim writes if absent, and rev the schedule revision it was made from.
type candidate struct {
	id   string
	next *tasks.Task
	rev  int64
}

// plain makes candidates of ids that are not occurrences.
func plain(ids ...string) []candidate {
	cs := make([]candidate, len(ids))
	for i, id := range ids {
		cs[i] = candidate{id: id}
	}
	return cs
}

// claim takes up to want of the candidates that are still due in queue.
// stale lists occurrences refused because their schedule changed since the
// caller read it.
func (x *index) claim(ctx context.Context, queue string, now, leaseUntil int64, want, nHeads int, cands []candidate) (got []claimed, heads []head, stale []string, err error) {
	for try := 0; ; try++ {
		pipe := x.rdb.Pipeline()
		cmd := x.claimCall(ctx, pipe, queue, now, leaseUntil, want, nHeads, cands)
		_, _ = pipe.Exec(ctx) // the command's own error is read below
		if try == 0 && isNoScript(cmd.Err()) {
			if err := claimScript.Load(ctx, x.rdb).Err(); err != nil {
				return nil, nil, nil, fmt.Errorf("load the claim script: %w", err)
			}
			continue
		}
		return parseClaim(queue, cmd)
	}
}

// claimCall queues one claim.lua call on pipe; parseClaim reads its reply.
func (x *index) claimCall(ctx context.Context, pipe redis.Pipeliner, queue string, now, leaseUntil int64, want, nHeads int, cands []candidate) *redis.Cmd {
	keys := make([]string, 0, 3+len(cands))
	keys = append(keys, x.keys.Due(queue), x.keys.Lease(queue), x.keys.Schedules())
	args := make([]any, 0, 7+2*len(cands))
	args = append(args, now, leaseUntil, want, nHeads, len(cands), x.keys.EventsChannel(), queue)
	for _, c := range cands {
		keys = append(keys, x.keys.Task(c.id))
		if c.next == nil {
			args = append(args, c.id, "t")
			continue
		}
		n := c.next
		fields := transport.EncodeRecord(n)
		keys = append(keys, x.keys.Schedule(n.Schedule), x.keys.Task(n.ID), x.keys.Due(n.Queue))
		args = append(args, c.id, "o", c.rev, n.ID, transport.Ms(n.DueAt), x.keys.Announce(n.Queue), len(fields))
		args = append(args, fields...)
	}
	return claimScript.EvalSha(ctx, pipe, keys, args...)
}

// parseClaim reads a claim.lua reply for queue.
func parseClaim(queue string, cmd *redis.Cmd) (got []claimed, heads []head, stale []string, err error) {
	res, err := cmd.Slice()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("claim from queue %s: %w", queue, err)
	}
	if len(res) < 2 || len(res)%2 != 0 {
		return nil, nil, nil, fmt.Errorf("claim from queue %s: unexpected reply of %d items", queue, len(res))
	}
	if heads, err = parseHeads(res[0]); err != nil {
		return nil, nil, nil, fmt.Errorf("claim from queue %s: %w", queue, err)
	}
	stale = strs(res[1])
	got = make([]claimed, 0, len(res)/2-1)
	for i := 2; i < len(res); i += 2 {
		id, _ := res[i].(string)
		c := claimed{id: id}
		fields, ok := res[i+1].([]any)
		switch {
		case !ok:
			c.err = fmt.Errorf("%w %s: unexpected reply", transport.ErrCorrupt, id)
		case len(fields) == 0:
			c.err = fmt.Errorf("%w %s: the index named it but its record is gone; dropped from the index", transport.ErrCorrupt, id)
		default:
			h := pairs(fields)
			if c.task, c.err = transport.DecodeRecord(id, h); c.err != nil {
				// Enough of the record to fail it under this claim.
				run, _ := strconv.ParseInt(h[transport.FRun], 10, 64)
				c.task = &tasks.Task{ID: id, Queue: queue, Run: run, Key: h[transport.FKey]}
			}
		}
		got = append(got, c)
	}
	return got, heads, stale, nil
}

// maxKidsTries bounds the retries of a script whose task gained children
// between reading its children list and finishing it.
const maxKidsTries = 8

// finishChunk is the most tasks one finish.lua call writes.
const finishChunk = 256

// finishing is one task's final outcome on its way to finish.lua.
type finishing struct {
	task   *tasks.Task
	state  tasks.State // succeeded, failed or canceled
	now    int64       // finish time, ms
	result []byte
	err    string
	kids   []string // its children list as last read ("QUEUE ID"); most tasks have none
	tries  int      // calls that found the children list changed
	ran    bool     // its handler ran (it counts as succeeded or failed)

	status int // after a call: one of the finish* results
}

// Results of finish.lua for one task.
const (
	finishRefused = 0  // the worker no longer holds the claim
	finishDone    = 1  // written
	finishFinal   = 2  // already final under this claim: nothing to write
	finishKids    = -1 // its children list changed: kids holds it; call again
)

// finishCall queues one finish.lua call for fs (at most finishChunk) on
// pipe and returns its command and the queues whose heads it returns, in
// reply order.
func (x *index) finishCall(ctx context.Context, pipe redis.Pipeliner, fs []*finishing, nHeads int) (*redis.Cmd, []string) {
	var queues []string
	qn := map[string]int{}
	for _, f := range fs {
		if qn[f.task.Queue] == 0 {
			queues = append(queues, f.task.Queue)
			qn[f.task.Queue] = len(queues)
		}
	}
	keys := make([]string, 0, 4+2*len(queues)+3*len(fs))
	keys = append(keys, x.keys.Waiting(), x.keys.Done(tasks.Succeeded), x.keys.Done(tasks.Failed), x.keys.Done(tasks.Canceled))
	for _, q := range queues {
		keys = append(keys, x.keys.Due(q), x.keys.Lease(q))
	}
	now := fs[0].now
	for _, f := range fs[1:] {
		now = max(now, f.now)
	}
	args := make([]any, 0, 7+len(queues)+9*len(fs))
	args = append(args, now, x.resultTTL.Milliseconds(), nHeads, x.keys.EventsChannel(), x.keys.Announce(""),
		len(queues), len(fs))
	for _, q := range queues {
		args = append(args, q)
	}
	for _, f := range fs {
		t := f.task
		keys = append(keys, x.keys.Task(t.ID), x.keys.Idem(t.Key, t.ID), x.keys.Kids(t.ID))
		keys = append(keys, x.childKeys(f.kids)...)
		clearErr := "0"
		if t.Error != "" {
			clearErr = "1"
		}
		args = append(args, qn[t.Queue], t.ID, t.Run, string(f.state), string(f.result), f.err, t.Name, clearErr, len(f.kids))
	}
	return finishScript.EvalSha(ctx, pipe, keys, args...), queues
}

// parseFinish reads finish.lua's reply into each finishing's status (and
// kids, when its children list changed) and returns the heads of queues.
func parseFinish(cmd *redis.Cmd, fs []*finishing, queues []string) (map[string][]head, error) {
	res, err := cmd.Slice()
	if err != nil {
		return nil, fmt.Errorf("finish %d tasks: %w", len(fs), err)
	}
	if len(res) != len(queues)+len(fs) {
		return nil, fmt.Errorf("finish %d tasks: unexpected reply of %d items", len(fs), len(res))
	}
	heads := make(map[string][]head, len(queues))
	for i, q := range queues {
		if heads[q], err = parseHeads(res[i]); err != nil {
			return nil, fmt.Errorf("finish %d tasks: %w", len(fs), err)
		}
	}
	for i, f := range fs {
		switch v := res[len(queues)+i].(type) {
		case int64:
			f.status = int(v)
		case []any:
			f.status, f.kids = finishKids, strs(v)
		default:
			return nil, fmt.Errorf("finish %s: unexpected reply %v", f.task.ID, v)
		}
	}
	return heads, nil
}

// finish ends one running task as succeeded, failed or canceled, and hands
// its outcome to its children. ok is false when the worker no longer holds
// the claim (its lease expired or it was canceled). Worker loops do not
// call it: their dispatcher writes their outcomes in batches (flush).
func (x *index) finish(ctx context.Context, t *tasks.Task, state tasks.State, now int64, result []byte, errMsg string, nHeads int) (ok bool, heads []head, err error) {
	f := &finishing{task: t, state: state, now: now, result: result, err: errMsg}
	for range maxKidsTries {
		hs, err := x.finishBatch(ctx, []*finishing{f}, nHeads)
		if err != nil {
			return false, nil, err
		}
		if f.status != finishKids {
			return f.status == finishDone, hs[t.Queue], nil
		}
	}
	return false, nil, fmt.Errorf("finish %s: its children kept changing; tried %d times", t.ID, maxKidsTries)
}

// finishBatch runs finish.lua once for fs (at most finishChunk), loading
// the script when Redis does not have it.
func (x *index) finishBatch(ctx context.Context, fs []*finishing, nHeads int) (map[string][]head, error) {
	for try := 0; ; try++ {
		pipe := x.rdb.Pipeline()
		cmd, queues := x.finishCall(ctx, pipe, fs, nHeads)
		_, _ = pipe.Exec(ctx) // the command's own error is read below
		if try == 0 && isNoScript(cmd.Err()) {
			if err := finishScript.Load(ctx, x.rdb).Err(); err != nil {
				return nil, fmt.Errorf("load the finish script: %w", err)
			}
			continue
		}
		return parseFinish(cmd, fs, queues)
	}
}

// loadScripts loads scripts into Redis, for pipelines that call them by
// hash only.
func loadScripts(ctx context.Context, rdb redis.Scripter, scripts ...*redis.Script) error {
	for _, sc := range scripts {
		if err := sc.Load(ctx, rdb).Err(); err != nil {
			return fmt.Errorf("load a script into Redis: %w", err)
		}
	}
	return nil
}

// isNoScript reports whether err says Redis had not loaded a script (after
// a restart or SCRIPT FLUSH): the call did not run.
func isNoScript(err error) bool {
	return err != nil && redis.HasErrorPrefix(err, "NOSCRIPT")
}

// childKeys gives the keys the scripts need for each entry of a children
// list ("QUEUE ID"): the child's record and its queue's due index.
func (x *index) childKeys(kids []string) []string {
	keys := make([]string, 0, 2*len(kids))
	for _, e := range kids {
		q, id, _ := strings.Cut(e, " ")
		keys = append(keys, x.keys.Task(id), x.keys.Due(q))
	}
	return keys
}

// childIDs returns the ids of a children list's entries.
func childIDs(kids []string) []string {
	ids := make([]string, len(kids))
	for i, e := range kids {
		_, ids[i], _ = strings.Cut(e, " ")
	}
	return ids
}

// requeue puts a running task back into the index at due: a retry (the
// attempt counts) or a hand-back (giveBack: it does not).
func (x *index) requeue(ctx context.Context, t *tasks.Task, due int64, errMsg string, giveBack bool, nHeads int) (ok bool, heads []head, err error) {
	flag := "0"
	if giveBack {
		flag = "1"
	}
	res, err := requeueScript.Run(ctx, x.rdb,
		[]string{x.keys.Task(t.ID), x.keys.Lease(t.Queue), x.keys.Due(t.Queue)},
		t.ID, t.Run, due, errMsg, flag, nHeads, x.keys.Announce(t.Queue), x.keys.EventsChannel(), t.Queue, t.Name).Slice()
	return parseAck("requeue", t.ID, res, err)
}

// Results of recover.
const (
	recoverNotExpired = 0
	recoverRequeued   = 1
	recoverFailed     = 2
)

// recover re-queues (or fails) a task whose lease in queue expired by now.
func (x *index) recover(ctx context.Context, queue, id string, now int64, maxRecoveries int) (int64, error) {
	pipe := x.rdb.Pipeline()
	keyCmd := pipe.HGet(ctx, x.keys.Task(id), transport.FKey)
	kidsCmd := pipe.LRange(ctx, x.keys.Kids(id), 0, -1)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("recover %s: %w", id, err)
	}
	key, kids := keyCmd.Val(), kidsCmd.Val()
	for range maxKidsTries {
		keys := append([]string{x.keys.Task(id), x.keys.Lease(queue), x.keys.Due(queue), x.keys.Done(tasks.Failed),
			x.keys.Idem(key, id), x.keys.Waiting(), x.keys.Kids(id)}, x.childKeys(kids)...)
		res, err := recoverScript.Run(ctx, x.rdb, keys, id, now, maxRecoveries, x.resultTTL.Milliseconds(),
			x.keys.Announce(queue), x.keys.EventsChannel(), len(kids), x.keys.Announce("")).Slice()
		if err != nil {
			return 0, fmt.Errorf("recover %s: %w", id, err)
		}
		n, _ := res[0].(int64)
		if n == -1 && len(res) == 2 {
			kids = strs(res[1])
			continue
		}
		return n, nil
	}
	return 0, fmt.Errorf("recover %s: its children kept changing; tried %d times", id, maxKidsTries)
}

// expired lists up to limit tasks of queue whose lease ended by now.
func (x *index) expired(ctx context.Context, queue string, now int64, limit int) ([]string, error) {
	ids, err := x.rdb.ZRangeByScore(ctx, x.keys.Lease(queue), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(now, 10), Count: int64(limit)}).Result()
	if err != nil {
		return nil, fmt.Errorf("read expired leases of queue %s: %w", queue, err)
	}
	return ids, nil
}

// extend moves the lease deadline of running tasks of queue to until. Tasks
// whose lease is gone (recovered elsewhere, canceled) are left alone.
func (x *index) extend(ctx context.Context, queue string, ids []string, until int64) error {
	zs := make([]redis.Z, len(ids))
	for i, id := range ids {
		zs[i] = redis.Z{Score: float64(until), Member: id}
	}
	if err := x.rdb.ZAddXX(ctx, x.keys.Lease(queue), zs...).Err(); err != nil {
		return fmt.Errorf("extend %d leases of queue %s: %w", len(ids), queue, err)
	}
	return nil
}

// cancel cancels task id and hands the canceled outcome to its children;
// prev is its state before ("" when unknown) and canceled says whether this
// call canceled it.
func (x *index) cancel(ctx context.Context, id string, now int64) (prev tasks.State, canceled bool, err error) {
	pipe := x.rdb.Pipeline()
	fieldsCmd := pipe.HMGet(ctx, x.keys.Task(id), transport.FQueue, transport.FKey)
	kidsCmd := pipe.LRange(ctx, x.keys.Kids(id), 0, -1)
	if _, err := pipe.Exec(ctx); err != nil {
		return "", false, fmt.Errorf("cancel %s: %w", id, err)
	}
	queue, _ := fieldsCmd.Val()[0].(string)
	key, _ := fieldsCmd.Val()[1].(string)
	kids := kidsCmd.Val()
	if queue == "" {
		return "", false, fmt.Errorf("cancel %s: %w", id, ErrNotFound)
	}
	for range maxKidsTries {
		keys := append([]string{x.keys.Task(id), x.keys.Due(queue), x.keys.Lease(queue), x.keys.Done(tasks.Canceled),
			x.keys.Idem(key, id), x.keys.Waiting(), x.keys.Kids(id)}, x.childKeys(kids)...)
		res, err := cancelScript.Run(ctx, x.rdb, keys, id, now, x.resultTTL.Milliseconds(),
			x.keys.EventsChannel(), x.keys.CancelChannel(), len(kids), x.keys.Announce("")).Slice()
		if err != nil {
			return "", false, fmt.Errorf("cancel %s: %w", id, err)
		}
		if len(res) < 2 {
			return "", false, fmt.Errorf("cancel %s: unexpected reply %v", id, res)
		}
		st, _ := res[0].(string)
		n, _ := res[1].(int64)
		switch {
		case st == "":
			return "", false, fmt.Errorf("cancel %s: %w", id, ErrNotFound)
		case n == -1 && len(res) == 3:
			kids = strs(res[2])
			continue
		}
		return tasks.State(st), n == 1, nil
	}
	return "", false, fmt.Errorf("cancel %s: its children kept changing; tried %d times", id, maxKidsTries)
}

// get reads one record.
func (x *index) get(ctx context.Context, id string) (*tasks.Task, error) {
	ts, err := x.records(ctx, []string{id}, nil)
	if err != nil {
		return nil, err
	}
	if ts[0] == nil {
		return nil, fmt.Errorf("task %s: %w", id, ErrNotFound)
	}
	return ts[0], nil
}

// records reads several records and their children in one round trip; an
// expired record is nil. A corrupt one is an error, or, with skip set, is
// passed to skip and left nil.
func (x *index) records(ctx context.Context, ids []string, skip func(error)) ([]*tasks.Task, error) {
	pipe := x.rdb.Pipeline()
	hs := make([]*redis.MapStringStringCmd, len(ids))
	kids := make([]*redis.StringSliceCmd, len(ids))
	for i, id := range ids {
		hs[i] = pipe.HGetAll(ctx, x.keys.Task(id))
		kids[i] = pipe.LRange(ctx, x.keys.Kids(id), 0, -1)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read %d records: %w", len(ids), err)
	}
	out := make([]*tasks.Task, len(ids))
	for i, id := range ids {
		if len(hs[i].Val()) == 0 {
			continue
		}
		t, err := transport.DecodeRecord(id, hs[i].Val())
		if err != nil && skip != nil {
			skip(err)
			continue
		}
		if err != nil {
			return nil, err
		}
		t.Children = childIDs(kids[i].Val())
		out[i] = t
	}
	return out, nil
}
