// Package store is dueq's Redis store: the names of every key (Keys), the
// Lua scripts, one per state transition, each in its own .lua file with
// its KEYS and ARGV documented in its header, and one Go method per script
// (Store.Submit runs submit.lua, Store.Claim claim.lua, ...). Each method
// takes a params struct whose one builder writes the script's KEYS and
// ARGV in the order its header documents, and returns a typed reply. The
// store also keeps what it learned of its Redis: whether it reads script
// flags, and the offset of its clock (RedisClock).
//
// Every script call goes through one path (send), which loads the scripts
// Redis has forgotten (NOSCRIPT) and sends again only the calls that did
// not run, whether they went alone or pipelined with others.
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
	"github.com/dueq/dueq/wire"
)

// The Lua scripts, one per state transition; each file documents its KEYS
// and ARGV, and each is loaded with the functions of the prelude it calls
// in front.
var (
	//go:embed prelude.lua
	preludeLua string
	//go:embed submit.lua
	submitLua string
	//go:embed claim.lua
	claimLua string
	//go:embed finish.lua
	finishLua string
	//go:embed finish_claim.lua
	finishClaimLua string
	//go:embed requeue.lua
	requeueLua string
	//go:embed recover.lua
	recoverLua string
	//go:embed cancel.lua
	cancelLua string
	//go:embed retry.lua
	retryLua string
	//go:embed keepalive.lua
	keepaliveLua string
	//go:embed schedule.lua
	scheduleLua string
	//go:embed unschedule.lua
	unscheduleLua string
	//go:embed pause_schedule.lua
	pauseScheduleLua string
	//go:embed workflow.lua
	workflowLua string

	submitScript = newScript("submit", "", submitLua)
	// finish.lua and claim.lua define functions, which their scripts
	// (claimEntry, finishEntry) and finish_claim.lua call.
	claimScript         = newScript("claim", "", claimSource(claimLua)+claimEntry)
	finishScript        = newScript("finish", "", finishLua+finishEntry)
	finishClaimScript   = newScript("finish_claim", "", finishLua+claimSource(claimLua)+finishClaimLua)
	requeueScript       = newScript("requeue", "", requeueLua)
	recoverScript       = newScript("recover", "", recoverLua)
	cancelScript        = newScript("cancel", "", cancelLua)
	retryScript         = newScript("retry", "", retryLua)
	keepaliveScript     = newScript("keepalive", "allow-oom", keepaliveLua)
	scheduleScript      = newScript("schedule", "", scheduleLua)
	unscheduleScript    = newScript("unschedule", "", unscheduleLua)
	pauseScheduleScript = newScript("pause_schedule", "", pauseScheduleLua)
	workflowScript      = newScript("workflow", "", workflowLua)
	// writableScript writes nothing, but Redis runs it only when it takes
	// writes: the lease keeper asks it while Redis refuses them.
	writableScript = newScript("writable", "", "return 1")
	// clockScript reads Redis's clock where the namespace's keys are (its
	// KEYS[1]): a TIME alone may reach any node of a Redis Cluster, whose
	// clocks need not agree with the one that runs the scripts.
	clockScript = newScript("clock", "no-writes", "local t = redis.call('TIME')\nreturn {t[1], t[2]}")
)

// The bodies of the claim and finish scripts: each calls the function its
// file defines with the call's KEYS and ARGV and Redis's time.
const (
	claimEntry  = "local nowms, nowus = clock()\nreturn claim_batch(KEYS, ARGV, nowms, nowus)\n"
	finishEntry = "local nowms = clock()\nreturn finish_batch(KEYS, ARGV, nowms)\n"
)

// Store runs the scripts of one namespace on one Redis, and reads its
// records. It is safe for concurrent use. Its only state is what it
// learned of its Redis: whether Redis reads script flags, and the offset
// of Redis's clock.
type Store struct {
	rdb       redis.UniversalClient
	keys      Keys
	space     Space   // the partitions keys is one of (none for a store made by New)
	group     *Stores // the stores of space's partitions (nil for a store made by New)
	resultTTL time.Duration
	clock     *RedisClock
	flags     *atomic.Int32 // shared by the stores of a space's partitions
	// WaitForReplicas: how many, and what to tell of a write they did not
	// confirm (nil: its caller, by its error).
	replicas    int
	unconfirmed func(*NotReplicatedError)
	waitPaused  atomic.Int64 // local Unix ns until which it does not wait (ReplicaPause)
}

// New returns the store of keys' namespace on rdb. resultTTL is how long
// finished records are kept; local is the clock of this process, which
// the store corrects by the offset of Redis's (Clock).
func New(rdb redis.UniversalClient, keys Keys, resultTTL time.Duration, local interface{ Now() time.Time }) *Store {
	return &Store{rdb: rdb, keys: keys, resultTTL: resultTTL, clock: &RedisClock{local: local}, flags: new(atomic.Int32)}
}

