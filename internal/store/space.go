package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/tasks"
)

// MaxPartitions bounds a namespace's partitions.
const MaxPartitions = 1024

// Space is a namespace split into partitions, each its own hash tag and so
// its own Redis Cluster slot: "{ns}" when the namespace has one partition
// (the layout of every namespace before partitions), "{ns:0}" to
// "{ns:N-1}" when it has N. Every script runs on one partition and
// declares every key it touches; the slots of the partitions spread over
// a cluster's shards.
//
// A task's partition is fixed when it is submitted and read from its id:
// with several partitions an id ends in ".P" (a task "01J...Q.3", a
// schedule "S01J...Q.3", a workflow "W01J...Q.3"); an occurrence of a
// schedule ("SID-MS") is in its schedule's. An id without a suffix is in
// partition 0.
type Space struct {
	ns    string
	home  Keys
	parts []Keys
}

// NewSpace returns namespace ns split into n partitions, or an error if ns
// cannot be a namespace or n a number of partitions.
func NewSpace(ns string, n int) (Space, error) {
	home, err := NewKeys(ns)
	if err != nil {
		return Space{}, err
	}
	if n < 1 || n > MaxPartitions {
		return Space{}, fmt.Errorf("partitions %d: use 1 to %d", n, MaxPartitions)
	}
	sp := Space{ns: ns, home: home, parts: make([]Keys, n)}
	if n == 1 {
		sp.parts[0] = home
		return sp, nil
	}
	for p := range n {
		sp.parts[p] = Keys{prefix: "{" + ns + ":" + strconv.Itoa(p) + "}:", part: p}
	}
	return sp, nil
}

// N is the number of partitions.
func (sp Space) N() int { return len(sp.parts) }

// Namespace is the namespace's name.
func (sp Space) Namespace() string { return sp.ns }

// Part returns the keys of partition p.
func (sp Space) Part(p int) Keys { return sp.parts[p] }

// Home returns the keys of the namespace's home, "{ns}": where the daemon
// set and the number of partitions live. With one partition it is that
// partition.
func (sp Space) Home() Keys { return sp.home }

// Of returns the partition of id, as its suffix says (Space).
func (sp Space) Of(id string) int {
	if len(sp.parts) == 1 {
		return 0
	}
	if sid, _, ok := ParseOccurrence(id); ok {
		id = sid
	}
	i := strings.LastIndexByte(id, '.')
	if i < 0 {
		return 0
	}
	p, err := strconv.Atoi(id[i+1:])
	if err != nil || p < 0 || p >= len(sp.parts) || strconv.Itoa(p) != id[i+1:] {
		return 0
	}
	return p
}

// KeysOf returns the keys of id's partition.
func (sp Space) KeysOf(id string) Keys { return sp.parts[sp.Of(id)] }

// Tag returns id placed in partition p: id itself with one partition, else
// id and the suffix ".P".
func (sp Space) Tag(id string, p int) string {
	if len(sp.parts) == 1 {
		return id
	}
	return id + "." + strconv.Itoa(p)
}

// ForKey returns the partition a name places its task in: an idempotency
// key, or a named schedule's name (FNV-1a, modulo the partitions), so the
// same name always lands in the same partition.
func (sp Space) ForKey(name string) int {
	if len(sp.parts) == 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return int(h.Sum32() % uint32(len(sp.parts)))
}

// Pick returns a partition for work that nothing else places: at random,
// so independent tasks spread evenly.
func (sp Space) Pick() int { return rand.N(len(sp.parts)) }

// DefaultPartitions is the partitions of a namespace whose configuration
// names none: 16 on a Redis Cluster, whose slots they spread over its
// shards, else 1.
func DefaultPartitions(rdb redis.UniversalClient) int {
	if _, ok := rdb.(*redis.ClusterClient); ok {
		return 16
	}
	return 1
}

