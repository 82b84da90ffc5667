package scheduler

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
	"github.com/dueq/dueq/wire"
)

// The Lua scripts, one per state transition; each file documents its KEYS
// and ARGV, and each is loaded with the prelude of shared functions in
// front.
var (
	//go:embed prelude.lua
	preludeLua string
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
	//go:embed retry.lua
	retryLua string
	//go:embed keepalive.lua
	keepaliveLua string

	submitScript    = newScript("", submitLua)
	claimScript     = newScript("", claimLua)
	finishScript    = newScript("", finishLua)
	requeueScript   = newScript("", requeueLua)
	recoverScript   = newScript("", recoverLua)
	cancelScript    = newScript("", cancelLua)
	retryScript     = newScript("", retryLua)
	keepaliveScript = newScript("allow-oom", keepaliveLua)
	// writableScript writes nothing, but Redis runs it only when it takes
	// writes: the keeper asks it while Redis refuses them.
	writableScript = newScript("", "return 1")
)

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

// index runs the scripts of one namespace. Its only state is what it
// learned of its Redis: whether Redis reads script flags, and the offset of
// Redis's clock.
type index struct {
	rdb       redis.UniversalClient
	keys      Keys
	resultTTL time.Duration
	clock     *redisClock
	flags     atomic.Int32
}

func newIndex(rdb redis.UniversalClient, keys Keys, cfg Config) *index {
	return &index{rdb: rdb, keys: keys, resultTTL: cfg.ResultTTL, clock: &redisClock{local: cfg.Clock}}
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

// requeue puts a running task back into the index, due after delay by
// Redis's clock: a retry (the attempt counts) or a hand-back (giveBack: it
// does not).
func (x *index) requeue(ctx context.Context, t *tasks.Task, delay time.Duration, errMsg string, giveBack bool, nHeads int) (ok bool, heads []head, err error) {
	flag := "0"
	if giveBack {
		flag = "1"
	}
	res, err := x.run(ctx, requeueScript,
		[]string{x.keys.Task(t.ID), x.keys.Lease(t.Queue), x.keys.Due(t.Queue)},
		t.ID, t.Run, delay.Milliseconds(), errMsg, flag, nHeads, x.keys.Announce(t.Queue), x.keys.EventsChannel(), transport.EventWord(t.Queue), transport.EventWord(t.Name)).Slice()
	return parseAck("requeue", t.ID, res, err)
}

// Results of recover.
const (
	recoverNotExpired = 0
	recoverRequeued   = 1
	recoverFailed     = 2
	recoverVanished   = 3 // its record was gone; it is recorded as failed
)

// recover re-queues (or fails) a task whose lease in queue expired by
// Redis's clock.
func (x *index) recover(ctx context.Context, queue, id string, maxRecoveries int) (int64, error) {
	pipe := x.rdb.Pipeline()
	fieldsCmd := pipe.HMGet(ctx, x.keys.Task(id), transport.FKey, transport.FWorkflow)
	kidsCmd := pipe.LRange(ctx, x.keys.Kids(id), 0, -1)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("recover %s: %w", id, err)
	}
	key, _ := fieldsCmd.Val()[0].(string)
	workflow, _ := fieldsCmd.Val()[1].(string)
	kids := kidsCmd.Val()
	for range maxKidsTries {
		keys := append([]string{x.keys.Task(id), x.keys.Lease(queue), x.keys.Due(queue), x.keys.Done(tasks.Failed),
			x.keys.Companion(key, workflow, id), x.keys.Waiting(), x.keys.Kids(id)}, x.childKeys(kids)...)
		res, err := x.run(ctx, recoverScript, keys, id, maxRecoveries, x.resultTTL.Milliseconds(),
			x.keys.Announce(queue), x.keys.EventsChannel(), len(kids), x.keys.Announce(""), queue).Slice()
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

// keepalive renews, for daemon, the leases of its running tasks rs (by
// queue) under their claim tokens, and records its sign of life and, unless
// it is nil, its info. It returns those of rs whose claim the daemon lost.
func (x *index) keepalive(ctx context.Context, daemon string, info []byte, lease time.Duration, rs []*tasks.Task) ([]*tasks.Task, error) {
	var queues []string
	qn := map[string]int{}
	for _, t := range rs {
		if qn[t.Queue] == 0 {
			queues = append(queues, t.Queue)
			qn[t.Queue] = len(queues)
		}
	}
	keys := make([]string, 0, 2+len(queues)+len(rs))
	keys = append(keys, x.keys.Daemons(), x.keys.Daemon(daemon))
	for _, q := range queues {
		keys = append(keys, x.keys.Lease(q))
	}
	args := make([]any, 0, 7+3*len(rs))
	args = append(args, lease.Milliseconds(), daemon, info, daemonInfoTTL.Milliseconds(), len(queues), len(rs), x.clock.Now().UnixMilli())
	for _, t := range rs {
		keys = append(keys, x.keys.Task(t.ID))
		args = append(args, qn[t.Queue], t.ID, t.Run)
	}
	sent := x.clock.local.Now()
	res, err := x.run(ctx, keepaliveScript, keys, args...).Slice()
	if err != nil {
		return nil, fmt.Errorf("renew %d leases: %w", len(rs), err)
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("renew %d leases: unexpected empty reply", len(rs))
	}
	nowUs, _ := res[0].(int64)
	x.clock.observe(sent, x.clock.local.Now(), nowUs, false)
	byID := make(map[string]*tasks.Task, len(rs))
	for _, t := range rs {
		byID[t.ID] = t
	}
	var lost []*tasks.Task
	for _, id := range strs(res[1:]) {
		if t := byID[id]; t != nil {
			lost = append(lost, t)
		}
	}
	return lost, nil
}

// daemonInfoTTL is how long a daemon's info outlives its last heartbeat.
const daemonInfoTTL = time.Hour

// cancel cancels task id and hands the canceled outcome to its children;
// prev is its state before ("" when unknown) and canceled says whether this
// call canceled it.
func (x *index) cancel(ctx context.Context, id string) (prev tasks.State, canceled bool, err error) {
	pipe := x.rdb.Pipeline()
	fieldsCmd := pipe.HMGet(ctx, x.keys.Task(id), transport.FQueue, transport.FKey, transport.FWorkflow)
	kidsCmd := pipe.LRange(ctx, x.keys.Kids(id), 0, -1)
	if _, err := pipe.Exec(ctx); err != nil {
		return "", false, fmt.Errorf("cancel %s: %w", id, err)
	}
	queue, _ := fieldsCmd.Val()[0].(string)
	key, _ := fieldsCmd.Val()[1].(string)
	workflow, _ := fieldsCmd.Val()[2].(string)
	kids := kidsCmd.Val()
	if queue == "" {
		return "", false, fmt.Errorf("cancel %s: %w", id, wire.ErrNotFound)
	}
	for range maxKidsTries {
		keys := append([]string{x.keys.Task(id), x.keys.Due(queue), x.keys.Lease(queue), x.keys.Done(tasks.Canceled),
			x.keys.Companion(key, workflow, id), x.keys.Waiting(), x.keys.Kids(id)}, x.childKeys(kids)...)
		res, err := x.run(ctx, cancelScript, keys, id, x.resultTTL.Milliseconds(),
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
			return "", false, fmt.Errorf("cancel %s: %w", id, wire.ErrNotFound)
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
		return nil, fmt.Errorf("task %s: %w", id, wire.ErrNotFound)
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
