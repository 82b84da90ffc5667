package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
)

// RecoverParams asks recover.lua to re-queue (or fail) task ID of Queue,
// whose lease expired by Redis's clock.
type RecoverParams struct {
	Queue, ID     string
	MaxRecoveries int // re-runs after a lost daemon before the task fails
}

// RecoverResult is what recover.lua did.
type RecoverResult int

// Results of recover.lua.
const (
	RecoverNotExpired RecoverResult = 0 // its lease was renewed, or is gone
	RecoverRequeued   RecoverResult = 1
	RecoverFailed     RecoverResult = 2 // too many recoveries
	RecoverVanished   RecoverResult = 3 // its record was gone; it is recorded as failed
)

// finished is what a script that finishes a task reads of it first: the
// keys of its companion (its idempotency key, its workflow's node map) and
// its children list, "QUEUE ID" each.
type finished struct {
	key, workflow string
	kids          []string
}

// build builds recover.lua's KEYS and ARGV for a task read as f, in the
// order its header documents.
func (p RecoverParams) build(k Keys, ttl int64, f finished) *call {
	keys := append([]string{k.Task(p.ID), k.Lease(p.Queue), k.Due(p.Queue), k.Done(tasks.Failed),
		k.Companion(f.key, f.workflow, p.ID), k.Waiting(), k.Kids(p.ID)}, k.childKeys(f.kids)...)
	return &call{script: recoverScript, keys: keys, args: []any{p.ID, p.MaxRecoveries, ttl,
		k.Announce(p.Queue), k.EventsChannel(), len(f.kids), k.Announce(""), p.Queue}}
}

// Recover re-queues (or fails) a task whose lease expired by Redis's
// clock, with recover.lua. Its children get its outcome when it fails.
func (s *Store) Recover(ctx context.Context, p RecoverParams) (RecoverResult, error) {
	pipe := s.rdb.Pipeline()
	fieldsCmd := pipe.HMGet(ctx, s.keys.Task(p.ID), transport.FKey, transport.FWorkflow)
	kidsCmd := pipe.LRange(ctx, s.keys.Kids(p.ID), 0, -1)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("recover %s: %w", p.ID, err)
	}
	f := finished{kids: kidsCmd.Val()}
	f.key, _ = fieldsCmd.Val()[0].(string)
	f.workflow, _ = fieldsCmd.Val()[1].(string)
	for range MaxKidsTries {
		res, err := s.run(ctx, p.build(s.keys, s.resultTTL.Milliseconds(), f)).Slice()
		if err != nil {
			return 0, fmt.Errorf("recover %s: %w", p.ID, err)
		}
		n, _ := res[0].(int64)
		if n == -1 && len(res) == 2 {
			f.kids = strs(res[1])
			continue
		}
		if RecoverResult(n) == RecoverFailed || RecoverResult(n) == RecoverVanished {
			s.handOut(ctx, p.ID, f.kids)
		}
		return RecoverResult(n), nil
	}
	return 0, fmt.Errorf("recover %s: its children kept changing; tried %d times", p.ID, MaxKidsTries)
}
