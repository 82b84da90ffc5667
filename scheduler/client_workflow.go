package scheduler

import (
	"context"
	_ "embed"
	"fmt"
	"strings"

	"github.com/oklog/ulid/v2"

	"github.com/dueq/dueq/deps"
	"github.com/dueq/dueq/tasks"
)

var (
	//go:embed workflow.lua
	workflowLua    string
	workflowScript = newScript("", workflowLua)
)

// SubmitWorkflow validates a workflow whole and writes all its tasks in one
// atomic step; it returns each node's name mapped to its task id. A rejected
// workflow (unknown names, duplicates, cycles: errors wrapping
// tasks.ErrInvalid, and deps.ErrCycle for a cycle) writes nothing.
func (c *Client) SubmitWorkflow(ctx context.Context, w *deps.Workflow) (map[string]string, error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	ids := make(map[string]string, len(w.Nodes))
	for _, n := range w.Nodes {
		ids[n.Name] = ulid.Make().String()
	}
	kids := map[string][]any{} // parent id → children entries
	for _, n := range w.Nodes {
		if n.Spec.Key != "" {
			return nil, fmt.Errorf("%w: node %s: idempotency keys are for single tasks, not workflow nodes", tasks.ErrInvalid, n.Name)
		}
		for _, p := range n.After {
			kids[ids[p]] = append(kids[ids[p]], n.Spec.Queue+" "+ids[n.Name])
		}
	}
	keys := []string{c.x.keys.Queues(), c.x.keys.Waiting()}
	args := []any{len(w.Nodes), c.x.keys.Announce(""), c.x.keys.EventsChannel()}
	for _, n := range w.Nodes {
		id := ids[n.Name]
		t := newTask(n.Spec)
		t.ID, t.Key, t.Parents, t.Pending = id, "", nil, len(n.After)
		for _, p := range n.After {
			t.Parents = append(t.Parents, ids[p])
		}
		if t.Pending > 0 {
			t.State = tasks.Waiting
		}
		for _, e := range kids[id] {
			_, cid, _ := strings.Cut(e.(string), " ")
			t.Children = append(t.Children, cid) // its record counts them
		}
		fields := newRecord(t)
		keys = append(keys, c.x.keys.Task(id), c.x.keys.Due(t.Queue), c.x.keys.Kids(id))
		args = append(args, id, t.Queue, t.Name, string(t.State), dueArg(t), len(fields))
		args = append(args, fields...)
		args = append(args, len(kids[id]))
		args = append(args, kids[id]...)
	}
	if err := c.x.run(ctx, workflowScript, keys, args...).Err(); err != nil {
		return nil, fmt.Errorf("submit workflow of %d tasks: %w", len(w.Nodes), err)
	}
	return ids, nil
}
