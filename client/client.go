// Package client is dueq's Go client: it submits tasks, workflows and
// recurring schedules to the daemons of a namespace, and reads, waits for,
// cancels and retries them, talking to Redis directly (the HTTP API serves
// one; Go programs use one to submit work to daemons). It does not run
// tasks: package scheduler does.
package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/deps"
	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// Client submits, inspects and cancels tasks, talking to Redis directly. It
// is safe for concurrent use. A submitted task is durable as soon as Submit
// returns (as durable as the Redis behind it). A Client holds at most one
// pub/sub connection, to the events channel, opened by the first Wait or
// Events and shared by all of them.
type Client struct {
	stores *store.Stores
	space  store.Space
	rdb    redis.UniversalClient
	cfg    Config
	queues sync.Map // queue names this client has added to the queue set, per partition (queueIn)
	sub    *submitter
	events *eventHub
	// claimed is set once the namespace's partitions agree with the
	// client's (store.Space.Claim), before its first write.
	claimMu sync.Mutex
	claimed bool
}

// New returns a client of cfg's namespace on rdb. It validates cfg (after
// WithDefaults) and names the setting to fix.
func New(rdb redis.UniversalClient, cfg Config) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = store.DefaultPartitions(rdb)
	}
	sp, err := store.NewSpace(cfg.Namespace, cfg.Partitions)
	if err != nil {
		return nil, fmt.Errorf("partitions: %w", err)
	}
	c := &Client{stores: store.NewStores(rdb, sp, cfg.ResultTTL, cfg.Clock), space: sp, rdb: rdb, cfg: cfg}
	c.stores.WaitForReplicas(cfg.WaitReplicas, nil)
	channels := make([]string, sp.N())
	for p := range sp.N() {
		channels[p] = sp.Part(p).EventsChannel()
	}
	c.sub = newSubmitter(c.stores, c.newQueue, func(t *tasks.Task) { c.queues.Store(c.queueIn(t), true) })
	c.events = newEventHub(rdb, channels, cfg.Logger)
	return c, nil
}

// claim checks, before the client's first write, that the namespace has
// the client's number of partitions (or takes it, when it holds no
// tasks): a task written to a partition its daemons do not serve would
// never run.
func (c *Client) claim(ctx context.Context) error {
	c.claimMu.Lock()
	defer c.claimMu.Unlock()
	if c.claimed {
		return nil
	}
	if err := c.space.Claim(ctx, c.rdb); err != nil {
		return err
	}
	c.claimed = true
	return nil
}

// st returns the store of id's partition.
func (c *Client) st(id string) *store.Store { return c.stores.Of(id) }

// place gives a new task its partition, in its id: its idempotency key's,
// so a second submit with the key finds the first; else its first
// parent's, so that edge is one script. A task neither places is free:
// with free, it is left for whoever sends it to place (it goes where the
// tasks sent with it go, or at random, store.Stores.SubmitGroup); else it
// goes to one at random. It reports whether the task was left free.
func (c *Client) place(t *tasks.Task, free bool) bool {
	p := c.space.Pick()
	switch {
	case t.Key != "":
		p = c.space.ForKey(t.Key)
	case len(t.Parents) > 0:
		p = c.space.Of(t.Parents[0])
	case free:
		return true
	}
	t.ID = c.space.Tag(t.ID, p)
	return false
}

// queueIn names t's queue in t's partition, for the queues the client
// knows are in each partition's queue set.
func (c *Client) queueIn(t *tasks.Task) string {
	return strconv.Itoa(c.space.Of(t.ID)) + " " + t.Queue
}

// Close releases the client's pub/sub connection, if Wait or Events opened
// it, and ends its event streams. It is safe to call twice.
func (c *Client) Close() error {
	c.events.close()
	return nil
}

// Submit validates spec and stores a new task; it returns the task's record.
// Concurrent Submits of one Client share round trips to Redis: those that
// arrive while one is on its way are sent together next, in one script call.
// A task with parents (spec.After) waits until every parent has finished and
// then receives their outcomes; a parent that already finished counts with
// its stored outcome, and an unknown or expired parent is an error wrapping
// tasks.ErrInvalid, with nothing written.
// When spec.Key names a task submitted before (and not yet expired), Submit
// writes nothing and returns that task's record. Validation errors wrap
// tasks.ErrInvalid and nothing is written.
func (c *Client) Submit(ctx context.Context, spec tasks.Spec) (*tasks.Task, error) {
	t, _, err := c.SubmitCreated(ctx, spec)
	return t, err
}

// SubmitCreated is Submit that also reports whether this call created the
// task: false when spec.Key named a task submitted before.
func (c *Client) SubmitCreated(ctx context.Context, spec tasks.Spec) (*tasks.Task, bool, error) {
	if err := spec.Normalize(); err != nil {
		return nil, false, err
	}
	if err := c.claim(ctx); err != nil {
		return nil, false, err
	}
	t := newTask(spec)
	free := c.place(t, true)
	if err := c.checkParents(ctx, []*tasks.Task{t}, nil)[0]; err != nil {
		return nil, false, err
	}
	res, err := c.sub.submit(ctx, t, free)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		return nil, false, err
	}
	id, created := res.ID, res.Created
	if created {
		c.link(ctx, t)
	}
	if !created || len(t.Parents) > 0 {
		// The script decided its state (waiting, or scheduled with the
		// outcomes of parents that had finished): read what it wrote.
		t, err = c.Get(ctx, id)
		return t, created, err
	}
	return t, true, nil
}

