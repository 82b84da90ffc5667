package client

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// PauseQueue stops every daemon of the namespace from claiming tasks of
// queue: from the moment it returns, no claim takes one (each claim checks
// the paused set in the same script), on every daemon, until ResumeQueue.
// Submits to it are still accepted and its running tasks finish. A queue
// stays paused across daemon restarts (it is in Redis). Pausing a paused
// queue, or one that has had no tasks yet, is no error.
func (c *Client) PauseQueue(ctx context.Context, queue string) error {
	if !tasks.ValidQueue(queue) {
		return fmt.Errorf("%w: queue %.70q: a queue name is 1-64 letters, digits or _.-", tasks.ErrInvalid, queue)
	}
	if err := c.claim(ctx); err != nil {
		return err
	}
	pipe := c.rdb.Pipeline()
	for p := range c.space.N() {
		pipe.SAdd(ctx, c.space.Part(p).Paused(), queue)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("pause queue %s: %w", queue, err)
	}
	return nil
}

// ResumeQueue lets the daemons claim tasks of queue again, and wakes them:
// each partition's first due task of it is announced, as a submit would.
// Resuming a queue that is not paused is no error.
func (c *Client) ResumeQueue(ctx context.Context, queue string) error {
	if !tasks.ValidQueue(queue) {
		return fmt.Errorf("%w: queue %.70q: a queue name is 1-64 letters, digits or _.-", tasks.ErrInvalid, queue)
	}
	if err := c.claim(ctx); err != nil {
		return err
	}
	pipe := c.rdb.Pipeline()
	heads := make([]*redis.ZSliceCmd, c.space.N())
	for p := range c.space.N() {
		k := c.space.Part(p)
		pipe.SRem(ctx, k.Paused(), queue)
		heads[p] = pipe.ZRangeWithScores(ctx, k.Due(queue), 0, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("resume queue %s: %w", queue, err)
	}
	_, sharded := c.rdb.(*redis.ClusterClient)
	pipe = c.rdb.Pipeline()
	n := 0
	for p, cmd := range heads {
		for _, z := range cmd.Val() {
			id, _ := z.Member.(string)
			msg, ch := strconv.FormatInt(int64(z.Score), 10)+" "+id, c.space.Part(p).Announce(queue)
			if sharded {
				pipe.SPublish(ctx, ch, msg)
			} else {
				pipe.Publish(ctx, ch, msg)
			}
			n++
		}
	}
	if n > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			// Resumed all the same: the daemons find its tasks at their
			// next re-read of the index (safety_wait at the latest).
			c.cfg.Logger.Warn("resumed a queue but could not wake the daemons; they find its tasks within safety_wait", "queue", queue, "err", err)
		}
	}
	return nil
}

// Queues lists the queues that have had tasks, sorted by name, each with
// its counts and whether it is paused, in one round trip.
func (c *Client) Queues(ctx context.Context) ([]wire.Queue, error) {
	names, err := c.knownQueues(ctx)
	if err != nil {
		return nil, err
	}
	paused, err := c.pausedQueues(ctx)
	if err != nil {
		return nil, err
	}
	for q := range paused { // paused before its first task
		if i := sort.SearchStrings(names, q); i == len(names) || names[i] != q {
			names = append(names, q)
		}
	}
	sort.Strings(names)
	pipe := c.rdb.Pipeline()
	due := make([][]*redis.IntCmd, len(names))
	lease := make([][]*redis.IntCmd, len(names))
	for i, q := range names {
		for p := range c.space.N() {
			k := c.space.Part(p)
			due[i] = append(due[i], pipe.ZCard(ctx, k.Due(q)))
			lease[i] = append(lease[i], pipe.ZCard(ctx, k.Lease(q)))
		}
	}
	if len(names) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("read the queues: %w", err)
		}
	}
	out := make([]wire.Queue, len(names))
	for i, q := range names {
		out[i] = wire.Queue{Name: q, QueueStats: wire.QueueStats{Paused: paused[q]}}
		for p := range c.space.N() {
			out[i].Scheduled += due[i][p].Val()
			out[i].Running += lease[i][p].Val()
		}
	}
	return out, nil
}

// pausedQueues reads the paused queues: those in any partition's paused
// set (PauseQueue writes them all; one it could not finish writing counts
// as paused, as it is in some).
func (c *Client) pausedQueues(ctx context.Context) (map[string]bool, error) {
	pipe := c.rdb.Pipeline()
	cmds := make([]*redis.StringSliceCmd, c.space.N())
	for p := range cmds {
		cmds[p] = pipe.SMembers(ctx, c.space.Part(p).Paused())
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read the paused queues: %w", err)
	}
	out := map[string]bool{}
	for _, cmd := range cmds {
		for _, q := range cmd.Val() {
			out[q] = true
		}
	}
	return out, nil
}
