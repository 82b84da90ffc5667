package store

import (
	"context"
	"fmt"

	"github.com/dueq/dueq/tasks"
)

// RetryParams asks retry.lua to run Task, failed or canceled as the
// caller read it, again now with a fresh set of attempts.
type RetryParams struct {
	Task *tasks.Task
}

// build builds retry.lua's KEYS and ARGV, in the order its header
// documents.
func (p RetryParams) build(k Keys) *call {
	t := p.Task
	return &call{script: retryScript,
		keys: []string{k.Task(t.ID), k.Due(t.Queue), k.Done(t.State), k.Companion(t.Key, t.Workflow, t.ID), k.Kids(t.ID)},
		args: []any{t.ID, string(t.State), k.Announce(t.Queue), k.EventsChannel()}}
}

// Retry runs retry.lua. It reports whether the task was retried: false
// when its state was no longer the one the caller read (read it again).
func (s *Store) Retry(ctx context.Context, p RetryParams) (retried bool, err error) {
	prev, err := s.run(ctx, p.build(s.keys)).Text()
	if err != nil {
		return false, fmt.Errorf("retry %s: %w", p.Task.ID, err)
	}
	return prev == string(p.Task.State), nil
}
