package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

// dashboardDeadline bounds the whole browser test, so it never hangs.
const dashboardDeadline = 90 * time.Second

// requireBrowser is the environment variable that makes a missing browser
// fail the dashboard's browser test instead of skipping it (CI sets it).
const requireBrowser = "DUEQ_REQUIRE_BROWSER"

// browserPath finds a Chromium-family browser on the PATH. Without one the
// test skips, or fails when requireBrowser is 1.
func browserPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	const missing = "the dashboard's browser test needs Chromium: none of chromium, chromium-browser or google-chrome is on the PATH; install one (apt-get install chromium, brew install --cask chromium)"
	if os.Getenv(requireBrowser) == "1" {
		t.Fatal(missing + " (" + requireBrowser + "=1: a missing browser is a failure)")
	}
	t.Skip(missing + " to run it; " + requireBrowser + "=1 makes this skip a failure")
	return ""
}

// artifactDir is where screenshots go: $DUEQ_ARTIFACTS, or dueq-artifacts in
// the system's temporary directory, which outlives the test (t.TempDir
// does not).
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("DUEQ_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "dueq-artifacts")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// browser is one headless Chromium tab on a dashboard.
type browser struct {
	t         *testing.T
	ctx       context.Context
	artifacts string

	mu      sync.Mutex
	console []string // errors, exceptions and CSP violations the page reported
}

// newBrowser starts headless Chromium (without its sandbox when running as
// root, where it refuses to start otherwise) for the rest of the test, or
// until ctx ends.
func newBrowser(ctx context.Context, t *testing.T, path string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.WindowSize(1440, 900),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: bctx, artifacts: artifactDir(t)}
	messages := chromedp.Console(bctx) // starts the browser
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// Answers of 4xx are the browser's network log, not page errors:
			// the test provokes a 409 on purpose.
			if (m.Type == chromedp.ConsoleError && m.Source != "network") || m.IsException() {
				b.mu.Lock()
				b.console = append(b.console, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// do runs steps, failing the test with what it was doing.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	require.NoError(b.t, chromedp.Do(b.ctx, steps...), "dashboard: %s", what)
}

// waitFor polls until the page's JavaScript expression is true.
func (b *browser) waitFor(what, expr string) {
	b.t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		// The page shows a failed refresh in its banner: say what it says.
		banner, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById("banner").textContent`))
		require.NoError(b.t, err, "dashboard: waiting until %s (%s); banner: %q; page errors: %s", what, expr, banner, strings.Join(b.pageErrors(), "\n"))
	}
}

// jsVisible is a JavaScript expression: an element matches the CSS selector
// and is shown.
func jsVisible(selector string) string {
	return fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.getClientRects().length > 0; })()`, selector)
}

// jsCount is a JavaScript expression: how many elements match the selector.
func jsCount(selector string) string {
	return fmt.Sprintf(`document.querySelectorAll(%q).length`, selector)
}

// route moves the page to a hash route (#/task/ID, ...), as a click on a
// link does: no reload, the same event stream.
func (b *browser) route(hash string) {
	b.t.Helper()
	b.do("open "+hash, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = %q`, hash)))
}

// screenshot saves a full-page PNG in the artifacts directory.
func (b *browser) screenshot(name string) string {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	require.NoError(b.t, err, "dashboard: screenshot %s", name)
	path := filepath.Join(b.artifacts, name)
	require.NoError(b.t, os.WriteFile(path, png, 0o644))
	b.t.Log("screenshot:", path)
	return path
}

func (b *browser) pageErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.console...)
}

// callAPI sends a request to the API and decodes the answer into out,
// requiring the status want.
func callAPI(t *testing.T, method, url string, body any, want int, out any) {
	t.Helper()
	rd := bytes.NewReader(nil)
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var raw json.RawMessage
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&raw))
	require.Equal(t, want, resp.StatusCode, "%s %s: %s", method, url, raw)
	if out != nil {
		require.NoError(t, json.Unmarshal(raw, out))
	}
}

func TestDashboardFollowsTasksLiveDrawsWorkflowsAndCancels(t *testing.T) {
	t.Parallel()
	chrome := browserPath(t)
	r := startRedis(t)
	d := startDaemon(t, r.URL, "--workers", "4")
	ctx, cancel := context.WithTimeout(context.Background(), dashboardDeadline)
	t.Cleanup(cancel)
	b := newBrowser(ctx, t, chrome)

	// The overview loads and follows the event stream.
	b.do("load the overview", chromedp.Navigate(d.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#conn[data-conn="live"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#count-daemons`)))
	b.waitFor("one daemon is alive", `document.querySelector("#count-daemons .n").textContent === "1"`)

	// A task appears, then finishes, with no reload: the event stream tells.
	sleeper := post(t, d.URL, map[string]any{"name": "sleep", "args": map[string]int{"ms": 800}})
	row := fmt.Sprintf(`tr[data-task-id=%q]`, sleeper.ID)
	b.waitFor("the submitted task appears", jsVisible(`#view-overview `+row))
	b.waitFor("it shows as succeeded", jsVisible(`#finished `+row+`[data-state="succeeded"]`))

	// A failure is listed with its error; a long task runs; schedules and
	// upcoming tasks show with their times.
	bad := post(t, d.URL, map[string]any{"name": "sleep", "args": map[string]string{"ms": "soon"}})
	b.waitFor("the failure is listed", jsVisible(fmt.Sprintf(`#failures tr[data-task-id=%q]`, bad.ID)))
	errText, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(fmt.Sprintf(`#failures tr[data-task-id=%q] .error-text`, bad.ID))))
	require.NoError(t, err)
	require.Contains(t, errText, "not a whole number", "the failure's error is shown")
	long := post(t, d.URL, map[string]any{"name": "sleep", "args": map[string]int{"ms": 60000}})
	callAPI(t, http.MethodPost, d.URL+"/api/v1/tasks", map[string]any{"name": "echo", "args": map[string]string{"ping": "ok"}, "every": "10m"}, http.StatusCreated, nil)
	for _, in := range []string{"5m", "25m"} {
		post(t, d.URL, map[string]any{"name": "echo", "args": map[string]string{"report": in}, "in": in})
	}
	b.waitFor("the long task is running", jsVisible(fmt.Sprintf(`#running tr[data-task-id=%q]`, long.ID)))
	b.waitFor("the schedule is listed", jsVisible(`#schedules tr[data-schedule-id]`))

	// The queue's Pause button pauses it on every daemon, and Resume
	// resumes it.
	queueRow := `#queues tr[data-queue="default"]`
	b.do("click Pause", chromedp.Click(chromedp.CSS(queueRow+` button[data-action="pause"]`)))
	b.waitFor("the queue shows paused", jsVisible(queueRow+`[data-paused="true"] .badge.paused`))
	var queues []map[string]any
	callAPI(t, http.MethodGet, d.URL+"/api/v1/queues", nil, http.StatusOK, &queues)
	require.Equal(t, true, queues[0]["paused"], "the API says the queue is paused")
	b.screenshot("dashboard-paused.png")
	b.do("click Resume", chromedp.Click(chromedp.CSS(queueRow+` button[data-action="resume"]`)))
	b.waitFor("the queue shows resumed", jsVisible(queueRow+`[data-paused="false"]`))
	callAPI(t, http.MethodGet, d.URL+"/api/v1/queues", nil, http.StatusOK, &queues)
	require.Equal(t, false, queues[0]["paused"], "the API says the queue is resumed")

	// A schedule's Pause button pauses it, and Resume resumes it.
	scheduleRow := `#schedules tr[data-schedule-id]`
	b.do("click the schedule's Pause", chromedp.Click(chromedp.CSS(scheduleRow+` button[data-action="pause-schedule"]`)))
	b.waitFor("the schedule shows paused", jsVisible(scheduleRow+`[data-state="paused"] .badge.paused`))
	b.do("click the schedule's Resume", chromedp.Click(chromedp.CSS(scheduleRow+` button[data-action="resume-schedule"]`)))
	b.waitFor("the schedule shows active", jsVisible(scheduleRow+`[data-state="active"]`))

	// A workflow a→b, a→c: its graph has three nodes and two edges, and
	// follows the nodes to succeeded.
	var ids map[string]string
	callAPI(t, http.MethodPost, d.URL+"/api/v1/workflows", map[string]any{"nodes": []map[string]any{
		{"name": "a", "task": "sleep", "args": map[string]int{"ms": 400}},
		{"name": "b", "task": "echo", "args": map[string]string{"step": "b"}, "after": []string{"a"}},
		{"name": "c", "task": "echo", "args": map[string]string{"step": "c"}, "after": []string{"a"}},
	}}, http.StatusCreated, &ids)
	require.Len(t, ids, 3)
	b.route("#/graph/" + ids["a"])
	b.do("show the graph", chromedp.WaitVisible(chromedp.ID("graph")))
	b.waitFor("the graph has 3 nodes", jsCount(`#graph .node[data-task-id]`)+` === 3`)
	b.waitFor("the graph has 2 edges", jsCount(`#graph .edge`)+` === 2`)
	for _, name := range []string{"a", "b", "c"} {
		b.waitFor("node "+name+" is drawn", jsVisible(fmt.Sprintf(`#graph [data-task-id=%q]`, ids[name])))
	}
	b.waitFor("every node succeeded", jsCount(`#graph .node[data-state="succeeded"]`)+` === 3`)
	for _, name := range []string{"a", "b", "c"} {
		b.waitFor("node "+name+" is labeled with its node's name, not its handler's",
			fmt.Sprintf(`document.querySelector(%q).textContent === %q`, fmt.Sprintf(`#graph [data-task-id=%q] text.label`, ids[name]), name))
	}
	edge, err := chromedp.Run(b.ctx, chromedp.Attributes(chromedp.CSS(fmt.Sprintf(`#graph .edge[data-to=%q]`, ids["b"]))))
	require.NoError(t, err)
	require.Equal(t, ids["a"], edge["data-from"], "the edge goes parent → child")
	b.screenshot("dashboard-graph.png")
	b.do("click node b", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#graph [data-task-id=%q]`, ids["b"]))))
	b.waitFor("node b's task page opens", jsVisible(fmt.Sprintf(`#task[data-task-id=%q]`, ids["b"])))
	b.waitFor("its page names its node", `document.getElementById("task-node").textContent === "b"`)

	// A task due in an hour is canceled from its page.
	later := post(t, d.URL, map[string]any{"name": "echo", "args": map[string]string{"due": "in an hour"}, "in": "1h"})
	b.route("#/task/" + later.ID)
	b.do("show the task page", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#task[data-task-id=%q][data-state="scheduled"]`, later.ID))),
		chromedp.WaitVisible(chromedp.ID("cancel")))
	b.do("click Cancel", chromedp.Click(chromedp.ID("cancel")))
	b.waitFor("the page shows it canceled", jsVisible(`#task-state[data-state="canceled"]`))
	b.do("offer Retry", chromedp.WaitVisible(chromedp.ID("retry")))
	var rec record
	callAPI(t, http.MethodGet, d.URL+"/api/v1/tasks/"+later.ID, nil, http.StatusOK, &rec)
	require.Equal(t, "canceled", rec.State, "the API says the task is canceled")
	b.screenshot("dashboard-task.png")

	// A Cancel the API refuses (the task was canceled meanwhile) shows the
	// API's reason.
	gone := post(t, d.URL, map[string]any{"name": "echo", "in": "1h"})
	b.route("#/task/" + gone.ID)
	b.do("show the second task page", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#task[data-task-id=%q] #cancel`, gone.ID))))
	_, err = chromedp.Run(b.ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(async () => {
		const button = document.getElementById("cancel");
		await fetch("/api/v1/tasks/" + %q, {method: "DELETE"});
		button.click();
	})()`, gone.ID), chromedp.EvalAwaitPromise))
	require.NoError(t, err, "dashboard: cancel behind the page's back, then click Cancel")
	b.waitFor("the refusal is shown", jsVisible(`#action-error`))
	refusal, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.ID("action-error")))
	require.NoError(t, err)
	require.Contains(t, refusal, "already finished", "the API's error text is shown")

	// A workflow whose first node fails: the child its parent failed never
	// ran, so its page shows no run time and no Retry (the server would
	// refuse it, since its parent's outcome would fail it again); the
	// failed parent offers Retry. Finished tasks offer no Cancel.
	var doomed map[string]string
	callAPI(t, http.MethodPost, d.URL+"/api/v1/workflows", map[string]any{"nodes": []map[string]any{
		{"name": "p", "task": "sleep", "args": map[string]string{"ms": "soon"}},
		{"name": "c", "task": "echo", "after": []string{"p"}},
	}}, http.StatusCreated, &doomed)
	child := waitDone(t, d.URL, doomed["c"])
	require.Equal(t, "failed", child.State)
	require.Zero(t, child.Attempts, "the child's handler never ran")
	require.Nil(t, child.StartedAt)
	ranFor := `[...document.querySelectorAll("#view-task dt")].some((e) => e.textContent === "Ran for")`
	b.route("#/task/" + doomed["c"])
	b.do("show the doomed child's page", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#task[data-task-id=%q][data-state="failed"]`, doomed["c"]))))
	b.waitFor("it says its handler never ran", jsVisible(`#never-ran`))
	for what, expr := range map[string]string{
		"no run time":         `!` + ranFor,
		"no Retry":            jsCount(`#retry`) + ` === 0`,
		"no Cancel":           jsCount(`#cancel`) + ` === 0`,
		"the parent's reason": `document.getElementById("task-error").textContent.includes("parent ")`,
	} {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](expr))
		require.NoError(t, err)
		require.True(t, ok, "the doomed child's page shows %s (%s)", what, expr)
	}
	b.screenshot("dashboard-doomed-child.png")
	b.route("#/task/" + doomed["p"])
	b.do("show the failed parent's page", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#task[data-task-id=%q][data-state="failed"]`, doomed["p"]))),
		chromedp.WaitVisible(chromedp.ID("retry")))
	for what, expr := range map[string]string{"its run time": ranFor, "no Cancel": jsCount(`#cancel`) + ` === 0`} {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](expr))
		require.NoError(t, err)
		require.True(t, ok, "the failed parent's page shows %s (%s)", what, expr)
	}

	// A task of a queue no daemon serves is accepted with a warning, and
	// the overview reports it stranded; each daemon shows its queues and
	// handlers.
	var stranded map[string]any
	callAPI(t, http.MethodPost, d.URL+"/api/v1/tasks", map[string]any{"name": "echo", "queue": "nobody"}, http.StatusCreated, &stranded)
	require.Equal(t, "no live daemon serves queue nobody (live daemons serve default): the task will not run until a daemon serving queue nobody with handler echo is alive", stranded["warning"])
	var refused map[string]string
	callAPI(t, http.MethodPost, d.URL+"/api/v1/tasks", map[string]any{"name": "shell", "args": map[string]any{"cmd": []string{"ls"}}}, http.StatusBadRequest, &refused)
	require.Contains(t, refused["error"], `unknown handler "shell": no live daemon has it (live daemons run echo, sleep); the shell handler is off: `+tasks.ShellHowTo+` (in config.yaml, then restart the daemon)`)

	// Back on the overview, everything above is there.
	b.route("#/")
	strandedRow := `#stranded li[data-queue="nobody"][data-handler="echo"]`
	b.waitFor("the stranded task is reported", jsVisible(strandedRow))
	line, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(strandedRow)))
	require.NoError(t, err)
	require.Equal(t, "1 due task of handler echo in queue nobody: no live daemon serves queue nobody", line)
	daemonRow, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(`#daemons li[data-daemon]`)))
	require.NoError(t, err)
	require.Contains(t, daemonRow, "queues default")
	require.Contains(t, daemonRow, "handlers echo, sleep")
	b.waitFor("the canceled task is listed", jsVisible(fmt.Sprintf(`#finished tr[data-task-id=%q][data-state="canceled"]`, later.ID)))
	b.waitFor("the workflow's tasks are listed", jsVisible(fmt.Sprintf(`#finished tr[data-task-id=%q][data-state="succeeded"]`, ids["c"])))
	b.waitFor("the event log shows the cancel", jsVisible(fmt.Sprintf(`#events li[data-kind="canceled"][data-event-task=%q]`, later.ID)))
	overview := b.screenshot("dashboard-overview.png")
	if os.Getenv("DUEQ_SCREENSHOT_README") == "1" {
		png, err := os.ReadFile(overview)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Join("..", "docs"), 0o755))
		readme := filepath.Join("..", "docs", "dashboard.png")
		require.NoError(t, os.WriteFile(readme, png, 0o644))
		t.Log("README screenshot:", readme)
	}
	callAPI(t, http.MethodDelete, d.URL+"/api/v1/tasks/"+long.ID, nil, http.StatusOK, nil) // no wait at the daemon's stop

	require.Empty(t, b.pageErrors(), "the page reported errors:\n%s", strings.Join(b.pageErrors(), "\n"))
}
