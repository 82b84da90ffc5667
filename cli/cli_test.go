package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/api"
	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// env is an API server backed by miniredis, and a way to run dueq against it.
type env struct {
	t   *testing.T
	mr  *miniredis.Miniredis
	url string
}

type options struct {
	scheduler bool   // start worker loops
	token     string // the API's token
}

// setup starts miniredis, the API behind an httptest server and, when
// o.scheduler, a scheduler with the built-in handlers plus "fail", which
// always fails: with "boom", or with its args' "error" when given.
func setup(t *testing.T, o options) *env {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	reg := tasks.NewRegistry()
	tasks.RegisterBuiltins(reg, tasks.BuiltinConfig{})
	reg.Register("fail", func(_ context.Context, c *tasks.Call) (any, error) {
		var args struct{ Error string }
		if c.Bind(&args) == nil && args.Error != "" {
			return nil, errors.New(args.Error)
		}
		return nil, errors.New("boom")
	})
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := scheduler.Config{Workers: 2, Logger: logger}
	if o.scheduler {
		s, err := scheduler.New(rdb, reg, cfg)
		require.NoError(t, err)
		require.NoError(t, s.Start(context.Background()))
		t.Cleanup(func() { _ = s.Stop(context.Background()) })
	}
	cl, err := client.New(rdb, client.Config{Logger: logger})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cl.Close() })
	srv, err := api.New(cl, reg, nil, api.Config{Addr: "127.0.0.1:0", Token: o.token, Logger: logger})
	require.NoError(t, err)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	t.Cleanup(func() { _ = srv.Stop(context.Background()) }) // ends long polls before hs.Close
	return &env{t: t, mr: mr, url: hs.URL}
}

// run runs dueq with --server pointing at e and returns the exit code and
// output. The environment is empty.
func (e *env) run(args ...string) (code int, stdout, stderr string) {
	e.t.Helper()
	return runWith(func(string) string { return "" }, append([]string{"--server", e.url}, args...)...)
}

func runWith(getenv func(string) string, args ...string) (code int, stdout, stderr string) {
	return runStdin(getenv, "", args...)
}

// runStdin runs dueq with stdin reading from in.
func runStdin(getenv func(string) string, in string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(in), &out, &errb, getenv)
	return code, out.String(), errb.String()
}

// submit submits a task and returns its id.
func (e *env) submit(args ...string) string {
	e.t.Helper()
	code, out, errOut := e.run(append([]string{"submit"}, args...)...)
	require.Equal(e.t, ExitOK, code, errOut)
	id := strings.TrimSpace(out)
	require.NotEmpty(e.t, id)
	require.NotContains(e.t, id, "\n")
	return id
}