// SubmitMany submits many tasks, a hundred per script call and a thousand
// per pipelined round trip: the bulk path. Every spec is validated first;
// one invalid spec writes nothing. The records come back in spec order; as
// with Submit, a used idempotency key returns the first task, and a task
// with parents comes back as stored. Tasks are independent and go in order:
// a task whose parent is unknown is refused and comes back nil, with the
// first such refusal as the error (wrapping tasks.ErrInvalid) while the
// others are stored. Two round trips go at once when the later one's
// tasks name no parent and no idempotency key (a trip with either goes
// alone, after the ones before it): tasks due "now" or after a delay get
// their due times from Redis's clock as their trip runs, so across such
// trips a later task may be due a millisecond before an earlier one. If
// Redis fails midway, the tasks before the failure are stored, and those
// of the trip sent beside the failed one may be too: give tasks
// idempotency keys to make submitting them again safe.
// With several partitions, each partition's tasks go as above, the
// partitions side by side; a task's parents in other partitions are
// linked to it once every partition's tasks are stored.
func (c *Client) SubmitMany(ctx context.Context, specs []tasks.Spec) ([]*tasks.Task, error) {
	ts := make([]*tasks.Task, len(specs))
	for i := range specs {
		if err := specs[i].Normalize(); err != nil {
			return nil, fmt.Errorf("spec %d: %w", i, err)
		}
		ts[i] = newTask(specs[i])
		c.place(ts[i], false)
	}
	if err := c.claim(ctx); err != nil {
		return nil, err
	}
	batch := make(map[string]bool, len(ts))
	for _, t := range ts {
		batch[t.ID] = true
	}
	out := make([]store.Submitted, len(ts))
	parts := make([][]int, c.space.N()) // per partition, the indexes of its tasks
	for i, t := range ts {
		if err := c.checkParents(ctx, []*tasks.Task{t}, batch)[0]; err != nil {
			out[i].Err = err
			continue
		}
		p := c.space.Of(t.ID)
		parts[p] = append(parts[p], i)
	}
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for p, idx := range parts {
		if len(idx) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			group := make([]*tasks.Task, len(idx))
			for j, i := range idx {
				group[j] = ts[i]
			}
			res, err := c.stores.Part(p).Submit(ctx, store.SubmitParams{Tasks: group, NewQueue: c.newQueue})
			for j, i := range idx {
				if j < len(res) {
					out[i] = res[j]
				}
			}
			errs[p] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i, t := range ts {
		if out[i].Created {
			c.link(ctx, t)
		}
	}
	var refused error
	for i, t := range ts {
		if out[i].Err != nil {
			refused = cmp.Or(refused, fmt.Errorf("spec %d: %w", i, out[i].Err))
			ts[i] = nil
			continue
		}
		if out[i].Created {
			c.queues.Store(c.queueIn(t), true)
		}
		if !out[i].Created || len(t.Parents) > 0 {
			var err error
			if ts[i], err = c.Get(ctx, out[i].ID); err != nil {
				return nil, err
			}
		}
	}
	return ts, refused
}

// newQueue reports whether t's queue may be missing from its partition's
// queue set.
func (c *Client) newQueue(t *tasks.Task) bool {
	_, known := c.queues.Load(c.queueIn(t))
	return !known
}

// checkParents returns, per task of ts, an error wrapping
// tasks.ErrInvalid when it names a parent of another partition that has
// no record (its own partition's parents submit.lua checks), unless the
// parent is one of batch, the tasks submitted with it.
func (c *Client) checkParents(ctx context.Context, ts []*tasks.Task, batch map[string]bool) []error {
	errs := make([]error, len(ts))
	if c.space.N() == 1 {
		return errs
	}
	pipe := c.rdb.Pipeline()
	type check struct {
		i   int
		id  string
		cmd *redis.IntCmd
	}
	var checks []check
	for i, t := range ts {
		for _, p := range t.Parents {
			if c.space.Of(p) != c.space.Of(t.ID) && !batch[p] {
				checks = append(checks, check{i, p, pipe.Exists(ctx, c.space.KeysOf(p).Task(p))})
			}
		}
	}
	if len(checks) == 0 {
		return errs
	}
	_, err := pipe.Exec(ctx)
	for _, ch := range checks {
		switch {
		case errs[ch.i] != nil:
		case err != nil:
			errs[ch.i] = fmt.Errorf("check the parents of a task: %w", err)
		case ch.cmd.Val() == 0:
			errs[ch.i] = fmt.Errorf("%w: parent %s not found: never submitted, or finished longer ago than result_ttl", tasks.ErrInvalid, ch.id)
		}
	}
	return errs
}

// link links a task just created to its parents of other partitions
// (store.Stores.Link). One it could not link now, any daemon links within
// seconds: the task is stored, and its submit succeeded.
func (c *Client) link(ctx context.Context, t *tasks.Task) {
	if err := c.stores.Link(ctx, t); err != nil {
		c.cfg.Logger.Warn("could not link a task to its parents in other partitions yet; a daemon will", "id", t.ID, "err", err)
	}
}

// newTask is the record of a new task of a normalized spec. Its times are
// set by submit.lua from Redis's clock: a task due at a time keeps it (or
// now, if that has passed); any other is due its delay after Redis's now.
func newTask(spec tasks.Spec) *tasks.Task {
	t := &tasks.Task{
		ID: ulid.Make().String(), Name: spec.Name, Args: spec.Args, Queue: spec.Queue,
		State: tasks.Scheduled, MaxAttempts: spec.MaxAttempts, Timeout: spec.Timeout, Key: spec.Key,
		Parents: spec.After, OnParentFailure: spec.OnParentFailure,
	}
	if !spec.At.IsZero() {
		t.DueAt = spec.At.UTC().Truncate(time.Millisecond)
	} else {
		t.Delay = spec.In
	}
	return t
}

// Get returns the record of task id, or an error wrapping wire.ErrNotFound.
func (c *Client) Get(ctx context.Context, id string) (*tasks.Task, error) {
	if !tasks.ValidID(id) {
		return nil, fmt.Errorf("task %.80q: %w", id, wire.ErrNotFound)
	}
	return c.st(id).Get(ctx, id)
}

// Cancel cancels a scheduled, waiting or running task and returns its record.
// A running task's handler has its context canceled. Canceling a finished
// task returns its record and an error wrapping wire.ErrFinished.
func (c *Client) Cancel(ctx context.Context, id string) (*tasks.Task, error) {
	if !tasks.ValidID(id) {
		return nil, fmt.Errorf("task %.80q: %w", id, wire.ErrNotFound)
	}
	r, err := c.st(id).Cancel(ctx, store.CancelParams{ID: id})
	if err != nil {
		return nil, err
	}
	t, err := c.st(id).Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !r.Canceled {
		return t, fmt.Errorf("cancel %s: it is %s: %w", id, r.Prev, wire.ErrFinished)
	}
	return t, nil
}

// Retry runs a failed or canceled task again, now, with a fresh set of
// attempts, and returns its record. Its record stops expiring until it
// finishes again. Children that already received its outcome keep it (a
// retry re-runs the task, not its graph), and a task that never ran because
// of a parent's outcome is refused: its parents' outcomes would stop it
// again, so submit it anew. Other states are refused with an error wrapping
// wire.ErrNotRetryable.
func (c *Client) Retry(ctx context.Context, id string) (*tasks.Task, error) {
	if !tasks.ValidID(id) {
		return nil, fmt.Errorf("task %.80q: %w", id, wire.ErrNotFound)
	}
	for range store.MaxKidsTries {
		t, err := c.st(id).Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := Retryable(t); err != nil {
			return t, fmt.Errorf("retry %s: %w", id, err)
		}
		if err := c.claim(ctx); err != nil {
			return nil, err
		}
		retried, err := c.st(id).Retry(ctx, store.RetryParams{Task: t})
		if err != nil {
			return nil, err
		}
		if retried {
			return c.st(id).Get(ctx, id)
		}
		// Its state changed between the read and the script: read again.
	}
	return nil, fmt.Errorf("retry %s: its state kept changing; tried %d times", id, store.MaxKidsTries)
}

// Retryable returns nil when Retry would run t again, else why not, as an
// error wrapping wire.ErrNotRetryable: t is not failed or canceled, or it did
// not run because of its parents' outcomes (deps.Verdict), which would stop
// it again. The API answers it with each record ("retryable"), so the
// dashboard offers Retry only where Retry accepts it.
func Retryable(t *tasks.Task) error {
	if t.State != tasks.Failed && t.State != tasks.Canceled {
		return fmt.Errorf("it is %s; only failed or canceled tasks can be retried: %w", t.State, wire.ErrNotRetryable)
	}
	if run, _, reason := deps.Verdict(t); !run {
		return fmt.Errorf("it did not run because %s, which would stop it again; submit it anew: %w", reason, wire.ErrNotRetryable)
	}
	return nil
}

// Wait blocks until task id has finished and returns its record, or returns
// ctx's error. It listens for the task's done message and, since pub/sub may
// lose one, also re-reads the record every SafetyWait.
func (c *Client) Wait(ctx context.Context, id string) (*tasks.Task, error) {
	if !tasks.ValidID(id) {
		return nil, fmt.Errorf("task %.80q: %w", id, wire.ErrNotFound)
	}
	done, cancel, err := c.events.watch(id)
	if err != nil {
		return nil, err
	}
	defer cancel()
	tick := time.NewTicker(c.cfg.SafetyWait)
	defer tick.Stop()
	for {
		t, err := c.st(id).Get(ctx, id)
		if err != nil || t.State.Finished() {
			return t, err
		}
		select {
		case <-done:
		case <-tick.C:
		case <-ctx.Done():
			return t, ctx.Err()
		}
	}
}