// remote reports whether task id lives in another partition than the
// store's.
func (s *Store) remote(id string) bool {
	return s.space.N() > 1 && s.space.Of(id) != s.keys.part
}

// Keys returns the names of the store's keys.
func (s *Store) Keys() Keys { return s.keys }

// Redis returns the store's Redis client, for reads of its own.
func (s *Store) Redis() redis.UniversalClient { return s.rdb }

// Clock returns Redis's clock as the store sees it.
func (s *Store) Clock() *RedisClock { return s.clock }

// Head is one entry of a timing index: a task id and its due time.
type Head struct {
	ID  string
	Due int64 // ms
}

// MaxKidsTries bounds the retries of a script whose task gained children
// between reading its children list and finishing it (and of a retry
// whose task changed state meanwhile).
const MaxKidsTries = 8

// childKeys gives the keys the scripts need for each entry of a children
// list ("QUEUE ID"): the child's record and its queue's due index; for a
// child of another partition ("@QUEUE ID"), the outbox and its data
// (release, in prelude.lua).
func (k Keys) childKeys(kids []string) []string {
	keys := make([]string, 0, 2*len(kids))
	for _, e := range kids {
		q, id, _ := strings.Cut(e, " ")
		if strings.HasPrefix(q, "@") {
			keys = append(keys, k.Outbox(), k.OutboxData())
			continue
		}
		keys = append(keys, k.Task(id), k.Due(q))
	}
	return keys
}

// childIDs returns the ids of a children list's entries.
func childIDs(kids []string) []string {
	ids := make([]string, len(kids))
	for i, e := range kids {
		_, ids[i], _ = strings.Cut(e, " ")
	}
	return ids
}

// Expired lists up to limit tasks of queue whose lease ended by now.
func (s *Store) Expired(ctx context.Context, queue string, now int64, limit int) ([]string, error) {
	ids, err := s.rdb.ZRangeByScore(ctx, s.keys.Lease(queue), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(now, 10), Count: int64(limit)}).Result()
	if err != nil {
		return nil, fmt.Errorf("read expired leases of queue %s: %w", queue, err)
	}
	return ids, nil
}

// Get reads one record, or returns an error wrapping wire.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*tasks.Task, error) {
	ts, err := s.Records(ctx, []string{id}, nil)
	if err != nil {
		return nil, err
	}
	if ts[0] == nil {
		return nil, fmt.Errorf("task %s: %w", id, wire.ErrNotFound)
	}
	return ts[0], nil
}

// Records reads several records and their children in one round trip; an
// expired record is nil. A corrupt one is an error, or, with skip set, is
// passed to skip and left nil.
func (s *Store) Records(ctx context.Context, ids []string, skip func(error)) ([]*tasks.Task, error) {
	return records(ctx, s.rdb, func(string) Keys { return s.keys }, ids, skip)
}

// Records reads several records of any partitions as Store.Records does,
// in one round trip.
func (ss *Stores) Records(ctx context.Context, ids []string, skip func(error)) ([]*tasks.Task, error) {
	return records(ctx, ss.parts[0].rdb, ss.space.KeysOf, ids, skip)
}

// records is Records, each id's keys given by keysOf.
func records(ctx context.Context, rdb redis.UniversalClient, keysOf func(id string) Keys, ids []string, skip func(error)) ([]*tasks.Task, error) {
	pipe := rdb.Pipeline()
	hs := make([]*redis.MapStringStringCmd, len(ids))
	kids := make([]*redis.StringSliceCmd, len(ids))
	for i, id := range ids {
		k := keysOf(id)
		hs[i] = pipe.HGetAll(ctx, k.Task(id))
		kids[i] = pipe.LRange(ctx, k.Kids(id), 0, -1)
	}
	_, _ = pipe.Exec(ctx) // each command's own error is read below
	out := make([]*tasks.Task, len(ids))
	for i, id := range ids {
		if err := errors.Join(hs[i].Err(), kids[i].Err()); err != nil {
			if !isWrongType(err) {
				return nil, fmt.Errorf("read %d records: %w", len(ids), err)
			}
			err = fmt.Errorf("%w %s: its key holds no record (%v)", transport.ErrCorrupt, id, err)
			if skip == nil {
				return nil, err
			}
			skip(err) // a key of another type, written by hand
			continue
		}
		if len(hs[i].Val()) == 0 {
			continue
		}
		t, err := transport.DecodeRecord(id, hs[i].Val())
		if err != nil && skip != nil {
			skip(err)
			continue
		}
		if err != nil {
			return nil, err
		}
		t.Children = childIDs(kids[i].Val())
		out[i] = t
	}
	return out, nil
}

// Writable reports, with a nil error, that Redis takes writes: it runs a
// script that writes nothing but that Redis refuses while it refuses
// writes (out of memory, a read-only replica).
func (s *Store) Writable(ctx context.Context) error {
	return s.run(ctx, &call{script: writableScript, keys: []string{s.keys.Queues()}}).Err()
}
