package scheduler

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// partitioned is a test configuration of a namespace of 4 partitions.
func partitioned() Config {
	return Config{Partitions: 4, Lease: time.Second, SafetyWait: 200 * time.Millisecond, Workers: 4}
}

// inOtherPartition submits specs made by mk until one lands in another
// partition than id's, and returns it; it cancels the others.
func (e *env) inOtherPartition(id string, mk func() tasks.Spec) *tasks.Task {
	e.t.Helper()
	sp, _ := store.NewSpace(defaultNamespace, e.cfg.Partitions)
	for range 200 {
		t := e.submit(mk())
		if sp.Of(t.ID) != sp.Of(id) {
			return t
		}
		_, err := e.client.Cancel(context.Background(), t.ID)
		require.NoError(e.t, err)
	}
	e.t.Fatal("every task landed in one partition")
	return nil
}

func TestTasksSpreadOverThePartitionsAndEveryOneRuns(t *testing.T) {
	t.Parallel()
	e := setup(t, partitioned())
	e.start()
	e.start()
	sp, err := store.NewSpace(defaultNamespace, 4)
	require.NoError(t, err)
	specs := make([]tasks.Spec, 200)
	for i := range specs {
		specs[i] = tasks.Spec{Name: "record"}
	}
	ts, err := e.client.SubmitMany(context.Background(), specs)
	require.NoError(t, err)
	per := map[int]int{}
	for _, task := range ts {
		per[sp.Of(task.ID)]++
		require.Regexp(t, `\.[0-3]$`, task.ID, "the id says its partition")
	}
	require.Len(t, per, 4, "random placement reaches every partition: %v", per)
	for _, task := range ts {
		require.Equal(t, tasks.Succeeded, e.wait(task.ID, 10*time.Second).State)
		require.Equal(t, 1, e.runs.count(task.ID))
	}
	for p := range 4 {
		n, err := e.rdb.ZCard(context.Background(), sp.Part(p).Done(tasks.Succeeded)).Result()
		require.NoError(t, err)
		require.EqualValues(t, per[p], n, "partition %d's finished set holds its tasks", p)
	}
	list, err := e.client.List(context.Background(), wire.ListOptions{Limit: 500})
	require.NoError(t, err)
	require.Len(t, list, 200, "the listing reads every partition")
	st, err := e.client.Stats(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, 200, st.States[tasks.Succeeded])
	require.Len(t, st.Daemons, 2, "both daemons' signs of life are in the namespace's home")
}

// A child whose parents live in two partitions gets both outcomes, in
// its parents' order, whether they finish before or after it is
// submitted.
func TestAChildHearsFromParentsInOtherPartitions(t *testing.T) {
	t.Parallel()
	e := setup(t, partitioned())
	e.start()
	done := e.submit(tasks.Spec{Name: "record", Args: []byte(`"early"`)})
	require.Equal(t, tasks.Succeeded, e.wait(done.ID, 5*time.Second).State)
	gated := e.inOtherPartition(done.ID, func() tasks.Spec { return tasks.Spec{Name: "gated"} })
	first := e.inOtherPartition(done.ID, func() tasks.Spec {
		return tasks.Spec{Name: "record", Args: []byte(`"late"`), In: 300 * time.Millisecond}
	})
	child := e.submit(tasks.Spec{Name: "record", After: []string{first.ID, done.ID, gated.ID}})
	require.Equal(t, tasks.Waiting, child.State)
	close(e.gate)
	got := e.wait(child.ID, 10*time.Second)
	require.Equal(t, tasks.Succeeded, got.State)
	require.Equal(t, 1, e.runs.count(child.ID))
	var ids []string
	for _, o := range got.Outcomes {
		ids = append(ids, o.ID)
		require.Equal(t, tasks.Succeeded, o.State)
	}
	require.Equal(t, []string{first.ID, done.ID, gated.ID}, ids)
	require.JSONEq(t, `"early"`, string(got.Outcomes[1].Result))
	sp, _ := store.NewSpace(defaultNamespace, 4)
	for p := range 4 {
		n, err := e.rdb.ZCard(context.Background(), sp.Part(p).Outbox()).Result()
		require.NoError(t, err)
		require.Zero(t, n, "partition %d's outbox is empty once every edge is delivered", p)
	}
}