func TestSubmitWaitPrintsResult(t *testing.T) {
	t.Parallel()
	e := setup(t, options{scheduler: true})
	code, out, errOut := e.run("submit", "echo", `{"a":1}`, "--wait")
	require.Equal(t, ExitOK, code, errOut)
	var result struct {
		Args json.RawMessage `json:"args"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &result), out)
	require.JSONEq(t, `{"a":1}`, string(result.Args))
	require.Empty(t, errOut)

	code, out, errOut = e.run("submit", "echo", `{"b":2}`, "--wait", "--json")
	require.Equal(t, ExitOK, code, errOut)
	var rec tasks.Task
	require.NoError(t, json.Unmarshal([]byte(out), &rec), out)
	require.Equal(t, tasks.Succeeded, rec.State)
	require.JSONEq(t, `{"args":{"b":2},"parents":[]}`, string(rec.Result))
}

func TestSubmitStatusWait(t *testing.T) {
	t.Parallel()
	e := setup(t, options{scheduler: true})
	id := e.submit("echo", `{"x":"y"}`, "--queue", "default", "--max-attempts", "2", "--timeout", "1m")

	code, out, errOut := e.run("wait", id, "--timeout", "30s")
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, out, `"x":"y"`)

	code, out, errOut = e.run("status", id)
	require.Equal(t, ExitOK, code, errOut)
	for _, want := range []string{"id:        " + id, "name:      echo", "state:     succeeded", "queue:     default", "attempts:  1 of 2", "timeout:   1m0s", `result:    {"args":{"x":"y"}`} {
		require.Contains(t, out, want)
	}

	code, out, errOut = e.run("status", id, "--json")
	require.Equal(t, ExitOK, code, errOut)
	var rec tasks.Task
	require.NoError(t, json.Unmarshal([]byte(out), &rec))
	require.Equal(t, id, rec.ID)
	require.Equal(t, time.Minute, rec.Timeout)
}

func TestSubmitJSONAndKey(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	code, out, errOut := e.run("submit", "echo", "--json", "--key", "k1", "--in", "1h")
	require.Equal(t, ExitOK, code, errOut)
	var rec tasks.Task
	require.NoError(t, json.Unmarshal([]byte(out), &rec))
	require.Equal(t, tasks.Scheduled, rec.State)
	require.Equal(t, "k1", rec.Key)
	require.JSONEq(t, `{}`, string(rec.Args))
	require.Equal(t, rec.ID, e.submit("echo", `{"other":true}`, "--key", "k1"), "the same key returns the first task")

	at := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	code, out, errOut = e.run("submit", "echo", "--json", "--at", at.Format(time.RFC3339))
	require.Equal(t, ExitOK, code, errOut)
	require.NoError(t, json.Unmarshal([]byte(out), &rec))
	require.True(t, rec.DueAt.Equal(at), "due %s, want %s", rec.DueAt, at)
}

func TestWaitExitCodes(t *testing.T) {
	t.Parallel()
	e := setup(t, options{scheduler: true})

	ok := e.submit("echo", `{"n":1}`)
	code, out, _ := e.run("wait", ok)
	require.Equal(t, ExitOK, code)
	require.Contains(t, out, `"n":1`)

	failed := e.submit("fail")
	code, _, errOut := e.run("wait", failed)
	require.Equal(t, ExitFailed, code)
	require.Contains(t, errOut, "dueq: task "+failed+" failed")
	require.Contains(t, errOut, "boom")

	code, _, errOut = e.run("submit", "fail", "--wait")
	require.Equal(t, ExitFailed, code)
	require.Contains(t, errOut, "boom")

	later := e.submit("echo", "--in", "1h")
	code, out, errOut = e.run("wait", later, "--timeout", "50ms")
	require.Equal(t, ExitError, code)
	require.Empty(t, out)
	require.Contains(t, errOut, "still scheduled")

	code, out, errOut = e.run("cancel", later)
	require.Equal(t, ExitOK, code, errOut)
	require.Equal(t, later+" canceled\n", out)
	code, _, errOut = e.run("wait", later)
	require.Equal(t, ExitFailed, code)
	require.Contains(t, errOut, "was canceled")

	code, _, errOut = e.run("cancel", later)
	require.Equal(t, ExitError, code, "canceling a finished task is refused")
	require.Contains(t, errOut, "409")

	code, _, errOut = e.run("wait", "01NOSUCHTASK0000000000000")
	require.Equal(t, ExitError, code, "wait exits 2 on any error")
	require.Contains(t, errOut, "404")
}

// Bad input exits non-zero with a message and writes nothing to Redis.
func TestBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	e := setup(t, options{scheduler: true}) // a live daemon, whose handlers decide
	before := e.mr.Keys()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"submit", "echo", `{a:1}`}, ExitError, "not valid JSON"},
		{[]string{"submit", "echo", `{"a":1`}, ExitError, "not valid JSON"},
		{[]string{"submit", "echo", "--in", "5x"}, ExitError, `--in "5x" is not a duration`},
		{[]string{"submit", "echo", "--in", "-5s"}, ExitError, "--in -5s is negative"},
		{[]string{"submit", "echo", "--timeout", "soon"}, ExitError, "--timeout"},
		{[]string{"submit", "echo", "--in", "5s", "--at", "2030-01-02T15:04:05Z"}, ExitError, "--in and --at"},
		{[]string{"submit", "echo", "--at", "tomorrow"}, ExitError, "RFC 3339"},
		{[]string{"submit", "echo", "--max-attempts", "-1"}, ExitError, "--max-attempts"},
		{[]string{"submit", "echo", "--max-attempts", "many"}, ExitError, "--max-attempts"},
		{[]string{"submit", "echo", "--queue", "no spaces"}, ExitError, "queue"},
		{[]string{"submit", "no spaces"}, ExitError, "name"},
		{[]string{"submit"}, ExitError, "submit takes"},
		{[]string{"submit", "echo", "{}", "extra"}, ExitError, "submit takes"},
		{[]string{"submit", "echo", "--bogus"}, ExitError, "unknown flag"},
		{[]string{"submit", "nosuch"}, ExitError, "unknown handler"},
		{[]string{"submit", "echo", "--after", "a b"}, ExitError, `--after "a b" is not a task id`},
		{[]string{"submit", "echo", "--after", "01NOSUCHTASK0000000000000", "--after", "01NOSUCHTASK0000000000000"}, ExitError, "--after 01NOSUCHTASK0000000000000 is given twice"},
		{[]string{"submit", "echo", "--on-parent-failure", "maybe"}, ExitError, `--on-parent-failure "maybe": use fail, run or skip`},
		{[]string{"submit", "echo", "--after", "01NOSUCHTASK0000000000000"}, ExitError, "parent 01NOSUCHTASK0000000000000 not found"},
		{[]string{"workflow"}, ExitError, "workflow takes one file name"},
		{[]string{"workflow", "/no/such/flow.yaml"}, ExitError, "no such file"},
		{[]string{"submit", "shell", `{"cmd":["ls"]}`}, ExitError, "handlers.shell.allow"},
		{[]string{"status", "01NOSUCHTASK0000000000000"}, ExitError, "404"},
		{[]string{"cancel", "01NOSUCHTASK0000000000000"}, ExitError, "404"},
		{[]string{"wait", "01NOSUCHTASK0000000000000"}, ExitError, "404"},
		{[]string{"wait", "x", "--timeout", "soon"}, ExitError, "--timeout"},
		{[]string{"wait", "x", "--timeout", "-1s"}, ExitError, "negative"},
		{[]string{"submit", "echo", "--every", "5s", "--cron", "@hourly"}, ExitError, "--every and --cron both given"},
		{[]string{"submit", "echo", "--every", "soon"}, ExitError, `--every "soon" is not a duration`},
		{[]string{"submit", "echo", "--every", "-5s"}, ExitError, "--every -5s: give a positive interval"},
		{[]string{"submit", "echo", "--every", "1ms"}, ExitError, "--every 1ms is too short: use 100ms or more"},
		{[]string{"submit", "echo", "--cron", "61 * * * *"}, ExitError, `--cron: cron "61 * * * *"`},
		{[]string{"submit", "echo", "--cron", "TZ=Europe/Berlin"}, ExitError, "--cron"},
		{[]string{"submit", "echo", "--cron", "CRON_TZ=Mars/Olympus 0 3 * * *"}, ExitError, "Mars/Olympus"},
		{[]string{"submit", "echo", "--cron", " "}, ExitError, "--cron is blank"},
		{[]string{"submit", "echo", "--every", "5s", "--in", "1m"}, ExitError, "--in does not apply to recurring tasks"},
		{[]string{"submit", "echo", "--cron", "@hourly", "--at", "2030-01-02T15:04:05Z"}, ExitError, "--at does not apply"},
		{[]string{"submit", "echo", "--every", "5s", "--after", "01NOSUCHTASK0000000000000"}, ExitError, "--after does not apply"},
		{[]string{"submit", "echo", "--every", "5s", "--on-parent-failure", "run"}, ExitError, "--on-parent-failure does not apply"},
		{[]string{"submit", "echo", "--every", "5s", "--key", "k"}, ExitError, "--key does not apply"},
		{[]string{"submit", "echo", "--every", "5s", "--wait"}, ExitError, "--wait with --every or --cron"},
		{[]string{"submit", "echo", "--every", "5s", "--misfire", "always"}, ExitError, `--misfire "always": use run_once or skip`},
		{[]string{"submit", "echo", "--misfire", "skip"}, ExitError, "--misfire applies only to recurring tasks"},
		{[]string{"submit", "echo", "--every", "5s", "--timeout", "soon"}, ExitError, "--timeout"},
		{[]string{"submit", "echo", "--every", "5s", "--max-attempts", "-1"}, ExitError, "--max-attempts"},
		{[]string{"submit", "echo", "--every", "5s", "--queue", "no spaces"}, ExitError, "queue"},
		{[]string{"submit", "nosuch", "--every", "5s"}, ExitError, "unknown handler"},
		{[]string{"status", "SNOSUCHSCHEDULE"}, ExitError, "404"},
		{[]string{"cancel", "SNOSUCHSCHEDULE"}, ExitError, "404"},
		{[]string{"wait", "SNOSUCHSCHEDULE"}, ExitError, "is a schedule, which never finishes"},
		{[]string{"schedules", "extra"}, ExitError, "schedules takes no arguments"},
		{[]string{"list", "--state", "done"}, ExitError, "unknown state"},
		{[]string{"list", "--limit", "-1"}, ExitError, "--limit"},
		{[]string{"frobnicate"}, ExitError, "unknown command"},
	} {
		code, out, errOut := e.run(tc.args...)
		require.Equal(t, tc.code, code, "%v: %s", tc.args, errOut)
		require.Empty(t, out, tc.args)
		require.True(t, strings.HasPrefix(errOut, "dueq: "), "%v: %q", tc.args, errOut)
		require.Contains(t, errOut, tc.want, tc.args)
		require.Equal(t, before, e.mr.Keys(), "%v wrote to Redis", tc.args)
	}
	e.submit("echo")
	require.NotEqual(t, before, e.mr.Keys(), "a good submit writes")
}

func TestListAndStats(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	a := e.submit("echo", "--in", "1h")
	b := e.submit("sleep", `{"ms":1}`, "--in", "2h", "--queue", "slow")

	code, out, errOut := e.run("list")
	require.Equal(t, ExitOK, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3)
	require.Equal(t, []string{"ID", "NAME", "STATE", "QUEUE", "DUE"}, strings.Fields(lines[0]))
	require.Equal(t, []string{a, "echo", "scheduled", "default"}, strings.Fields(lines[1])[:4])
	require.Equal(t, []string{b, "sleep", "scheduled", "slow"}, strings.Fields(lines[2])[:4])

	code, out, errOut = e.run("list", "--name", "sleep", "--state", "scheduled", "--limit", "5", "--json")
	require.Equal(t, ExitOK, code, errOut)
	var list []tasks.Task
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	require.Len(t, list, 1)
	require.Equal(t, b, list[0].ID)

	code, out, errOut = e.run("list", "--state", "failed", "--json")
	require.Equal(t, ExitOK, code, errOut)
	require.JSONEq(t, "[]", out)

	code, out, errOut = e.run("stats", "--json")
	require.Equal(t, ExitOK, code, errOut)
	var st wire.Stats
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.EqualValues(t, 2, st.States[tasks.Scheduled])
	require.EqualValues(t, 1, st.Queues["slow"].Scheduled)

	code, out, errOut = e.run("stats")
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, out, "scheduled  2")
	require.Regexp(t, `slow\s+1\s+0`, out)
	require.Contains(t, out, "daemons alive: 0")
}

// dueq list shows the error of failed tasks (on one line, cut to fit the
// line) instead of leaving them to --json, and the finished time for a
// finished state; --queue lists one queue.
func TestListShowsErrorsAndFiltersByQueue(t *testing.T) {
	t.Parallel()
	e := setup(t, options{scheduler: true})
	long := "connect to db.internal:5432 failed\n\tafter 3 tries: " + strings.Repeat("timeout; ", 30) + "giving up"
	args, err := json.Marshal(map[string]string{"error": long})
	require.NoError(t, err)
	// One after the other, so that they finish in this order.
	finished := func(args ...string) string {
		id := e.submit(args...)
		_, _, _ = e.run("wait", id)
		return id
	}
	failedLong := finished("fail", string(args))
	failedShort := finished("fail")
	ok := finished("echo")
	mail := e.submit("echo", "--in", "1h", "--queue", "mail")

	code, out, errOut := e.run("list", "--state", "failed")
	require.Equal(t, ExitOK, code, errOut)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 3, out)
	require.Equal(t, []string{"ID", "NAME", "STATE", "QUEUE", "FINISHED", "ERROR"}, strings.Fields(lines[0]))
	require.Equal(t, []string{failedShort, "fail", "failed", "default"}, strings.Fields(lines[1])[:4], "newest first")
	require.True(t, strings.HasSuffix(lines[1], "  boom"), lines[1])
	require.Equal(t, failedLong, strings.Fields(lines[2])[0])
	require.Contains(t, lines[2], "  connect to db.internal:5432 failed after", "one line")
	require.True(t, strings.HasSuffix(lines[2], "..."), "cut: %q", lines[2])
	for _, l := range lines {
		require.LessOrEqual(t, utf8.RuneCountInString(l), 120, "fits 120 columns when stdout is no terminal: %q", l)
	}

	code, out, errOut = runWith(func(k string) string { return map[string]string{"COLUMNS": "100"}[k] }, "--server", e.url, "list", "--state", "failed")
	require.Equal(t, ExitOK, code, errOut)
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		require.LessOrEqual(t, utf8.RuneCountInString(l), 100, "fits $COLUMNS: %q", l)
	}

	code, out, errOut = e.run("list")
	require.Equal(t, ExitOK, code, errOut)
	lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Equal(t, []string{"ID", "NAME", "STATE", "QUEUE", "DUE", "ERROR"}, strings.Fields(lines[0]), "a mixed list has the due time, and errors")
	require.Regexp(t, `^`+ok+`\s+echo\s+succeeded\s+default\s+\S+\s+-$`, lines[2], "no error: -")

	code, out, errOut = e.run("list", "--queue", "mail")
	require.Equal(t, ExitOK, code, errOut)
	lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 2, out)
	require.Equal(t, []string{"ID", "NAME", "STATE", "QUEUE", "DUE"}, strings.Fields(lines[0]), "no error, no ERROR column")
	require.Equal(t, []string{mail, "echo", "scheduled", "mail"}, strings.Fields(lines[1])[:4])

	code, out, errOut = e.run("list", "--queue", "default", "--state", "failed", "--name", "fail", "--limit", "1", "--json")
	require.Equal(t, ExitOK, code, errOut)
	var list []tasks.Task
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	require.Len(t, list, 1)
	require.Equal(t, failedShort, list[0].ID)

	code, out, errOut = e.run("list", "--queue", "nosuch")
	require.Equal(t, ExitOK, code, errOut)
	require.Equal(t, "ID  NAME  STATE  QUEUE  DUE\n", out)

	code, out, errOut = runWith(func(string) string { return "" }, "--server", "http://127.0.0.1:1", "list", "--queue", "no spaces")
	require.Equal(t, ExitError, code)
	require.Empty(t, out)
	require.Contains(t, errOut, `dueq: --queue "no spaces": a queue name is 1-64 letters, digits or _.-`, "checked before contacting the daemon")
}

func TestListCellsAreOneLineAndCut(t *testing.T) {
	t.Parallel()
	require.Equal(t, "a b c", oneLine("a\n\tb \x1b c\r\n"))
	require.Equal(t, "-", oneLine(" \n"))
	require.Equal(t, "abcdef", cut("abcdef", 6))
	require.Equal(t, "abc...", cut("abcdefg", 6))
	require.Equal(t, "ééé...", cut("éééééééé", 6), "runes, not bytes")
}

func TestUnreachableServer(t *testing.T) {
	t.Parallel()
	code, out, errOut := runWith(func(string) string { return "" }, "--server", "http://127.0.0.1:1", "submit", "echo")
	require.Equal(t, ExitError, code)
	require.Empty(t, out)
	require.Contains(t, errOut, "dueq: ")
	require.Contains(t, errOut, "dueq serve")
}

func TestServerAndTokenFromEnvironment(t *testing.T) {
	t.Parallel()
	e := setup(t, options{token: "s3cret"})
	env := map[string]string{"DUEQ_SERVER": e.url}
	getenv := func(k string) string { return env[k] }

	code, _, errOut := runWith(getenv, "submit", "echo")
	require.Equal(t, ExitError, code)
	require.Contains(t, errOut, "401")
	require.Contains(t, errOut, "--token")

	code, out, errOut := runWith(getenv, "submit", "echo", "--token", "s3cret")
	require.Equal(t, ExitOK, code, errOut)
	require.NotEmpty(t, strings.TrimSpace(out))

	env["DUEQ_TOKEN"] = "s3cret"
	code, _, errOut = runWith(getenv, "list")
	require.Equal(t, ExitOK, code, errOut)
}

func TestHelp(t *testing.T) {
	t.Parallel()
	code, out, _ := runWith(func(string) string { return "" }, "--help")
	require.Equal(t, ExitOK, code)
	for _, cmd := range []string{"serve", "submit", "workflow", "status", "wait", "cancel", "retry", "events", "list", "schedules", "stats"} {
		require.Contains(t, out, cmd)
	}
	code, out, _ = runWith(func(string) string { return "" }, "submit", "--help")
	require.Equal(t, ExitOK, code)
	for _, flag := range []string{"--in", "--at", "--after", "--on-parent-failure", "--queue", "--max-attempts", "--timeout", "--key", "--every", "--cron", "--misfire", "--wait", "--json", "--server", "--token"} {
		require.True(t, slices.ContainsFunc(strings.Fields(out), func(f string) bool { return strings.HasPrefix(f, flag) }), flag)
	}
}

func TestHelpNeverShowsTheToken(t *testing.T) {
	t.Parallel()
	getenv := func(k string) string { return map[string]string{"DUEQ_TOKEN": "s3cret"}[k] }
	code, out, errOut := runWith(getenv, "submit", "--help")
	require.Equal(t, ExitOK, code)
	require.NotContains(t, out+errOut, "s3cret")
}

// A task no live daemon will run is accepted with a warning on stderr;
// stdout stays the id, the record or the id map. Stats then lists each
// daemon's queues and handlers, and the stranded tasks.
func TestSubmitWarningsAndStrandedStats(t *testing.T) {
	t.Parallel()
	e := setup(t, options{scheduler: true})
	const warning = "warning: no live daemon serves queue nobody (live daemons serve default): the task will not run until a daemon serving queue nobody with handler echo is alive\n"

	code, out, errOut := e.run("submit", "echo", "--queue", "nobody")
	require.Equal(t, ExitOK, code, errOut)
	require.True(t, tasks.ValidID(strings.TrimSpace(out)), out)
	require.NotContains(t, strings.TrimSpace(out), "\n")
	require.Equal(t, warning, errOut)

	code, out, errOut = e.run("submit", "echo", "--queue", "nobody", "--json")
	require.Equal(t, ExitOK, code, errOut)
	var rec tasks.Task
	require.NoError(t, json.Unmarshal([]byte(out), &rec), out)
	require.Equal(t, "nobody", rec.Queue)
	require.Equal(t, warning, errOut)

	code, out, errOut = e.run("submit", "echo", "--queue", "nobody", "--every", "1h")
	require.Equal(t, ExitOK, code, errOut)
	require.True(t, strings.HasPrefix(out, "S"), out)
	require.Equal(t, "warning: no live daemon serves queue nobody (live daemons serve default): its tasks will not run until a daemon serving queue nobody with handler echo is alive\n", errOut)

	path := writeFile(t, "flow.yaml", "nodes:\n- {name: a, task: echo}\n- {name: b, task: echo, queue: nobody}\n")
	code, out, errOut = e.run("workflow", path)
	require.Equal(t, ExitOK, code, errOut)
	workflowIDs(t, out, "a", "b")
	require.Equal(t, "warning: node b: "+strings.TrimPrefix(warning, "warning: "), errOut)

	code, out, errOut = e.run("submit", "echo", `{"quiet":true}`)
	require.Equal(t, ExitOK, code, errOut)
	require.Empty(t, errOut, "a task a live daemon runs has no warning")

	code, out, errOut = e.run("stats")
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, out, "daemons alive: 1")
	require.Regexp(t, `DAEMON\s+QUEUES\s+HANDLERS\s+WORKERS\n\s+\S+\s+default\s+echo, fail, sleep\s+2\n`, out)
	require.Contains(t, out, "stranded (among the first 200 due tasks of each queue):\n  3 due tasks of handler echo in queue nobody: no live daemon serves queue nobody\n")

	code, out, errOut = e.run("stats", "--json")
	require.Equal(t, ExitOK, code, errOut)
	var st wire.Stats
	require.NoError(t, json.Unmarshal([]byte(out), &st), out)
	require.Len(t, st.DaemonInfo, 1)
	require.Equal(t, st.Daemons, []string{st.DaemonInfo[0].ID})
	require.Equal(t, &wire.DaemonInfo{Queues: []string{"default"}, Handlers: []string{"echo", "fail", "sleep"}, Workers: 2}, st.DaemonInfo[0].Info)
	require.Equal(t, []wire.Stranded{{Queue: "nobody", Handler: "echo", Count: 3, Reason: "no live daemon serves queue nobody"}}, st.Stranded)
}
