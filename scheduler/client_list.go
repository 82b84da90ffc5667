package scheduler

import (
	"context"
	"fmt"
	"sort"

	"github.com/dueq/dueq/tasks"
)

// ListOptions filters List. The zero value lists up to 100 tasks of any state.
type ListOptions struct {
	State tasks.State // only tasks in this state; empty: any
	Name  string      // only tasks of this handler name; empty: any
	Limit int         // at most this many; 0 means 100; at most 10000
}

// MaxListLimit caps ListOptions.Limit.
const MaxListLimit = 10000

// List returns tasks: running ones first, then scheduled ones by due time,
// then waiting ones oldest first, then finished ones newest first. It reads the index sets, not the whole keyspace, so its cost grows
// with what it returns and skips, not with the number of keys.
func (c *Client) List(ctx context.Context, opts ListOptions) ([]*tasks.Task, error) {
	if opts.Limit == 0 {
		opts.Limit = 100
	}
	if opts.Limit < 0 || opts.Limit > MaxListLimit {
		return nil, fmt.Errorf("%w: limit %d: use 1 to %d", tasks.ErrInvalid, opts.Limit, MaxListLimit)
	}
	if opts.State != "" && !opts.State.Valid() {
		_, err := tasks.ParseState(string(opts.State))
		return nil, fmt.Errorf("%w: %v", tasks.ErrInvalid, err)
	}
	queues, err := c.knownQueues(ctx)
	if err != nil {
		return nil, err
	}
	k := c.x.keys
	type source struct {
		key   string
		state tasks.State
		rev   bool
	}
	var srcs []source
	for _, st := range []tasks.State{tasks.Running, tasks.Scheduled, tasks.Waiting, tasks.Succeeded, tasks.Failed, tasks.Canceled} {
		if opts.State != "" && opts.State != st {
			continue
		}
		switch st {
		case tasks.Running:
			for _, q := range queues {
				srcs = append(srcs, source{k.Lease(q), st, false})
			}
		case tasks.Scheduled:
			for _, q := range queues {
				srcs = append(srcs, source{k.Due(q), st, false})
			}
		case tasks.Waiting:
			srcs = append(srcs, source{k.Waiting(), st, false})
		default:
			srcs = append(srcs, source{k.Done(st), st, true})
		}
	}
	var out []*tasks.Task
	const chunk = 500
	for _, src := range srcs {
		for start := int64(0); len(out) < opts.Limit; start += chunk {
			var ids []string
			if src.rev {
				ids, err = c.x.rdb.ZRevRange(ctx, src.key, start, start+chunk-1).Result()
			} else {
				ids, err = c.x.rdb.ZRange(ctx, src.key, start, start+chunk-1).Result()
			}
			if err != nil {
				return nil, fmt.Errorf("list %s: %w", src.key, err)
			}
			got, err := c.records(ctx, ids)
			if err != nil {
				return nil, err
			}
			for _, t := range got {
				if t.State == src.state && (opts.Name == "" || t.Name == opts.Name) && len(out) < opts.Limit {
					out = append(out, t)
				}
			}
			if len(ids) < chunk {
				break
			}
		}
	}
	return out, nil
}

// records reads several records, leaving out expired ones and logging and
// leaving out corrupt ones.
func (c *Client) records(ctx context.Context, ids []string) ([]*tasks.Task, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ts, err := c.x.records(ctx, ids, func(err error) { c.cfg.Logger.Warn("skipping a corrupt record", "err", err) })
	if err != nil {
		return nil, err
	}
	out := ts[:0]
	for _, t := range ts {
		if t != nil {
			out = append(out, t)
		}
	}
	return out, nil
}

// knownQueues returns the queues that have had tasks, sorted.
func (c *Client) knownQueues(ctx context.Context) ([]string, error) {
	qs, err := c.x.rdb.SMembers(ctx, c.x.keys.Queues()).Result()
	if err != nil {
		return nil, fmt.Errorf("read the queue list: %w", err)
	}
	sort.Strings(qs)
	return qs, nil
}
