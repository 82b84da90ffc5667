package cli

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/testutil"
)

// deadServer returns the URL of a loopback port nothing listens on.
func deadServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr
}

// requireExit runs dueq with args and checks its exit code, that stdout is
// empty and that stderr says "dueq: ..." containing want.
func requireExit(t *testing.T, getenv func(string) string, code int, want string, args ...string) {
	t.Helper()
	got, out, errOut := runWith(getenv, args...)
	require.Equal(t, code, got, "dueq %s: %s", strings.Join(args, " "), errOut)
	require.Empty(t, out, "dueq %s", strings.Join(args, " "))
	require.True(t, strings.HasPrefix(errOut, "dueq: "), "dueq %s: %q", strings.Join(args, " "), errOut)
	require.Contains(t, errOut, want, "dueq %s", strings.Join(args, " "))
}

// clientCommands is one valid call of each command that talks to a
// daemon, with a task id where it needs one.
func clientCommands(t *testing.T) [][]string {
	flow := writeFile(t, "flow.yaml", "nodes:\n- {name: a, task: echo}\n")
	const id = "01NOSUCHTASK0000000000000"
	return [][]string{
		{"submit", "echo"},
		{"submit", "echo", "--wait"},
		{"submit", "echo", "--every", "1h"},
		{"workflow", flow},
		{"workflow", flow, "--wait"},
		{"status", id},
		{"status", "SNOSUCHSCHEDULE"},
		{"wait", id},
		{"wait", id, id + "1"},
		{"cancel", id},
		{"cancel", "SNOSUCHSCHEDULE"},
		{"retry", id},
		{"list"},
		{"schedules"},
		{"stats"},
		{"events"},
	}
}

// Every client command exits 2 when the daemon rejects the request: here a
// daemon with a token, called without it (401).
func TestEveryCommandExits2WhenTheServerRejectsTheRequest(t *testing.T) {
	t.Parallel()
	e := setup(t, options{token: "s3cret"})
	none := func(string) string { return "" }
	for _, args := range clientCommands(t) {
		requireExit(t, none, ExitError, "401", append([]string{"--server", e.url}, args...)...)
	}
}

// The daemon's other rejections (400, 404, 409) exit 2 too, whatever the
// command: only a task that ended failed or canceled exits 1.
func TestRejectedRequestsExit2(t *testing.T) {
	t.Parallel()
	e := setup(t, options{scheduler: true})
	const unknown = "01NOSUCHTASK0000000000000"
	done := e.submit("echo")
	code, _, errOut := e.run("wait", done)
	require.Equal(t, ExitOK, code, errOut)
	unknownHandler := writeFile(t, "flow.yaml", "nodes:\n- {name: a, task: nosuch}\n")
	for _, c := range []struct {
		want string
		args []string
	}{
		{"unknown handler \"nosuch\"", []string{"submit", "nosuch"}},                         // 400
		{"unknown handler \"nosuch\"", []string{"submit", "nosuch", "--wait"}},               // 400
		{"unknown handler \"nosuch\"", []string{"submit", "nosuch", "--cron", "@hourly"}},    // 400
		{"parent " + unknown + " not found", []string{"submit", "echo", "--after", unknown}}, // 400
		{"node a: unknown handler \"nosuch\"", []string{"workflow", unknownHandler}},         // 400
		{"limit \"10001\"", []string{"list", "--limit", "10001"}},                            // 400
		{"404", []string{"status", unknown}},                                                 // 404
		{"404", []string{"wait", unknown}},                                                   // 404
		{"404", []string{"wait", done, unknown}},                                             // 404
		{"404", []string{"cancel", unknown}},                                                 // 404
		{"404", []string{"retry", unknown}},                                                  // 404
		{"409", []string{"cancel", done}},                                                    // 409
		{"409", []string{"retry", done}},                                                     // 409
	} {
		requireExit(t, func(string) string { return "" }, ExitError, c.want, append([]string{"--server", e.url}, c.args...)...)
	}
}

// Every client command exits 2 when no daemon answers at --server, and
// says to start one.
func TestEveryCommandExits2WhenTheServerIsUnreachable(t *testing.T) {
	t.Parallel()
	dead := deadServer(t)
	none := func(string) string { return "" }
	for _, args := range clientCommands(t) {
		requireExit(t, none, ExitError, "dueq serve", append([]string{"--server", dead}, args...)...)
	}
}

// Bad usage exits 2, for every command, without contacting the server.
func TestEveryCommandExits2OnBadUsage(t *testing.T) {
	t.Parallel()
	dead := deadServer(t)
	none := func(string) string { return "" }
	for _, c := range []struct {
		want string
		args []string
	}{
		{"submit takes", []string{"submit"}},
		{"unknown flag: --bogus", []string{"submit", "echo", "--bogus"}},
		{"workflow takes", []string{"workflow"}},
		{"status takes", []string{"status"}},
		{"status takes", []string{"status", "a", "b"}},
		{"wait takes", []string{"wait"}},
		{"--timeout", []string{"wait", "x", "--timeout", "soon"}},
		{"cancel takes", []string{"cancel"}},
		{"retry takes", []string{"retry", "a", "b"}},
		{"list takes", []string{"list", "extra"}},
		{"unknown state", []string{"list", "--state", "done"}},
		{"schedules takes", []string{"schedules", "extra"}},
		{"stats takes", []string{"stats", "extra"}},
		{"events takes", []string{"events", "extra"}},
		{"unknown flag: --bogus", []string{"events", "--bogus"}},
		{"serve takes", []string{"serve", "extra"}},
		{"--workers", []string{"serve", "--workers", "many"}},
		{"bench takes", []string{"bench", "extra"}},
		{"--redis is required", []string{"bench"}},
		{"version takes", []string{"version", "extra"}},
		{"unknown command", []string{"frobnicate"}},
		{"unknown flag: --bogus", []string{"--bogus"}},
	} {
		requireExit(t, none, ExitError, c.want, append([]string{"--server", dead}, c.args...)...)
	}
}

// serve and bench exit 2 when their Redis cannot be reached.
func TestServeAndBenchExit2WhenRedisIsUnreachable(t *testing.T) {
	t.Parallel()
	none := func(string) string { return "" }
	redisURL := "redis" + strings.TrimPrefix(deadServer(t), "http")
	// The Redis client logs its dial failures from its own goroutines, on
	// the same stderr: a synchronized buffer.
	var out, errOut testutil.SyncBuffer
	code := run(context.Background(), []string{"serve", "--redis", redisURL, "--http", "127.0.0.1:0"}, strings.NewReader(""), &out, &errOut, none)
	require.Equal(t, ExitError, code, errOut.String())
	require.Empty(t, out.String())
	require.Contains(t, errOut.String(), "dueq: cannot reach Redis at "+redisURL) // after the daemon's log lines
	requireExit(t, none, ExitError, "bench: flush", "bench", "--redis", redisURL, "--mode", "idle")
}