// ErrPartitions is what a namespace that has another number of partitions
// than asked answers (errors.Is).
var ErrPartitions = errors.New("the namespace has another number of partitions")

// Claim records the space's number of partitions in its namespace, or
// checks it against the one recorded: a namespace keeps its partitions,
// since its tasks' ids say where they are. A namespace that holds no tasks
// (none due, waiting, running, recurring or finished and not yet expired)
// and has no daemon alive (seen within LiveDaemon) takes a new number; one
// that holds tasks or has a live daemon refuses it with an error wrapping
// ErrPartitions that says what to do. A namespace with no number recorded
// (new, from before partitions, or on a Redis that lost it) takes any
// unless it holds tasks of one partition's layout; its daemons claim their
// number again every minute (LeaseKeeper), so one that lost it finds a
// mismatch within a minute.
func (sp Space) Claim(ctx context.Context, rdb redis.UniversalClient) error {
	key := sp.home.Partitions()
	for range 8 {
		cur, err := rdb.Get(ctx, key).Result()
		switch {
		case errors.Is(err, redis.Nil):
			cur = ""
		case err != nil:
			return fmt.Errorf("read the namespace's partitions: %w", err)
		}
		have := 1
		if cur != "" {
			if have, err = strconv.Atoi(cur); err != nil || have < 1 || have > MaxPartitions {
				return fmt.Errorf("%w: key %s holds %q, which is no number of partitions: fix or delete it", ErrPartitions, key, cur)
			}
		}
		refuse := func(why string) error {
			return fmt.Errorf("%w: namespace %q has %d partitions and %s, so its partitions cannot change to %d: set partitions to %d, "+
				"or stop its daemons and let its tasks finish and their results expire first, or use another namespace", ErrPartitions, sp.ns, have, why, sp.N(), have)
		}
		if have != sp.N() {
			busy, err := sp.of(have).holdsTasks(ctx, rdb)
			if err != nil {
				return err
			}
			if busy != "" {
				return refuse("holds tasks (" + busy + ")")
			}
		}
		if cur == strconv.Itoa(sp.N()) {
			return nil
		}
		// Sent whole (EVAL): it runs once per process, before the
		// scripts are loaded.
		res, err := rdb.Eval(ctx, partitionsScript.plainSrc, []string{key, sp.home.Daemons()}, cur, sp.N(), LiveDaemon.Milliseconds()).Text()
		switch {
		case err != nil:
			return fmt.Errorf("record the namespace's partitions: %w", err)
		case res == "live":
			return refuse("daemons alive")
		case res == "ok":
			return nil
		}
		// "changed": another process recorded a number meanwhile
	}
	return fmt.Errorf("record the namespace's partitions: other processes kept changing %s", key)
}

// LiveDaemon is how recently a daemon's sign of life makes it alive for
// Claim.
const LiveDaemon = time.Minute

// of returns the space of the same namespace with n partitions.
func (sp Space) of(n int) Space {
	o, _ := NewSpace(sp.ns, n)
	return o
}

// holdsTasks names a key of the space that holds tasks, or returns "".
func (sp Space) holdsTasks(ctx context.Context, rdb redis.UniversalClient) (string, error) {
	for _, k := range sp.parts {
		qs, err := rdb.SMembers(ctx, k.Queues()).Result()
		if err != nil && !isWrongType(err) {
			return "", fmt.Errorf("read the namespace's queues: %w", err)
		}
		keys := []string{k.Waiting(), k.Schedules(), k.Outbox(), k.Done(tasks.Succeeded), k.Done(tasks.Failed), k.Done(tasks.Canceled)}
		for _, q := range qs {
			keys = append(keys, k.Due(q), k.Lease(q))
		}
		for _, key := range keys {
			n, err := rdb.Exists(ctx, key).Result()
			if err != nil {
				return "", fmt.Errorf("read the namespace's tasks: %w", err)
			}
			if n > 0 {
				return key, nil
			}
		}
	}
	return "", nil
}
