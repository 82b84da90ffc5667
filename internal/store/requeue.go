package store

import (
	"context"
	"fmt"
	"time"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
)

// RequeueParams asks requeue.lua to put running Task back into its queue's
// index, due Delay from now by Redis's clock: a retry after a failed
// attempt (Err, the attempt counts) or a hand-back (GiveBack: it does not).
type RequeueParams struct {
	Task     *tasks.Task
	Delay    time.Duration
	Err      string
	GiveBack bool
	Heads    int // head entries of the queue to return
}

// RequeueReply is what requeue.lua answered: whether the task was
// re-queued (false: the caller no longer holds its claim), and the front
// of its queue's index.
type RequeueReply struct {
	OK    bool
	Heads []Head
}

// build builds requeue.lua's KEYS and ARGV, in the order its header
// documents.
func (p RequeueParams) build(k Keys) *call {
	t, flag := p.Task, "0"
	if p.GiveBack {
		flag = "1"
	}
	return &call{script: requeueScript, keys: []string{k.Task(t.ID), k.Lease(t.Queue), k.Due(t.Queue)},
		args: []any{t.ID, t.Run, p.Delay.Milliseconds(), p.Err, flag, p.Heads, k.Announce(t.Queue), k.EventsChannel(),
			transport.EventWord(t.Queue), transport.EventWord(t.Name)}}
}

// Requeue puts a running task back into the index with requeue.lua.
func (s *Store) Requeue(ctx context.Context, p RequeueParams) (RequeueReply, error) {
	res, err := s.run(ctx, p.build(s.keys)).Slice()
	if err != nil {
		return RequeueReply{}, fmt.Errorf("requeue %s: %w", p.Task.ID, err)
	}
	if len(res) != 2 {
		return RequeueReply{}, fmt.Errorf("requeue %s: unexpected reply %v", p.Task.ID, res)
	}
	n, _ := res[0].(int64)
	heads, err := parseHeads(res[1])
	if err != nil {
		return RequeueReply{}, fmt.Errorf("requeue %s: %w", p.Task.ID, err)
	}
	return RequeueReply{OK: n == 1, Heads: heads}, nil
}
