package scheduler

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
)

// maxKidsTries bounds the retries of a script whose task gained children
// between reading its children list and finishing it.
const maxKidsTries = 8

// finishChunk is the most tasks one finish.lua call writes.
const finishChunk = 256

// finishing is one task's final outcome on its way to finish.lua.
type finishing struct {
	task   *tasks.Task
	state  tasks.State // succeeded, failed or canceled
	result []byte
	err    string
	kids   []string // its children list as last read ("QUEUE ID"); most tasks have none
	tries  int      // calls that found the children list changed
	ran    bool     // its handler ran (it counts as succeeded or failed)

	status int // after a call: one of the finish* results
}

// Results of finish.lua for one task.
const (
	finishRefused  = 0  // the worker no longer holds the claim
	finishDone     = 1  // written
	finishFinal    = 2  // already final under this claim: nothing to write
	finishVanished = 3  // written, but its record had vanished: written anew from the outcome
	finishKids     = -1 // its children list changed: kids holds it; call again
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
	args := make([]any, 0, 6+len(queues)+10*len(fs))
	args = append(args, x.resultTTL.Milliseconds(), nHeads, x.keys.EventsChannel(), x.keys.Announce(""),
		len(queues), len(fs))
	for _, q := range queues {
		args = append(args, q)
	}
	for _, f := range fs {
		t := f.task
		keys = append(keys, x.keys.Task(t.ID), x.keys.Companion(t.Key, t.Workflow, t.ID), x.keys.Kids(t.ID))
		keys = append(keys, x.childKeys(f.kids)...)
		clearErr, ran := "0", "0"
		if t.Error != "" {
			clearErr = "1"
		}
		if f.ran {
			ran = "1"
		}
		args = append(args, qn[t.Queue], t.ID, t.Run, string(f.state), string(f.result), f.err, transport.EventWord(t.Name), clearErr, len(f.kids), ran)
	}
	return x.evalSha(ctx, pipe, finishScript, keys, args...), queues
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

// finishBatch runs finish.lua once for fs (at most finishChunk), loading
// the script when Redis does not have it.
func (x *index) finishBatch(ctx context.Context, fs []*finishing, nHeads int) (map[string][]head, error) {
	if err := x.prepare(ctx); err != nil {
		return nil, err
	}
	for try := 0; ; try++ {
		pipe := x.rdb.Pipeline()
		cmd, queues := x.finishCall(ctx, pipe, fs, nHeads)
		_, _ = pipe.Exec(ctx) // the command's own error is read below
		if try == 0 && isNoScript(cmd.Err()) {
			if err := x.load(ctx, finishScript); err != nil {
				return nil, err
			}
			continue
		}
		return parseFinish(cmd, fs, queues)
	}
}