// A parent of another partition that is unknown rejects the child, and
// nothing of the child is written.
func TestAnUnknownParentOfAnotherPartitionIsRefused(t *testing.T) {
	t.Parallel()
	e := setup(t, partitioned())
	sp, _ := store.NewSpace(defaultNamespace, 4)
	missing := sp.Tag("01JUNKNOWNPARENTXXXXXXXXXX", 2)
	_, err := e.client.Submit(context.Background(), tasks.Spec{Name: "record", After: []string{sp.Tag("01JOTHERXXXXXXXXXXXXXXXXXX", 1), missing}})
	require.ErrorIs(t, err, tasks.ErrInvalid)
	keys := e.mr.Keys()
	require.Equal(t, []string{"{dueq}:partitions"}, keys, "nothing but the namespace's partitions was written")
}

// dying is a go-redis hook that makes its client die, as if its process
// were killed, right after its n-th call of one script ran: every command
// after fails, so whatever the process meant to do next is left undone.
type dying struct {
	script string
	n      int32
	calls  atomic.Int32
	dead   atomic.Bool
}

var errKilled = errors.New("killed")

func (h *dying) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *dying) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.dead.Load() {
			cmd.SetErr(errKilled)
			return errKilled
		}
		err := next(ctx, cmd)
		h.check([]redis.Cmder{cmd})
		return err
	}
}

func (h *dying) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.dead.Load() {
			for _, c := range cmds {
				c.SetErr(errKilled)
			}
			return errKilled
		}
		err := next(ctx, cmds)
		h.check(cmds)
		return err
	}
}

func (h *dying) check(cmds []redis.Cmder) {
	for _, c := range cmds {
		if a := c.Args(); len(a) > 1 && a[0] == "evalsha" && store.ScriptName(a[1].(string)) == h.script && c.Err() == nil && h.calls.Add(1) >= h.n {
			h.dead.Store(true)
		}
	}
}

// dyingClient is a Redis client of e's server that dies after its n-th
// call of script.
func (e *env) dyingClient(script string, n int32) (*redis.Client, *dying) {
	rdb := redis.NewClient(&redis.Options{Addr: e.mr.Addr()})
	h := &dying{script: script, n: n}
	rdb.AddHook(h)
	e.t.Cleanup(func() { _ = rdb.Close() })
	return rdb, h
}

// A daemon killed between a parent's finish and the delivery of its
// outcome to a child of another partition leaves the delivery recorded in
// the parent's partition; another daemon completes it, and the child gets
// the outcome once.
func TestADeliveryADeadDaemonLeftIsCompletedByAnother(t *testing.T) {
	t.Parallel()
	e := setup(t, partitioned())
	e.start(func(c *Config) { c.Queues = []string{"default"} })
	local := e.submit(tasks.Spec{Name: "gated"})
	remote := e.inOtherPartition(local.ID, func() tasks.Spec { return tasks.Spec{Name: "record", Queue: "doomed-daemon"} })
	child := e.submit(tasks.Spec{Name: "record", After: []string{local.ID, remote.ID}})

	// Its first finish of the parent learns of its children (finish.lua
	// asks for the list); the second writes the outcome.
	rdb, h := e.dyingClient("finish", 2)
	cfg := e.cfg
	cfg.Queues = []string{"doomed-daemon"}
	s, err := New(rdb, e.reg, cfg)
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	require.Eventually(t, h.dead.Load, 5*time.Second, time.Millisecond, "the daemon finished the parent, and died")
	sp, _ := store.NewSpace(defaultNamespace, 4)
	entries, err := e.rdb.ZRange(context.Background(), sp.KeysOf(remote.ID).Outbox(), 0, -1).Result()
	require.NoError(t, err)
	require.Equal(t, []string{"D default " + child.ID + " " + remote.ID}, entries, "the delivery is recorded, not done")

	close(e.gate)
	got := e.wait(child.ID, 20*time.Second) // after store.OutboxGrace
	require.Equal(t, tasks.Succeeded, got.State)
	require.Len(t, got.Outcomes, 2)
	require.Equal(t, 1, e.runs.count(child.ID))
	require.Eventually(t, func() bool {
		n, err := e.rdb.ZCard(context.Background(), sp.KeysOf(remote.ID).Outbox()).Result()
		return err == nil && n == 0
	}, 5*time.Second, 10*time.Millisecond, "the entry is gone once completed")
	require.False(t, e.mr.Exists(sp.KeysOf(remote.ID).OutboxData()), "and its data")
}

