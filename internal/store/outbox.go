package store

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
)

var (
	//go:embed link.lua
	linkLua string
	//go:embed deliver.lua
	deliverLua string

	//go:embed partitions.lua
	partitionsLua string

	linkScript       = newScript("link", "", linkLua)
	partitionsScript = newScript("partitions", "", partitionsLua)
	deliverScript    = newScript("deliver", "", deliverLua)
)

// An edge between a parent and a child of two partitions cannot be one
// script: each script runs in one partition. It is two, with an outbox
// entry between them, written by the first step in its own partition's
// outbox and removed once the second has run:
//
//   - "L QUEUE CHILD PARENT", in the child's partition: submit.lua wrote a
//     child with a parent elsewhere; link.lua puts the child on the
//     parent's children list, or, the parent having finished, returns its
//     outcome for deliver.lua.
//   - "D QUEUE CHILD PARENT", in the parent's partition: a script that
//     ended the parent (finish, cancel, recover) recorded its outcome for
//     the child in the outbox data; deliver.lua hands it over.
//
// Both steps may run twice (deliver.lua applies a parent's outcome once,
// link.lua adds a child once), so whoever wrote an entry completes it at
// once (Complete) and, if it dies first, any daemon's lease keeper does
// after OutboxGrace (Stale): nothing is lost or delivered twice.
const (
	outboxLink    = 'L'
	outboxDeliver = 'D'
)

// OutboxGrace is how old an outbox entry is before daemons other than its
// writer complete it.
const OutboxGrace = 5 * time.Second

// OutboxEntry is one entry of an outbox.
type OutboxEntry struct {
	Kind                 byte // 'L' or 'D'
	Queue, Child, Parent string
}

// ParseOutboxEntry reads an outbox member, or returns an error wrapping
// transport.ErrCorrupt.
func ParseOutboxEntry(m string) (OutboxEntry, error) {
	f := strings.SplitN(m, " ", 4)
	if len(f) != 4 || len(f[0]) != 1 || (f[0][0] != outboxLink && f[0][0] != outboxDeliver) || f[1] == "" || f[2] == "" || f[3] == "" {
		return OutboxEntry{}, fmt.Errorf("%w: outbox entry %q is not \"L|D QUEUE CHILD PARENT\"", transport.ErrCorrupt, m)
	}
	return OutboxEntry{Kind: f[0][0], Queue: f[1], Child: f[2], Parent: f[3]}, nil
}

func (e OutboxEntry) String() string {
	return string(e.Kind) + " " + e.Queue + " " + e.Child + " " + e.Parent
}

// Stores is a store per partition of a namespace (Space), and what needs
// more than one of them: the edges between partitions.
type Stores struct {
	space Space
	parts []*Store
	home  *Store // of the home's keys (Space.Home): parts[0] with one partition
}

// NewStores returns a store for each partition of sp on rdb, as New would
// make them, except that they learn what Redis reads of script flags
// (Prepare) once for all. Each keeps its own clock: on a Redis Cluster,
// its partition's node runs its scripts.
func NewStores(rdb redis.UniversalClient, sp Space, resultTTL time.Duration, local interface{ Now() time.Time }) *Stores {
	ss := &Stores{space: sp, parts: make([]*Store, sp.N())}
	flags := new(atomic.Int32)
	for p := range ss.parts {
		ss.parts[p] = &Store{rdb: rdb, keys: sp.Part(p), space: sp, group: ss, resultTTL: resultTTL,
			clock: &RedisClock{local: local}, flags: flags}
	}
	ss.home = ss.parts[0]
	if sp.N() > 1 {
		// The home's calls renew no lease, so no reply of theirs corrects
		// a clock: it keeps partition 0's, which claims and finishes do.
		ss.home = &Store{rdb: rdb, keys: sp.Home(), resultTTL: resultTTL, clock: ss.parts[0].clock, flags: flags}
	}
	return ss
}

// WaitForReplicas makes every partition's store wait for n replicas
// (Store.WaitForReplicas).
func (ss *Stores) WaitForReplicas(n int, unconfirmed func(*NotReplicatedError)) {
	for _, s := range ss.parts {
		s.WaitForReplicas(n, unconfirmed)
	}
	ss.home.WaitForReplicas(n, unconfirmed)
}

// Space is the namespace's partitions.
func (ss *Stores) Space() Space { return ss.space }

// Home returns the store of the namespace's home (Space.Home), where the
// daemon set is: with one partition, that partition's.
func (ss *Stores) Home() *Store { return ss.home }

// Part returns partition p's store.
func (ss *Stores) Part(p int) *Store { return ss.parts[p] }

// Of returns the store of id's partition.
func (ss *Stores) Of(id string) *Store { return ss.parts[ss.space.Of(id)] }

// All returns every partition's store, in partition order.
func (ss *Stores) All() []*Store { return ss.parts }

