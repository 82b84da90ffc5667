package store

import (
	"context"
	"fmt"
	"strconv"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
)

// FinishChunk is the most tasks one finish.lua call writes.
const FinishChunk = 256

// Finishing is one task's final outcome on its way to finish.lua. Finish
// sets its Status, and, when its children list changed, its Kids.
type Finishing struct {
	Task   *tasks.Task
	State  tasks.State // succeeded, failed or canceled
	Result []byte
	Err    string
	Kids   []string // its children list as last read ("QUEUE ID"); most tasks have none
	Tries  int      // calls that found the children list changed (the caller counts them)
	Ran    bool     // its handler ran (it counts as succeeded or failed)
	// Parent: the task may have children (Claimed.Parent), so its children
	// list is passed. A task finished without it that turns out to have
	// children is left alone with Status FinishParent: call again with
	// Parent set.
	Parent bool

	Status FinishStatus // after a call: what it did
}

// FinishStatus is what finish.lua did with one task.
type FinishStatus int

// Results of finish.lua for one task.
const (
	FinishRefused  FinishStatus = 0  // the worker no longer holds the claim
	FinishDone     FinishStatus = 1  // written
	FinishFinal    FinishStatus = 2  // already final under this claim: nothing to write
	FinishVanished FinishStatus = 3  // written, but its record had vanished: written anew from the outcome
	FinishParent   FinishStatus = 4  // it has children but Parent was not set: set it and call again
	FinishKids     FinishStatus = -1 // its children list changed: Kids holds it; call again
)

// Flags of a task's finish.lua values, summed.
const (
	finishFlagClear     = 1  // an earlier attempt left an error to clear
	finishFlagRan       = 2  // its handler ran (else a doomed child: the claim's attempt is undone)
	finishFlagCompanion = 4  // its companion key is passed
	finishFlagKids      = 8  // its children list is passed
	finishFlagResult    = 16 // its result JSON follows
	finishFlagNull      = 32 // its result is null (no value follows)
	finishFlagErr       = 64 // its error follows
)

// FinishParams asks finish.lua to write the final outcomes of Tasks (at
// most FinishChunk), and to return Heads head entries of each of their
// queues (0 for none).
type FinishParams struct {
	Tasks []*Finishing
	Heads int
}

// FinishReply is what finish.lua answered besides each task's Status: the
// heads of each queue of its tasks.
type FinishReply struct {
	Heads map[string][]Head
}

// build builds finish.lua's KEYS and ARGV, in the order its header
// documents, and returns the queues whose heads it returns, in reply
// order.
func (p FinishParams) build(k Keys, ttl int64) (*call, []string) {
	var queues []string
	qn := map[string]int{}
	for _, f := range p.Tasks {
		if qn[f.Task.Queue] == 0 {
			queues = append(queues, f.Task.Queue)
			qn[f.Task.Queue] = len(queues)
		}
	}
	keys := make([]string, 0, 4+2*len(queues)+len(p.Tasks))
	keys = append(keys, k.Waiting(), k.Done(tasks.Succeeded), k.Done(tasks.Failed), k.Done(tasks.Canceled))
	for _, q := range queues {
		keys = append(keys, k.Due(q), k.Lease(q))
	}
	args := make([]any, 0, 6+len(queues)+2*len(p.Tasks))
	args = append(args, ttl, p.Heads, k.EventsChannel(), k.Announce(""), len(queues), len(p.Tasks))
	for _, q := range queues {
		args = append(args, q)
	}
	for _, f := range p.Tasks {
		t := f.Task
		keys = append(keys, k.Task(t.ID))
		flags := 0
		if t.Error != "" {
			flags |= finishFlagClear
		}
		if f.Ran {
			flags |= finishFlagRan
		}
		if t.Key != "" || t.Workflow != "" {
			flags |= finishFlagCompanion
			keys = append(keys, k.Companion(t.Key, t.Workflow, t.ID))
		}
		if f.Parent || len(f.Kids) > 0 {
			flags |= finishFlagKids
			keys = append(keys, k.Kids(t.ID))
			keys = append(keys, k.childKeys(f.Kids)...)
		}
		switch string(f.Result) {
		case "":
		case "null":
			flags |= finishFlagNull
		default:
			flags |= finishFlagResult
		}
		if f.Err != "" {
			flags |= finishFlagErr
		}
		head := strconv.Itoa(qn[t.Queue]) + " " + strconv.FormatInt(t.Run, 10) + " " + string(f.State) + " " +
			strconv.Itoa(flags) + " " + strconv.Itoa(len(f.Kids)) + " " + transport.EventWord(t.Name) + " " + t.ID
		args = append(args, head)
		if flags&finishFlagResult != 0 {
			args = append(args, string(f.Result))
		}
		if f.Err != "" {
			args = append(args, f.Err)
		}
	}
	return &call{script: finishScript, keys: keys, args: args}, queues
}

// Finish writes final outcomes with one finish.lua call.
func (s *Store) Finish(ctx context.Context, p FinishParams) (FinishReply, error) {
	r := s.FinishAndClaim(ctx, p, ClaimParams{})
	return r.Finish, r.FinishErr
}

// parseFinish reads finish.lua's reply into each task's Status (and Kids,
// when its children list changed) and returns the heads of queues. A reply
// that cannot be read is an error wrapping ErrReply.
func parseFinish(v any, err error, fs []*Finishing, queues []string) (FinishReply, error) {
	if err != nil {
		return FinishReply{}, fmt.Errorf("finish %d tasks: %w", len(fs), err)
	}
	res, ok := v.([]any)
	if !ok {
		return FinishReply{}, fmt.Errorf("finish %d tasks: %w %T", len(fs), ErrReply, v)
	}
	if len(res) != len(queues)+len(fs) {
		return FinishReply{}, fmt.Errorf("finish %d tasks: %w of %d items", len(fs), ErrReply, len(res))
	}
	heads := make(map[string][]Head, len(queues))
	for i, q := range queues {
		if heads[q], err = parseHeads(res[i]); err != nil {
			return FinishReply{}, fmt.Errorf("finish %d tasks: %w: %w", len(fs), ErrReply, err)
		}
	}
	for i, f := range fs {
		switch v := res[len(queues)+i].(type) {
		case int64:
			f.Status = FinishStatus(v)
		case []any:
			f.Status, f.Kids = FinishKids, strs(v)
		default:
			return FinishReply{}, fmt.Errorf("finish %s: %w %v", f.Task.ID, ErrReply, v)
		}
	}
	return FinishReply{Heads: heads}, nil
}
