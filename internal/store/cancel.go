package store

import (
	"context"
	"fmt"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
	"github.com/dueq/dueq/wire"
)

// CancelParams asks cancel.lua to cancel task ID.
type CancelParams struct {
	ID string
}

// CancelReply is what cancel.lua answered: the task's state before, and
// whether this call canceled it (false: it had finished).
type CancelReply struct {
	Prev     tasks.State
	Canceled bool
}

// build builds cancel.lua's KEYS and ARGV for task ID of queue, read as f,
// in the order its header documents.
func (p CancelParams) build(k Keys, ttl int64, queue string, f finished) *call {
	keys := append([]string{k.Task(p.ID), k.Due(queue), k.Lease(queue), k.Done(tasks.Canceled),
		k.Companion(f.key, f.workflow, p.ID), k.Waiting(), k.Kids(p.ID)}, k.childKeys(f.kids)...)
	return &call{script: cancelScript, keys: keys, args: []any{p.ID, ttl,
		k.EventsChannel(), k.CancelChannel(), len(f.kids), k.Announce("")}}
}

// Cancel cancels a task with cancel.lua and hands the canceled outcome to
// its children; a task that is not there is an error wrapping
// wire.ErrNotFound.
func (s *Store) Cancel(ctx context.Context, p CancelParams) (CancelReply, error) {
	pipe := s.rdb.Pipeline()
	fieldsCmd := pipe.HMGet(ctx, s.keys.Task(p.ID), transport.FQueue, transport.FKey, transport.FWorkflow)
	kidsCmd := pipe.LRange(ctx, s.keys.Kids(p.ID), 0, -1)
	if _, err := pipe.Exec(ctx); err != nil {
		return CancelReply{}, fmt.Errorf("cancel %s: %w", p.ID, err)
	}
	queue, _ := fieldsCmd.Val()[0].(string)
	f := finished{kids: kidsCmd.Val()}
	f.key, _ = fieldsCmd.Val()[1].(string)
	f.workflow, _ = fieldsCmd.Val()[2].(string)
	if queue == "" {
		return CancelReply{}, fmt.Errorf("cancel %s: %w", p.ID, wire.ErrNotFound)
	}
	for range MaxKidsTries {
		res, err := s.run(ctx, p.build(s.keys, s.resultTTL.Milliseconds(), queue, f)).Slice()
		if err != nil {
			return CancelReply{}, fmt.Errorf("cancel %s: %w", p.ID, err)
		}
		if len(res) < 2 {
			return CancelReply{}, fmt.Errorf("cancel %s: unexpected reply %v", p.ID, res)
		}
		st, _ := res[0].(string)
		n, _ := res[1].(int64)
		switch {
		case st == "":
			return CancelReply{}, fmt.Errorf("cancel %s: %w", p.ID, wire.ErrNotFound)
		case n == -1 && len(res) == 3:
			f.kids = strs(res[2])
			continue
		}
		if n == 1 {
			s.handOut(ctx, p.ID, f.kids)
		}
		return CancelReply{Prev: tasks.State(st), Canceled: n == 1}, nil
	}
	return CancelReply{}, fmt.Errorf("cancel %s: its children kept changing; tried %d times", p.ID, MaxKidsTries)
}