// A client killed between writing a child and linking it to its parent
// of another partition leaves the link recorded in the child's partition;
// a daemon completes it, whether the parent finished meanwhile or not.
func TestALinkADeadClientLeftIsCompletedByADaemon(t *testing.T) {
	t.Parallel()
	for _, finishedFirst := range []bool{false, true} {
		e := setup(t, partitioned())
		e.start()
		parent := e.submit(tasks.Spec{Name: "gated"})
		e.waitRun(parent.ID, 5*time.Second)
		if finishedFirst {
			close(e.gate)
			require.Equal(t, tasks.Succeeded, e.wait(parent.ID, 5*time.Second).State)
		}
		rdb, h := e.dyingClient("submit", 1)
		c, err := client.New(rdb, clientConfig(e.cfg))
		require.NoError(t, err)
		sp, _ := store.NewSpace(defaultNamespace, 4)
		var childID string
		for childID == "" || sp.Of(childID) == sp.Of(parent.ID) {
			h.dead.Store(false)
			h.calls.Store(0)
			// A keyed child's partition is its key's: try keys until it is
			// another than its parent's.
			_, err = c.Submit(context.Background(), tasks.Spec{Name: "record", Key: "k" + time.Now().String(), After: []string{parent.ID}})
			require.ErrorIs(t, err, errKilled, "the client died after its submit")
			var ids []string
			for p := range 4 {
				ws, err := e.rdb.ZRange(context.Background(), sp.Part(p).Waiting(), 0, -1).Result()
				require.NoError(t, err)
				ids = append(ids, ws...)
			}
			slices.Sort(ids)
			ids = slices.Compact(ids)
			for _, id := range ids {
				if sp.Of(id) != sp.Of(parent.ID) {
					childID = id
				}
			}
		}
		if !finishedFirst {
			close(e.gate)
		}
		got := e.wait(childID, 20*time.Second) // after store.OutboxGrace
		require.Equal(t, tasks.Succeeded, got.State, "finished first: %v", finishedFirst)
		require.Len(t, got.Outcomes, 1)
		require.Equal(t, parent.ID, got.Outcomes[0].ID)
		require.Equal(t, 1, e.runs.count(childID))
	}
}

// A namespace that holds tasks keeps its number of partitions: a daemon
// or client with another is refused, and says what to do.
func TestChangingThePartitionsOfANamespaceWithTasksIsRefused(t *testing.T) {
	t.Parallel()
	e := setup(t, partitioned())
	e.submit(tasks.Spec{Name: "record", In: time.Hour})
	s, err := New(e.rdb, e.reg, Config{Partitions: 2})
	require.NoError(t, err)
	err = s.Start(context.Background())
	require.ErrorIs(t, err, store.ErrPartitions)
	require.ErrorContains(t, err, `namespace "dueq" has 4 partitions and holds tasks`)
	require.ErrorContains(t, err, "set partitions to 4")
	c, err := client.New(e.rdb, client.Config{})
	require.NoError(t, err)
	_, err = c.Submit(context.Background(), tasks.Spec{Name: "record"})
	require.ErrorIs(t, err, store.ErrPartitions, "a client of one partition is refused too")

	// A namespace with nothing in it takes a new number.
	fresh := setup(t, Config{})
	s, err = New(fresh.rdb, fresh.reg, Config{Partitions: 8})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	require.NoError(t, s.Stop(context.Background()))
	n, err := fresh.rdb.Get(context.Background(), "{dueq}:partitions").Int()
	require.NoError(t, err)
	require.Equal(t, 8, n)
}

