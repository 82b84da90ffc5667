package scheduler

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
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

	submitScript  = redis.NewScript(submitLua)
	claimScript   = redis.NewScript(claimLua)
	finishScript  = redis.NewScript(finishLua)
	requeueScript = redis.NewScript(requeueLua)
	recoverScript = redis.NewScript(recoverLua)
	cancelScript  = redis.NewScript(cancelLua)
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

// submit writes t (state scheduled) into its queue's index. With an
// idempotency key already taken it writes nothing and returns the first
// task's id and created=false.
func (x *index) submit(ctx context.Context, t *tasks.Task, newQueue bool) (id string, created bool, err error) {
	queueArg, keyFlag := "", "0"
	if newQueue {
		queueArg = t.Queue
	}
	if t.Key != "" {
		keyFlag = "1"
	}
	args := append([]any{t.ID, transport.Ms(t.DueAt), queueArg, x.keys.Announce(t.Queue), keyFlag},
		transport.EncodeRecord(t)...)
	res, err := submitScript.Run(ctx, x.rdb,
		[]string{x.keys.Task(t.ID), x.keys.Due(t.Queue), x.keys.Idem(t.Key, t.ID), x.keys.Queues()}, args...).Slice()
	if err != nil {
		return "", false, fmt.Errorf("submit %s: %w", t.Name, err)
	}
	if len(res) != 2 {
		return "", false, fmt.Errorf("submit %s: unexpected reply %v", t.Name, res)
	}
	id, _ = res[0].(string)
	n, _ := res[1].(int64)
	return id, n == 1, nil
}

// claim takes up to want of the candidate ids that are still due in queue.
func (x *index) claim(ctx context.Context, queue string, now, leaseUntil int64, want, nHeads int, candidates []string) ([]claimed, []head, error) {
	keys := make([]string, 0, 2+len(candidates))
	keys = append(keys, x.keys.Due(queue), x.keys.Lease(queue))
	args := make([]any, 0, 4+len(candidates))
	args = append(args, now, leaseUntil, want, nHeads)
	for _, id := range candidates {
		keys = append(keys, x.keys.Task(id))
		args = append(args, id)
	}
	res, err := claimScript.Run(ctx, x.rdb, keys, args...).Slice()
	if err != nil {
		return nil, nil, fmt.Errorf("claim from queue %s: %w", queue, err)
	}
	if len(res) == 0 || len(res)%2 != 1 {
		return nil, nil, fmt.Errorf("claim from queue %s: unexpected reply of %d items", queue, len(res))
	}
	heads, err := parseHeads(res[0])
	if err != nil {
		return nil, nil, fmt.Errorf("claim from queue %s: %w", queue, err)
	}
	out := make([]claimed, 0, len(res)/2)
	for i := 1; i < len(res); i += 2 {
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
		out = append(out, c)
	}
	return out, heads, nil
}

// finish ends a running task as succeeded or failed. ok is false when the
// worker no longer holds the claim (its lease expired or it was canceled).
func (x *index) finish(ctx context.Context, t *tasks.Task, state tasks.State, now int64, result []byte, errMsg string, nHeads int) (ok bool, heads []head, err error) {
	res, err := finishScript.Run(ctx, x.rdb,
		[]string{x.keys.Task(t.ID), x.keys.Lease(t.Queue), x.keys.Done(state), x.keys.Due(t.Queue), x.keys.Idem(t.Key, t.ID)},
		t.ID, t.Run, string(state), now, string(result), errMsg, x.resultTTL.Milliseconds(), nHeads, x.keys.DoneChannel()).Slice()
	return parseAck("finish", t.ID, res, err)
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
		t.ID, t.Run, due, errMsg, flag, nHeads, x.keys.Announce(t.Queue)).Slice()
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
	key, err := x.rdb.HGet(ctx, x.keys.Task(id), transport.FKey).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("recover %s: %w", id, err)
	}
	n, err := recoverScript.Run(ctx, x.rdb,
		[]string{x.keys.Task(id), x.keys.Lease(queue), x.keys.Due(queue), x.keys.Done(tasks.Failed), x.keys.Idem(key, id)},
		id, now, maxRecoveries, x.resultTTL.Milliseconds(), x.keys.Announce(queue), x.keys.DoneChannel()).Int64()
	if err != nil {
		return 0, fmt.Errorf("recover %s: %w", id, err)
	}
	return n, nil
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

// cancel cancels task id; prev is its state before ("" when unknown) and
// canceled says whether this call canceled it.
func (x *index) cancel(ctx context.Context, id string, now int64) (prev tasks.State, canceled bool, err error) {
	vals, err := x.rdb.HMGet(ctx, x.keys.Task(id), transport.FQueue, transport.FKey).Result()
	if err != nil {
		return "", false, fmt.Errorf("cancel %s: %w", id, err)
	}
	queue, _ := vals[0].(string)
	key, _ := vals[1].(string)
	if queue == "" {
		return "", false, fmt.Errorf("cancel %s: %w", id, ErrNotFound)
	}
	res, err := cancelScript.Run(ctx, x.rdb,
		[]string{x.keys.Task(id), x.keys.Due(queue), x.keys.Lease(queue), x.keys.Done(tasks.Canceled), x.keys.Idem(key, id)},
		id, now, x.resultTTL.Milliseconds(), x.keys.DoneChannel(), x.keys.CancelChannel()).Slice()
	if err != nil {
		return "", false, fmt.Errorf("cancel %s: %w", id, err)
	}
	if len(res) != 2 {
		return "", false, fmt.Errorf("cancel %s: unexpected reply %v", id, res)
	}
	st, _ := res[0].(string)
	n, _ := res[1].(int64)
	if st == "" {
		return "", false, fmt.Errorf("cancel %s: %w", id, ErrNotFound)
	}
	return tasks.State(st), n == 1, nil
}

// get reads one record.
func (x *index) get(ctx context.Context, id string) (*tasks.Task, error) {
	h, err := x.rdb.HGetAll(ctx, x.keys.Task(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("read task %s: %w", id, err)
	}
	if len(h) == 0 {
		return nil, fmt.Errorf("task %s: %w", id, ErrNotFound)
	}
	return transport.DecodeRecord(id, h)
}

// parseAck reads the {ok, heads} reply of finish and requeue.
func parseAck(op, id string, res []any, err error) (bool, []head, error) {
	if err != nil {
		return false, nil, fmt.Errorf("%s %s: %w", op, id, err)
	}
	if len(res) != 2 {
		return false, nil, fmt.Errorf("%s %s: unexpected reply %v", op, id, res)
	}
	n, _ := res[0].(int64)
	heads, err := parseHeads(res[1])
	if err != nil {
		return false, nil, fmt.Errorf("%s %s: %w", op, id, err)
	}
	return n == 1, heads, nil
}

// parseHeads reads a ZRANGE ... WITHSCORES reply made inside a script.
func parseHeads(v any) ([]head, error) {
	flat, ok := v.([]any)
	if !ok || len(flat)%2 != 0 {
		return nil, fmt.Errorf("unexpected index heads %v", v)
	}
	hs := make([]head, 0, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		id, _ := flat[i].(string)
		s, _ := flat[i+1].(string)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || id == "" {
			return nil, fmt.Errorf("unexpected index entry %v %v", flat[i], flat[i+1])
		}
		hs = append(hs, head{id: id, due: int64(f)})
	}
	return hs, nil
}

// pairs turns a flat HGETALL reply into a map.
func pairs(flat []any) map[string]string {
	m := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		m[k] = v
	}
	return m
}
