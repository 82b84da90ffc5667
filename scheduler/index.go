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
	//go:embed chunked.lua
	chunkedLua string // shared by the scripts that write many values at once
	//go:embed retry.lua
	retryLua string

	submitScript  = redis.NewScript(chunkedLua + submitLua)
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
