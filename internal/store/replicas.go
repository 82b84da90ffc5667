package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/wire"
)

// ReplicaWait is how long a round trip of a store that waits for replicas
// (WaitForReplicas) waits for them to confirm its writes.
const ReplicaWait = time.Second

// ErrNotReplicated is what a NotReplicatedError is (errors.Is).
var ErrNotReplicated = wire.ErrNotReplicated

// NotReplicatedError says a write ran on the primary, but fewer replicas
// than the store waits for confirmed it within ReplicaWait: if the primary
// fails before they have it, a failover may lose it.
type NotReplicatedError struct {
	Acked, Wanted int
	Err           error // why WAIT itself failed, if it did
}

func (e *NotReplicatedError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("written to the Redis primary, but waiting for %d replicas to confirm it failed (%v): if the primary fails before they have it, it may be lost", e.Wanted, e.Err)
	}
	return fmt.Sprintf("written to the Redis primary, but only %d of %d replicas confirmed it within %s (redis.wait_replicas): if the primary fails before they have it, it may be lost",
		e.Acked, e.Wanted, ReplicaWait)
}

// Is makes errors.Is(err, ErrNotReplicated) hold.
func (e *NotReplicatedError) Is(target error) bool { return target == ErrNotReplicated }

// WaitForReplicas makes each round trip of s's writes wait until n
// replicas have them (Redis's WAIT, sent on the connection of the writes),
// for up to ReplicaWait. A write not confirmed in time is answered with a
// NotReplicatedError; or, given unconfirmed, it is answered as if
// confirmed, unconfirmed is told, and the store stops waiting for
// ReplicaPause (a daemon's claims and finishes: they happened all the
// same, and a daemon whose every round waited a second for a replica that
// is down would all but stop). 0 (the default) waits for none. Set it
// before s is used.
func (s *Store) WaitForReplicas(n int, unconfirmed func(*NotReplicatedError)) {
	s.replicas, s.unconfirmed = n, unconfirmed
}

// ReplicaPause is how long a store told of its unconfirmed writes
// (WaitForReplicas) goes on without waiting for replicas after one.
const ReplicaPause = 10 * time.Second

// waits reports whether the store waits for replicas now.
func (s *Store) waits() bool {
	return s.replicas > 0 && s.clock.local.Now().UnixNano() >= s.waitPaused.Load()
}

// trip is the calls of one pipeline, on one connection, and the WAIT that
// ends it when the store waits for replicas.
type trip struct {
	pipe   redis.Pipeliner
	calls  []*call
	wait   *redis.IntCmd
	byHand bool // pipe is a cluster node's own, not the cluster client's
}

// trips puts calls into pipelines: one, unless the store waits for
// replicas on a Redis Cluster, where WAIT must reach the primary that ran
// the writes: then one per primary, by each call's first key.
func (s *Store) trips(ctx context.Context, calls []*call) ([]*trip, error) {
	cc, cluster := s.rdb.(*redis.ClusterClient)
	if !s.waits() || !cluster {
		t := &trip{pipe: s.rdb.Pipeline(), calls: calls}
		return []*trip{t}, nil
	}
	byNode := map[*redis.Client]*trip{}
	var out []*trip
	for _, c := range calls {
		node, err := cc.MasterForKey(ctx, c.keys[0])
		if err != nil {
			return nil, fmt.Errorf("find the Redis Cluster primary of %s: %w", c.keys[0], err)
		}
		t := byNode[node]
		if t == nil {
			t = &trip{pipe: node.Pipeline(), byHand: true}
			byNode[node] = t
			out = append(out, t)
		}
		t.calls = append(t.calls, c)
	}
	return out, nil
}

// confirm ends t's pipeline with a WAIT, when the store waits for replicas.
func (s *Store) confirm(ctx context.Context, t *trip) {
	if s.waits() {
		t.wait = redis.NewIntCmd(ctx, "wait", s.replicas, ReplicaWait.Milliseconds())
		_ = t.pipe.Process(ctx, t.wait)
	}
}

// confirmed marks the calls of t that ran but that its WAIT did not
// confirm.
func (s *Store) confirmed(t *trip) {
	if t.wait == nil {
		return
	}
	n, err := t.wait.Result()
	if err == nil && n >= int64(s.replicas) {
		return
	}
	e := &NotReplicatedError{Acked: int(n), Wanted: s.replicas, Err: err}
	if s.unconfirmed != nil {
		s.waitPaused.Store(s.clock.local.Now().Add(ReplicaPause).UnixNano())
		s.unconfirmed(e)
		return
	}
	for _, c := range t.calls {
		if c.cmd.Err() == nil {
			c.replicas = e
		}
	}
}

// isReply reports whether err is nil or Redis's own error reply: the
// server answered.
func isReply(err error) bool {
	var reply redis.Error
	return err == nil || errors.As(err, &reply)
}

// isMoved reports whether err is a Redis Cluster redirection: the call,
// sent to a node that no longer holds its keys, did not run.
func isMoved(err error) bool {
	return err != nil && (redis.HasErrorPrefix(err, "MOVED") || redis.HasErrorPrefix(err, "ASK"))
}
