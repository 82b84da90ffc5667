package client

import (
	"context"
	"fmt"
	"sort"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
	"github.com/dueq/dueq/wire"
)

// List returns tasks: running ones first, then scheduled ones by due time,
// then waiting ones oldest first, then finished ones newest first. It reads
// the index sets, not the whole keyspace, so its cost grows with what it
// returns and skips, not with the number of keys. With Queue, running and
// scheduled tasks come from that queue's own sets; waiting and finished
// ones, which have no set per queue, are filtered. A filtered listing reads
// three fields of each task it looks at (state, name, queue) and whole
// records only of those it returns.
func (c *Client) List(ctx context.Context, opts wire.ListOptions) ([]*tasks.Task, error) {
	if opts.Limit == 0 {
		opts.Limit = 100
	}
	if opts.Limit < 0 || opts.Limit > wire.MaxListLimit {
		return nil, fmt.Errorf("%w: limit %d: use 1 to %d", tasks.ErrInvalid, opts.Limit, wire.MaxListLimit)
	}
	if opts.State != "" && !opts.State.Valid() {
		_, err := tasks.ParseState(string(opts.State))
		return nil, fmt.Errorf("%w: %v", tasks.ErrInvalid, err)
	}
	if opts.Queue != "" && !tasks.ValidQueue(opts.Queue) {
		return nil, fmt.Errorf("%w: queue %.70q: a queue name is 1-64 letters, digits or _.-", tasks.ErrInvalid, opts.Queue)
	}
	queues := []string{opts.Queue}
	if opts.Queue == "" {
		var err error
		if queues, err = c.knownQueues(ctx); err != nil {
			return nil, err
		}
	}
	// Each source is one set per partition, read merged in score order.
	type source struct {
		keys  []string
		state tasks.State
		rev   bool
	}
	var srcs []source
	each := func(key func(store.Keys) string) []string {
		keys := make([]string, c.space.N())
		for p := range keys {
			keys[p] = key(c.space.Part(p))
		}
		return keys
	}
	for _, st := range []tasks.State{tasks.Running, tasks.Scheduled, tasks.Waiting, tasks.Succeeded, tasks.Failed, tasks.Canceled} {
		if opts.State != "" && opts.State != st {
			continue
		}
		switch st {
		case tasks.Running:
			for _, q := range queues {
				srcs = append(srcs, source{each(func(k store.Keys) string { return k.Lease(q) }), st, false})
			}
		case tasks.Scheduled:
			for _, q := range queues {
				srcs = append(srcs, source{each(func(k store.Keys) string { return k.Due(q) }), st, false})
			}
		case tasks.Waiting:
			srcs = append(srcs, source{each(store.Keys.Waiting), st, false})
		default:
			srcs = append(srcs, source{each(func(k store.Keys) string { return k.Done(st) }), st, true})
		}
	}
	filtered := opts.Name != "" || opts.Queue != ""
	var out []*tasks.Task
	const chunk = 500
	for _, src := range srcs {
		m := newMerged(c.rdb, src.keys, src.rev, chunk)
		for len(out) < opts.Limit {
			ids, err := m.next(ctx, chunk)
			if err != nil {
				return nil, fmt.Errorf("list %s tasks: %w", src.state, err)
			}
			more := len(ids) == chunk
			if filtered {
				if ids, err = c.matching(ctx, ids, src.state, opts); err != nil {
					return nil, err
				}
			}
			// Read only as many records as are still wanted; more if some
			// expired or changed state meanwhile.
			for len(ids) > 0 && len(out) < opts.Limit {
				n := min(len(ids), opts.Limit-len(out))
				got, err := c.records(ctx, ids[:n])
				if err != nil {
					return nil, err
				}
				ids = ids[n:]
				for _, t := range got {
					if t.State == src.state && (opts.Name == "" || t.Name == opts.Name) && (opts.Queue == "" || t.Queue == opts.Queue) {
						out = append(out, t)
					}
				}
			}
			if !more {
				break
			}
		}
	}
	return out, nil
}

// matching returns the ids whose records are in state st and match opts'
// name and queue, in order, reading only those three fields of each, so
// that a filtered listing does not read the records it skips. Expired
// records are left out.
func (c *Client) matching(ctx context.Context, ids []string, st tasks.State, opts wire.ListOptions) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := c.rdb.Pipeline()
	fields := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		fields[i] = pipe.HMGet(ctx, c.space.KeysOf(id).Task(id), transport.FState, transport.FName, transport.FQueue)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read the state, name and queue of %d tasks: %w", len(ids), err)
	}
	var out []string
	for i, id := range ids {
		v := fields[i].Val()
		state, name, queue := field(v, 0), field(v, 1), field(v, 2)
		if state == string(st) && (opts.Name == "" || name == opts.Name) && (opts.Queue == "" || queue == opts.Queue) {
			out = append(out, id)
		}
	}
	return out, nil
}

// field returns the i-th value of an HMGET reply as a string; "" when it
// is missing.
func field(v []any, i int) string {
	if i >= len(v) {
		return ""
	}
	s, _ := v[i].(string)
	return s
}

// records reads several records, leaving out expired ones and logging and
// leaving out corrupt ones.
func (c *Client) records(ctx context.Context, ids []string) ([]*tasks.Task, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ts, err := c.stores.Records(ctx, ids, func(err error) { c.cfg.Logger.Warn("skipping a corrupt record", "err", err) })
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

// knownQueues returns the queues that have had tasks, in any partition,
// sorted.
func (c *Client) knownQueues(ctx context.Context) ([]string, error) {
	pipe := c.rdb.Pipeline()
	cmds := make([]*redis.StringSliceCmd, c.space.N())
	for p := range cmds {
		cmds[p] = pipe.SMembers(ctx, c.space.Part(p).Queues())
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read the queue list: %w", err)
	}
	seen := map[string]bool{}
	var qs []string
	for _, cmd := range cmds {
		for _, q := range cmd.Val() {
			if !seen[q] {
				seen[q] = true
				qs = append(qs, q)
			}
		}
	}
	sort.Strings(qs)
	return qs, nil
}
