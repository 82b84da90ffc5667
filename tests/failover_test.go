package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/deps"
	"github.com/dueq/dueq/tasks"
)

// hitServer counts the requests of the http handler per path, each held a
// little, so that a load lasts long enough for a failover in its middle.
type hitServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
	all  atomic.Int64
}

func newHitServer(t *testing.T, hold time.Duration) *hitServer {
	s := &hitServer{hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(hold)
		s.mu.Lock()
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		s.all.Add(1)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *hitServer) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// killPrimary kills the primary that holds the namespace's home: on a
// cluster, the one serving the slot of {dueq} (the daemon set, and about
// a third of the partitions); with Sentinel, the one the sentinels name.
// It returns its port.
func (r *redisServer) killPrimary(t *testing.T, rdb redis.UniversalClient) string {
	t.Helper()
	var port string
	switch r.topo {
	case cluster:
		node, err := rdb.(*redis.ClusterClient).MasterForKey(context.Background(), "{dueq}:t:x")
		require.NoError(t, err)
		_, port, _ = net.SplitHostPort(node.Options().Addr)
	case sentinel:
		port = r.script(t, "primary", r.dir)
	default:
		t.Fatal("no primary to fail over from on one server")
	}
	r.script(t, "kill", r.dir, port)
	return port
}

// revive starts the server killPrimary killed again, once another took its
// place, as an operator would: it rejoins as a replica, so the primary has
// one again for redis.wait_replicas to wait for.
func (r *redisServer) revive(t *testing.T, rdb redis.UniversalClient, port string) {
	t.Helper()
	require.Eventually(t, func() bool {
		switch r.topo {
		case cluster:
			cc := rdb.(*redis.ClusterClient)
			cc.ReloadState(context.Background())
			node, err := cc.MasterForKey(context.Background(), "{dueq}:t:x")
			return err == nil && !strings.HasSuffix(node.Options().Addr, ":"+port)
		default:
			out, err := exec.Command("bash", r.topo.scriptPath(), "primary", r.dir).Output()
			return err == nil && strings.TrimSpace(string(out)) != port
		}
	}, 60*time.Second, 100*time.Millisecond, "a replica takes the place of the primary on port %s", port)
	r.script(t, "revive", r.dir, port)
}

// A Redis primary killed in the middle of a load, and its replica promoted
// (a cluster's failover, or Sentinel's): 2,000 tasks, among them a 500-node
// workflow and a 300-task graph submitted task by task while the primary
// fails, all end succeeded, none lost; and no task ran twice under one
// claim: every run beyond the first is a lease recovery, which its record
// counts (a failover can lose a claim or a finish the old primary had not
// passed on; with redis.wait_replicas it cannot lose one a loop acted on,
// and a claim whose reply it cut off is recovered when its lease expires).
func TestAFailoverMidLoadLosesNoTaskAndRunsNoneTwiceUnderOneClaim(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	if r.topo == single {
		t.Skip("a failover needs replicas: run with DUEQ_TEST_REDIS=cluster or sentinel (make test-cluster, make test-sentinel)")
	}
	srv := newHitServer(t, 15*time.Millisecond)
	host := strings.TrimPrefix(srv.URL, "http://")
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, `redis: {wait_replicas: 1}
lease: 2s
workers: 4
handlers:
  http: {allow: [%q]}
`, host), 0o600))
	startDaemon(t, r.URL, "--config", cfg)
	startDaemon(t, r.URL, "--config", cfg)
	rdb := r.client(t)
	c, err := client.New(rdb, client.Config{WaitReplicas: 1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	hit := func(label string) tasks.Spec {
		args, _ := json.Marshal(tasks.HTTPArgs{URL: srv.URL + "/" + label})
		return tasks.Spec{Name: "http", Args: args, MaxAttempts: 1}
	}

	var mu sync.Mutex
	ids := map[string]string{} // label → task id
	record := func(label, id string) {
		mu.Lock()
		ids[label] = id
		mu.Unlock()
	}

	// The workflow goes first, whole: a chain of fan-outs and fan-ins.
	w := &deps.Workflow{}
	for i := range 500 {
		n := deps.Node{Name: fmt.Sprintf("n%d", i), Spec: hit(fmt.Sprintf("w%d", i))}
		if i > 0 {
			n.After = append(n.After, fmt.Sprintf("n%d", (i-1)/4))
		}
		w.Nodes = append(w.Nodes, n)
	}
	sw, err := c.SubmitWorkflow(ctx, w)
	require.NoError(t, err)
	for i := range 500 {
		record(fmt.Sprintf("w%d", i), sw.Tasks[fmt.Sprintf("n%d", i)])
	}

	// The rest is submitted while the primary fails, each task with an
	// idempotency key so that a submit the failover interrupted is sent
	// again safely, until it is answered.
	submit := func(spec tasks.Spec, label string) (string, bool) {
		spec.Key = "failover-" + label
		deadline := time.Now().Add(60 * time.Second)
		for {
			task, err := c.Submit(ctx, spec)
			if err == nil {
				record(label, task.ID)
				return task.ID, true
			}
			if time.Now().After(deadline) {
				t.Errorf("submitting %s: %v", label, err)
				return "", false
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { // the graph: each task after one or two earlier ones
		var graph []string
		for i := range 300 {
			spec := hit(fmt.Sprintf("g%d", i))
			if i > 0 {
				spec.After = append(spec.After, graph[rand.IntN(len(graph))])
				if p := graph[rand.IntN(len(graph))]; i > 1 && p != spec.After[0] {
					spec.After = append(spec.After, p)
				}
			}
			id, ok := submit(spec, fmt.Sprintf("g%d", i))
			if !ok {
				return
			}
			graph = append(graph, id)
			time.Sleep(10 * time.Millisecond)
		}
	})
	wg.Go(func() { // independent tasks
		for i := range 1200 {
			if _, ok := submit(hit(fmt.Sprintf("i%d", i)), fmt.Sprintf("i%d", i)); !ok {
				return
			}
			if i%10 == 0 {
				time.Sleep(20 * time.Millisecond)
			}
		}
	})

	require.Eventually(t, func() bool { return srv.all.Load() >= 400 }, 60*time.Second, 10*time.Millisecond, "the load gets going")
	killed := r.killPrimary(t, rdb)
	t.Logf("killed the primary on port %s after %d runs", killed, srv.all.Load())
	r.revive(t, rdb, killed)
	t.Logf("a replica took over, and the old primary rejoined as its replica, after %d runs", srv.all.Load())
	wg.Wait()
	require.False(t, t.Failed(), "every submit is answered")
	require.Len(t, ids, 2000)

	// Every task ends succeeded.
	var pending []string
	require.Eventually(t, func() bool {
		pending = pending[:0]
		for label, id := range ids {
			task, err := c.Get(ctx, id)
			if err != nil || task.State != tasks.Succeeded {
				pending = append(pending, label)
			}
		}
		return len(pending) == 0
	}, 120*time.Second, 500*time.Millisecond, "every task succeeds")

	recovered := 0
	for label, id := range ids {
		task, err := c.Get(ctx, id)
		require.NoError(t, err)
		// A recovery need not mean a second run: a claim whose reply the
		// failover cut off ran nowhere, and its lease expired.
		runs := srv.count("/" + label)
		require.GreaterOrEqual(t, runs, 1, "task %s (%s) ran", label, id)
		require.LessOrEqual(t, runs, 1+task.Recoveries, "task %s (%s) ran %d times with %d lease recoveries: a run beyond the first must be a recovery", label, id, runs, task.Recoveries)
		recovered += task.Recoveries
	}
	t.Logf("%d tasks, %d runs, %d of them lease recoveries", len(ids), srv.all.Load(), recovered)
}
