package client

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
	"github.com/dueq/dueq/wire"
)

// StrandedSample is how many due tasks of each queue, the first by due
// time, Stats reads the handler names of to find stranded ones.
const StrandedSample = 200

// Stats returns the counts `dueq stats` shows. Finished counts cover
// the records kept (result_ttl). Redis's clock says which daemons are alive
// and which tasks are due. It takes two pipelined round trips to Redis, and
// a third, for the names of the sampled due tasks (see wire.Stranded),
// when some task is due.
func (c *Client) Stats(ctx context.Context) (*wire.Stats, error) {
	n := c.space.N()
	pipe := c.rdb.Pipeline()
	queueSets := make([]*redis.StringSliceCmd, n)
	pausedSets := make([]*redis.StringSliceCmd, n)
	for p := range n {
		queueSets[p] = pipe.SMembers(ctx, c.space.Part(p).Queues())
		pausedSets[p] = pipe.SMembers(ctx, c.space.Part(p).Paused())
	}
	dr, err := c.readDaemons(ctx, pipe)
	if err != nil {
		return nil, fmt.Errorf("read stats: %w", err)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read stats: %w", err)
	}
	var queues []string
	seen := map[string]bool{}
	for _, qs := range queueSets {
		for _, q := range qs.Val() {
			if !seen[q] {
				seen[q] = true
				queues = append(queues, q)
			}
		}
	}
	sort.Strings(queues)
	nowMs, err := dr.nowMs()
	if err != nil {
		return nil, fmt.Errorf("read stats: %w", err)
	}
	now := strconv.FormatInt(nowMs, 10)

	// Per queue and partition: its counts, and its first due tasks.
	pipe = c.rdb.Pipeline()
	due := make([][]*redis.IntCmd, len(queues))
	lease := make([][]*redis.IntCmd, len(queues))
	sample := make([][]*redis.ZSliceCmd, len(queues))
	for i, q := range queues {
		for p := range n {
			k := c.space.Part(p)
			due[i], lease[i] = append(due[i], pipe.ZCard(ctx, k.Due(q))), append(lease[i], pipe.ZCard(ctx, k.Lease(q)))
			sample[i] = append(sample[i], pipe.ZRangeByScoreWithScores(ctx, k.Due(q), &redis.ZRangeBy{Min: "-inf", Max: now, Count: StrandedSample}))
		}
	}
	var waiting []*redis.IntCmd
	fin := map[tasks.State][]*redis.IntCmd{}
	for p := range n {
		k := c.space.Part(p)
		waiting = append(waiting, pipe.ZCard(ctx, k.Waiting()))
		for _, st := range []tasks.State{tasks.Succeeded, tasks.Failed, tasks.Canceled} {
			fin[st] = append(fin[st], pipe.ZCard(ctx, k.Done(st)))
		}
	}
	if err := dr.readInfo(ctx, pipe); err != nil {
		return nil, fmt.Errorf("read stats: %w", err)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read stats: %w", err)
	}
	daemons := dr.daemons()

	st := &wire.Stats{States: map[tasks.State]int64{}, Queues: map[string]wire.QueueStats{},
		Daemons: make([]string, len(daemons)), DaemonInfo: daemons}
	for i, d := range daemons {
		st.Daemons[i] = d.ID
	}
	for _, s := range tasks.States {
		st.States[s] = 0
	}
	paused := map[string]bool{}
	for _, cmd := range pausedSets {
		for _, q := range cmd.Val() {
			paused[q] = true
		}
	}
	for i, q := range queues {
		qs := wire.QueueStats{Paused: paused[q]}
		for p := range n {
			qs.Scheduled += due[i][p].Val()
			qs.Running += lease[i][p].Val()
		}
		st.Queues[q] = qs
		st.States[tasks.Scheduled] += qs.Scheduled
		st.States[tasks.Running] += qs.Running
	}
	for _, cmd := range waiting {
		st.States[tasks.Waiting] += cmd.Val()
	}
	for s, cmds := range fin {
		for _, cmd := range cmds {
			st.States[s] += cmd.Val()
		}
	}
	if st.Stranded, err = c.stranded(ctx, queues, sample, daemons); err != nil {
		return nil, err
	}
	return st, nil
}

// stranded reads the handler names of each queue's sampled due tasks in
// one pipeline and counts those no live daemon serving the queue has.
func (c *Client) stranded(ctx context.Context, queues []string, sample [][]*redis.ZSliceCmd, daemons []wire.Daemon) ([]wire.Stranded, error) {
	out := []wire.Stranded{}
	for _, d := range daemons {
		if d.Info == nil {
			return out, nil // a daemon of unknown info may run anything
		}
	}
	pipe := c.rdb.Pipeline()
	names := make([][]*redis.StringCmd, len(queues))
	n := 0
	for i := range queues {
		// The queue's first StrandedSample due tasks, of every partition.
		var due []redis.Z
		for _, part := range sample[i] {
			due = append(due, part.Val()...)
		}
		sort.SliceStable(due, func(a, b int) bool { return due[a].Score < due[b].Score })
		for _, z := range due[:min(len(due), StrandedSample)] {
			id, _ := z.Member.(string)
			names[i] = append(names[i], pipe.HGet(ctx, c.space.KeysOf(id).Task(id), transport.FName))
			n++
		}
	}
	if n == 0 {
		return out, nil
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) { // Nil: a record is gone
		return nil, fmt.Errorf("read the names of due tasks: %w", err)
	}
	for i, q := range queues {
		counts := map[string]int{}
		for _, cmd := range names[i] {
			if name := cmd.Val(); tasks.ValidName(name) { // "": the record is gone
				counts[name]++
			}
		}
		handlers := make([]string, 0, len(counts))
		for h := range counts {
			handlers = append(handlers, h)
		}
		sort.Strings(handlers)
		for _, h := range handlers {
			if why := ReachOf(daemons, q, h).Problem(q, h); why != "" {
				out = append(out, wire.Stranded{Queue: q, Handler: h, Count: counts[h], Reason: why})
			}
		}
	}
	return out, nil
}