// A client of another number of partitions is refused while a daemon of
// the namespace is alive, even before it holds tasks: the task would go
// where no daemon looks.
func TestAClientOfOtherPartitionsIsRefusedWhileDaemonsRun(t *testing.T) {
	t.Parallel()
	e := setup(t, partitioned())
	e.start()
	c, err := client.New(e.rdb, client.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	_, err = c.Submit(context.Background(), tasks.Spec{Name: "record"})
	require.ErrorIs(t, err, store.ErrPartitions)
	require.ErrorContains(t, err, "daemons alive")
	n, err := e.rdb.Get(context.Background(), "{dueq}:partitions").Int()
	require.NoError(t, err)
	require.Equal(t, 4, n, "the namespace keeps its number")
}

// A parent retried and finished again leaves its children with the
// outcome they hold: a child still waiting for another parent (of another
// partition) is not released by the second finish, whichever partition
// the child is in.
func TestARetriedParentDoesNotReleaseAWaitingChildAgain(t *testing.T) {
	t.Parallel()
	for _, local := range []bool{true, false} {
		e := setup(t, partitioned())
		var mu sync.Mutex
		calls := map[string]int{}
		e.reg.Register("flaky", func(ctx context.Context, c *tasks.Call) (any, error) {
			mu.Lock()
			defer mu.Unlock()
			if calls[c.Task.ID]++; calls[c.Task.ID] == 1 {
				return nil, errors.New("first attempt fails")
			}
			return "ok", nil
		})
		e.start()
		p1 := e.submit(tasks.Spec{Name: "flaky"})
		p2 := e.inOtherPartition(p1.ID, func() tasks.Spec { return tasks.Spec{Name: "gated"} })
		e.waitRun(p2.ID, 5*time.Second)
		after := []string{p1.ID, p2.ID} // a child goes with its first parent
		if !local {
			after = []string{p2.ID, p1.ID}
		}
		child := e.submit(tasks.Spec{Name: "record", After: after, OnParentFailure: tasks.PolicyRun})
		require.Equal(t, tasks.Failed, e.wait(p1.ID, 5*time.Second).State)
		_, err := e.client.Retry(context.Background(), p1.ID)
		require.NoError(t, err)
		require.Equal(t, tasks.Succeeded, e.wait(p1.ID, 5*time.Second).State)
		got, err := e.client.Get(context.Background(), child.ID)
		require.NoError(t, err)
		require.Equal(t, tasks.Waiting, got.State, "the child waits for %s (child with the retried parent: %v)", p2.ID, local)
		require.Equal(t, "1", e.mr.HGet(e.space().KeysOf(child.ID).Task(child.ID), "pending"), "one parent is pending")
		close(e.gate)
		got = e.wait(child.ID, 10*time.Second)
		require.Equal(t, tasks.Succeeded, got.State)
		require.Equal(t, tasks.Failed, got.Outcomes[slices.Index(after, p1.ID)].State, "it got the first outcome")
	}
}

// space is the namespace's partitions as e's daemons count them.
func (e *env) space() store.Space {
	sp, err := store.NewSpace(defaultNamespace, max(e.cfg.Partitions, 1))
	require.NoError(e.t, err)
	return sp
}

// skewed is a clock off by a fixed offset.
type skewed struct{ off time.Duration }

func (s skewed) Now() time.Time { return time.Now().Add(s.off) }

// A daemon whose clock is off still shows as alive: its sign of life is
// written by Redis's time as its claims and finishes see it.
func TestADaemonWithASkewedClockShowsAliveWithPartitions(t *testing.T) {
	t.Parallel()
	e := setup(t, partitioned())
	s := e.start(func(c *Config) { c.Clock = skewed{-10 * time.Second} })
	require.Eventually(t, func() bool { return s.Counters().Peeks > 0 }, 5*time.Second, time.Millisecond)
	require.Eventually(t, func() bool {
		ds, err := e.client.Daemons(context.Background())
		return err == nil && len(ds) == 1
	}, 5*time.Second, 20*time.Millisecond, "the daemon is alive")
}

// A Redis that lost the number of partitions (restarted without
// persistence) takes the number of the next client or daemon, while the
// daemons alive run on: a client of theirs goes on submitting.
func TestANamespaceThatLostItsNumberTakesTheNextOne(t *testing.T) {
	t.Parallel()
	e := setup(t, partitioned())
	e.start()
	e.mr.Del("{dueq}:partitions")
	c, err := client.New(e.rdb, clientConfig(e.cfg))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	task, err := c.Submit(context.Background(), tasks.Spec{Name: "record"})
	require.NoError(t, err)
	require.Equal(t, tasks.Succeeded, e.wait(task.ID, 5*time.Second).State)
	n, err := e.rdb.Get(context.Background(), "{dueq}:partitions").Int()
	require.NoError(t, err)
	require.Equal(t, 4, n)
}
