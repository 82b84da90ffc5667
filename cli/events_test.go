package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/api"
	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// daemon is a daemon like setup's with worker loops, whose registry also
// has "flaky" (fails its first run, succeeds after), and whose open event
// streams cut ends, as a dropped connection would.
type daemon struct {
	*env
	cut func()
}

func setupDaemon(t *testing.T) *daemon {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	reg := tasks.NewRegistry()
	tasks.RegisterBuiltins(reg, tasks.BuiltinConfig{})
	var runs atomic.Int32
	reg.Register("flaky", func(context.Context, *tasks.Call) (any, error) {
		if runs.Add(1) == 1 {
			return nil, errors.New("first run fails")
		}
		return "ok", nil
	})
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := scheduler.Config{Workers: 2, Logger: logger}
	s, err := scheduler.New(rdb, reg, cfg)
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	cl, err := client.New(rdb, client.Config{Logger: logger})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cl.Close() })
	srv, err := api.New(cl, reg, nil, api.Config{Addr: "127.0.0.1:0", Logger: logger})
	require.NoError(t, err)

	var (
		mu      sync.Mutex
		streams []context.CancelFunc
	)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/events" {
			ctx, cancel := context.WithCancel(r.Context())
			defer cancel()
			mu.Lock()
			streams = append(streams, cancel)
			mu.Unlock()
			r = r.WithContext(ctx)
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	cut := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, cancel := range streams {
			cancel()
		}
		streams = nil
	}
	return &daemon{env: &env{t: t, mr: mr, url: hs.URL}, cut: cut}
}

// syncBuffer is a bytes.Buffer safe for a command writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// bg is a dueq command running in the background.
type bg struct {
	t           *testing.T
	args        []string
	out, errOut *syncBuffer
	cancel      context.CancelFunc
	code        chan int
	exited      int
	done        bool
}

// background runs dueq against e until it ends, stop is called or the test
// ends.
func (e *env) background(args ...string) *bg {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &bg{t: e.t, args: args, out: &syncBuffer{}, errOut: &syncBuffer{}, cancel: cancel, code: make(chan int, 1)}
	go func() {
		b.code <- run(ctx, append([]string{"--server", e.url}, args...), strings.NewReader(""), b.out, b.errOut, func(string) string { return "" })
	}()
	e.t.Cleanup(func() { b.stop() })
	return b
}

// wait waits for the command to end by itself and returns its exit code.
func (b *bg) wait() int {
	b.t.Helper()
	if !b.done {
		select {
		case b.exited = <-b.code:
			b.done = true
		case <-time.After(20 * time.Second):
			b.t.Fatalf("dueq %v did not end", b.args)
		}
	}
	return b.exited
}

// stop ends the command's context (as Ctrl-C would) and returns its exit
// code.
func (b *bg) stop() int {
	b.t.Helper()
	b.cancel()
	return b.wait()
}

// eventLine is one line of `dueq events`.
var eventLine = regexp.MustCompile(`^(\d\d:\d\d:\d\d\.\d{3}) (\w+) +(\S+) (\S+) (\S+)$`)

// kindsOf returns the kinds of the event lines of task id in out, in order,
// checking the format of every line.
func kindsOf(t *testing.T, out, id string) []string {
	t.Helper()
	var kinds []string
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		m := eventLine.FindStringSubmatch(line)
		require.NotNil(t, m, "line %q", line)
		if m[3] == id {
			require.Equal(t, "sleep", m[4], line)
			require.Equal(t, tasks.DefaultQueue, m[5], line)
			kinds = append(kinds, m[2])
		}
	}
	return kinds
}

// submitUntilSeen submits sleep tasks until out shows one of them queued
// (the daemon's subscription to Redis is live from then on) and returns
// its id.
func submitUntilSeen(t *testing.T, e *env, out *syncBuffer) string {
	t.Helper()
	var ids []string
	var seen string
	require.Eventually(t, func() bool {
		ids = append(ids, e.submit("sleep", `{"ms":1}`))
		for _, id := range ids {
			if strings.Contains(out.String(), " queued    "+id+" ") {
				seen = id
				return true
			}
		}
		return false
	}, 15*time.Second, 20*time.Millisecond)
	return seen
}

func TestEventsPrintsATasksLife(t *testing.T) {
	t.Parallel()
	e := setup(t, options{scheduler: true})
	cmd, cmdJSON := e.background("events"), e.background("events", "--json")
	out, errOut, jsonOut := cmd.out, cmd.errOut, cmdJSON.out
	id := submitUntilSeen(t, e, out)

	want := []string{wire.EventQueued, wire.EventStarted, wire.EventSucceeded}
	require.Eventually(t, func() bool { return len(kindsOf(t, out.String(), id)) == 3 }, 15*time.Second, 5*time.Millisecond, "out: %s", out)
	require.Equal(t, want, kindsOf(t, out.String(), id))
	require.Equal(t, ExitOK, cmd.stop(), "a canceled context (Ctrl-C) exits 0")
	require.Empty(t, errOut.String())

	var kinds []string
	require.Eventually(t, func() bool {
		kinds = nil
		for _, line := range strings.Split(strings.TrimSpace(jsonOut.String()), "\n") {
			var ev wire.Event
			require.NoError(t, json.Unmarshal([]byte(line), &ev), "line %q", line)
			if ev.ID == id {
				require.Equal(t, "sleep", ev.Name)
				require.False(t, ev.At.IsZero())
				kinds = append(kinds, ev.Kind)
			}
		}
		return len(kinds) == 3
	}, 15*time.Second, 5*time.Millisecond)
	require.Equal(t, want, kinds)
	require.Equal(t, ExitOK, cmdJSON.stop())
}

// A dropped stream is noted on stderr, followed by a resync line, and the
// command reconnects.
func TestEventsReconnects(t *testing.T) {
	t.Parallel()
	d := setupDaemon(t)
	cmd := d.background("events")
	out, errOut := cmd.out, cmd.errOut
	submitUntilSeen(t, d.env, out)

	d.cut()
	require.Eventually(t, func() bool { return strings.Contains(errOut.String(), "reconnecting in") }, 10*time.Second, 5*time.Millisecond)
	require.Contains(t, errOut.String(), "dueq: event stream: the connection to the daemon ended")
	require.Eventually(t, func() bool { return regexp.MustCompile(`(?m)^\S+ resync    - - -$`).MatchString(out.String()) }, 10*time.Second, 5*time.Millisecond, "out: %s", out)

	mark := len(out.String())
	var ids []string
	require.Eventually(t, func() bool {
		ids = append(ids, d.submit("sleep", `{"ms":1}`))
		after := out.String()[mark:]
		for _, id := range ids {
			if strings.Contains(after, " succeeded "+id+" ") {
				return true
			}
		}
		return false
	}, 15*time.Second, 20*time.Millisecond, "no events after the reconnect: %s", out)
	require.Equal(t, ExitOK, cmd.stop())
}

func TestEventsNeedsTheToken(t *testing.T) {
	t.Parallel()
	e := setup(t, options{token: "s3cret"})
	code, out, errOut := e.run("events")
	require.Equal(t, ExitError, code)
	require.Empty(t, out)
	require.Contains(t, errOut, "401")
	require.Contains(t, errOut, "--token")

	code, _, errOut = e.run("events", "extra")
	require.Equal(t, ExitError, code)
	require.Contains(t, errOut, "events takes no arguments")
}
