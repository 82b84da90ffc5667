package client

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/oklog/ulid/v2"

	"github.com/dueq/dueq/deps"
	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// SubmittedWorkflow is what SubmitWorkflow wrote: the workflow's id
// ("W" and a ULID) and each node's name mapped to its task id.
type SubmittedWorkflow struct {
	ID    string
	Tasks map[string]string
}

// SubmitWorkflow validates a workflow whole and writes all its tasks in one
// atomic step, each recording the workflow's id and its node's name, and
// the workflow's node map, which GetWorkflow reads. A rejected workflow
// (unknown names, duplicates, cycles: errors wrapping tasks.ErrInvalid,
// and deps.ErrCycle for a cycle) writes nothing.
func (c *Client) SubmitWorkflow(ctx context.Context, w *deps.Workflow) (SubmittedWorkflow, error) {
	if err := w.Validate(); err != nil {
		return SubmittedWorkflow{}, err
	}
	if err := c.claim(ctx); err != nil {
		return SubmittedWorkflow{}, err
	}
	// A workflow lives whole in one partition: every edge is one script.
	p := c.space.Pick()
	wid := c.space.Tag("W"+ulid.Make().String(), p)
	ids := make(map[string]string, len(w.Nodes))
	for _, n := range w.Nodes {
		ids[n.Name] = c.space.Tag(ulid.Make().String(), p)
	}
	kids := map[string][]string{} // parent id → children ids, in node order
	for _, n := range w.Nodes {
		if n.Spec.Key != "" {
			return SubmittedWorkflow{}, fmt.Errorf("%w: node %s: idempotency keys are for single tasks, not workflow nodes", tasks.ErrInvalid, n.Name)
		}
		for _, p := range n.After {
			kids[ids[p]] = append(kids[ids[p]], ids[n.Name])
		}
	}
	ts := make([]*tasks.Task, 0, len(w.Nodes))
	for _, n := range w.Nodes {
		id := ids[n.Name]
		t := newTask(n.Spec)
		t.ID, t.Key, t.Parents, t.Pending = id, "", nil, len(n.After)
		t.Workflow, t.Node = wid, n.Name
		for _, p := range n.After {
			t.Parents = append(t.Parents, ids[p])
		}
		if t.Pending > 0 {
			t.State = tasks.Waiting
		}
		t.Children = kids[id] // its record counts them
		ts = append(ts, t)
	}
	if err := c.stores.Part(p).SubmitWorkflow(ctx, store.WorkflowParams{ID: wid, Tasks: ts}); err != nil {
		return SubmittedWorkflow{}, err
	}
	return SubmittedWorkflow{ID: wid, Tasks: ids}, nil
}

// WorkflowNode is one node of a workflow as GetWorkflow reads it: its
// name, its task's id, and its task (nil once that record expired: a node
// that finished result TTL ago, while others finished later).
type WorkflowNode struct {
	Name string
	ID   string
	Task *tasks.Task
}

// GetWorkflow reads a workflow's nodes and their tasks, parents first (the
// order SubmitWorkflow wrote them: deps.Workflow's). A workflow is readable until result TTL after its last node
// finished; an unknown or expired one is wire.ErrNotFound.
func (c *Client) GetWorkflow(ctx context.Context, id string) ([]WorkflowNode, error) {
	if !ValidWorkflowID(id) {
		return nil, fmt.Errorf("workflow %.80q: %w", id, wire.ErrNotFound)
	}
	m, err := c.rdb.HGetAll(ctx, c.space.KeysOf(id).Workflow(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("read workflow %s: %w", id, err)
	}
	delete(m, "#open")
	if len(m) == 0 {
		return nil, fmt.Errorf("workflow %s: %w", id, wire.ErrNotFound)
	}
	nodes := make([]WorkflowNode, 0, len(m))
	for name, tid := range m {
		nodes = append(nodes, WorkflowNode{Name: name, ID: tid})
	}
	// Task ids are ULIDs, made in the workflow's order.
	slices.SortFunc(nodes, func(a, b WorkflowNode) int { return strings.Compare(a.ID, b.ID) })
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		ids[i] = n.ID
	}
	ts, err := c.stores.Records(ctx, ids, func(err error) { c.cfg.Logger.Warn("skipping a corrupt record", "err", err) })
	if err != nil {
		return nil, err
	}
	for i := range nodes {
		nodes[i].Task = ts[i]
	}
	return nodes, nil
}

// ValidWorkflowID reports whether id can be a workflow's id: "W" and a
// task id.
func ValidWorkflowID(id string) bool { return strings.HasPrefix(id, "W") && tasks.ValidID(id[1:]) }