// Complete carries out the outbox entry m of partition p and removes it
// (both steps may have run already: they are idempotent). A malformed
// entry is an error wrapping transport.ErrCorrupt, and is left alone.
func (ss *Stores) Complete(ctx context.Context, p int, m string) error {
	e, err := ParseOutboxEntry(m)
	if err != nil {
		return err
	}
	here := ss.parts[p]
	switch e.Kind {
	case outboxLink:
		res, err := ss.Of(e.Parent).run(ctx, &call{script: linkScript,
			keys: []string{ss.Of(e.Parent).keys.Task(e.Parent), ss.Of(e.Parent).keys.Kids(e.Parent)},
			args: []any{e.Parent, "@" + e.Queue + " " + e.Child}}).StringSlice()
		if err != nil {
			return fmt.Errorf("link task %s to its parent %s: %w", e.Child, e.Parent, err)
		}
		if len(res) == 2 {
			if err := here.deliver(ctx, e, res[0], res[1]); err != nil {
				return err
			}
		}
		return here.rdb.ZRem(ctx, here.keys.Outbox(), m).Err()
	default:
		data, err := here.rdb.HGet(ctx, here.keys.OutboxData(), m).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("read the outcome of %s for %s: %w", e.Parent, e.Child, err)
		}
		if err == nil { // else delivered, and only the entry was left
			state, o, ok := strings.Cut(data, " ")
			if !ok {
				return fmt.Errorf("%w: outbox data of %q is not \"STATE OUTCOME\"", transport.ErrCorrupt, m)
			}
			if err := ss.Of(e.Child).deliver(ctx, e, state, o); err != nil {
				return err
			}
		}
		_, err = here.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.ZRem(ctx, here.keys.Outbox(), m)
			pipe.HDel(ctx, here.keys.OutboxData(), m)
			return nil
		})
		return err
	}
}

// deliver runs deliver.lua in s, the child's partition, for entry e.
func (s *Store) deliver(ctx context.Context, e OutboxEntry, state, outcome string) error {
	err := s.run(ctx, &call{script: deliverScript,
		keys: []string{s.keys.Task(e.Child), s.keys.Due(e.Queue), s.keys.Waiting()},
		args: []any{e.Child, e.Queue, e.Parent, state, outcome, s.keys.Announce("")}}).Err()
	if err != nil {
		return fmt.Errorf("hand %s's outcome to its child %s: %w", e.Parent, e.Child, err)
	}
	return nil
}

// handOut completes the deliveries that ending task pid recorded for its
// children of other partitions (the "@QUEUE ID" entries of kids), at once;
// those it could not complete are left to the lease keepers (Stale).
func (s *Store) handOut(ctx context.Context, pid string, kids []string) {
	if s.group == nil {
		return
	}
	for _, k := range kids {
		q, id, _ := strings.Cut(k, " ")
		if q, ok := strings.CutPrefix(q, "@"); ok {
			_ = s.group.Complete(ctx, s.keys.part, OutboxEntry{Kind: outboxDeliver, Queue: q, Child: id, Parent: pid}.String())
		}
	}
}

// Link links task t, just created, to its parents of other partitions,
// completing the outbox entries submit.lua wrote for them: each becomes a
// child of its parent there, or, if the parent has finished, gets its
// outcome. One not linked now (the error says why) is linked by a daemon's
// lease keeper after OutboxGrace.
func (ss *Stores) Link(ctx context.Context, t *tasks.Task) error {
	return ss.Of(t.ID).links(ctx, t.ID, t.Queue, t.Parents)
}

// links completes the links that submitting a task of this partition
// recorded for its parents of other partitions, at once; those it could not
// complete are left to the lease keepers (Stale).
func (s *Store) links(ctx context.Context, child, queue string, parents []string) error {
	var errs []error
	for _, p := range parents {
		if s.remote(p) {
			errs = append(errs, s.group.Complete(ctx, s.keys.part, OutboxEntry{Kind: outboxLink, Queue: queue, Child: child, Parent: p}.String()))
		}
	}
	return errors.Join(errs...)
}

// Stale lists, per partition, up to limit entries of its outbox recorded
// longer than OutboxGrace ago by Redis's clock (as each store sees it):
// those whose writer may have died before completing them. It reads
// every partition in one round trip.
func (ss *Stores) Stale(ctx context.Context, limit int) (map[int][]string, error) {
	pipe := ss.parts[0].rdb.Pipeline()
	cmds := make([]*redis.StringSliceCmd, len(ss.parts))
	for p, s := range ss.parts {
		before := s.clock.Now().Add(-OutboxGrace).UnixMilli()
		cmds[p] = pipe.ZRangeByScore(ctx, s.keys.Outbox(), &redis.ZRangeBy{
			Min: "-inf", Max: strconv.FormatInt(before, 10), Count: int64(limit)})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read the outboxes: %w", err)
	}
	out := map[int][]string{}
	for p, cmd := range cmds {
		if len(cmd.Val()) > 0 {
			out[p] = cmd.Val()
		}
	}
	return out, nil
}

// Keepalive renews p.Tasks' leases, each in its partition, and records
// p.Daemon's sign of life in the namespace's home, in one round trip
// (keepalive.lua per partition with tasks, and one in the home); it
// returns the tasks whose claim the daemon lost.
func (ss *Stores) Keepalive(ctx context.Context, p KeepaliveParams) ([]*tasks.Task, error) {
	if len(ss.parts) == 1 {
		return ss.parts[0].Keepalive(ctx, p)
	}
	by := map[int][]*tasks.Task{}
	for _, t := range p.Tasks {
		by[ss.space.Of(t.ID)] = append(by[ss.space.Of(t.ID)], t)
	}
	type part struct {
		s *Store
		c *call
	}
	home := KeepaliveParams{Daemon: p.Daemon, Info: p.Info, Lease: p.Lease}
	parts := []part{{ss.home, home.build(ss.home.keys, ss.home.clock.Now())}}
	for q, ts := range by {
		s := ss.parts[q]
		parts = append(parts, part{s, KeepaliveParams{Lease: p.Lease, Tasks: ts}.build(s.keys, s.clock.Now())})
	}
	calls := make([]*call, len(parts))
	for i, pt := range parts {
		calls[i] = pt.c
	}
	sendAll(ctx, ss.home, calls)
	var lost []*tasks.Task
	for i, pt := range parts {
		var ts []*tasks.Task
		if i > 0 {
			ts = by[pt.s.keys.part]
		}
		l, err := pt.s.keptAlive(pt.c, ts)
		if err != nil {
			return nil, err
		}
		lost = append(lost, l...)
	}
	return lost, nil
}
