package store

import (
	"context"
	"fmt"
	"time"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
)

// WorkflowParams asks workflow.lua to write a validated workflow's Tasks at
// once, parents first, each naming workflow ID and its node (Task.Node),
// its parents and its children (Task.Parents, Task.Children, all among
// Tasks), and, when it waits for them, its pending count and state
// waiting.
type WorkflowParams struct {
	ID    string
	Tasks []*tasks.Task
}

// build builds workflow.lua's KEYS and ARGV, in the order its header
// documents.
func (p WorkflowParams) build(k Keys) *call {
	queueOf := make(map[string]string, len(p.Tasks))
	for _, t := range p.Tasks {
		queueOf[t.ID] = t.Queue
	}
	keys := []string{k.Queues(), k.Waiting(), k.Workflow(p.ID)}
	args := []any{len(p.Tasks), k.Announce(""), k.EventsChannel()}
	for _, t := range p.Tasks {
		fields := newRecord(t)
		keys = append(keys, k.Task(t.ID), k.Due(t.Queue), k.Kids(t.ID))
		args = append(args, t.ID, t.Node, t.Queue, t.Name, string(t.State), dueArg(t), len(fields))
		args = append(args, fields...)
		args = append(args, len(t.Children))
		for _, c := range t.Children {
			args = append(args, queueOf[c]+" "+c)
		}
	}
	return &call{script: workflowScript, keys: keys, args: args}
}

// SubmitWorkflow writes a workflow's tasks with workflow.lua, in one
// atomic step.
func (s *Store) SubmitWorkflow(ctx context.Context, p WorkflowParams) error {
	if err := s.run(ctx, p.build(s.keys)).Err(); err != nil {
		return fmt.Errorf("submit workflow of %d tasks: %w", len(p.Tasks), err)
	}
	return nil
}

// newRecord is a new task's record fields for workflow.lua: its due and
// created fields come last, for the script to fill in from Redis's clock.
func newRecord(t *tasks.Task) []any {
	if !t.DueAt.IsZero() || !t.CreatedAt.IsZero() { // due at a time: the script sets it
		rec := *t
		rec.DueAt, rec.CreatedAt = time.Time{}, time.Time{}
		t = &rec
	}
	return append(transport.EncodeRecord(t), transport.FDue, 0, transport.FCreated, 0)
}
