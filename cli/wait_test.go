package cli

import (
	"bytes"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

// Several ids: one "ID STATE" line per task as it finishes when stderr is
// not a terminal; exit 1 (ExitFailed) when any failed.
func TestWaitSeveral(t *testing.T) {
	t.Parallel()
	e := setup(t, options{scheduler: true})
	// Due a little later, so that the wait learns of most from the stream.
	a := e.submit("sleep", `{"ms":50}`, "--in", "300ms")
	b := e.submit("echo", "--in", "200ms")
	c := e.submit("fail", "--in", "250ms")

	code, out, errOut := e.run("wait", a, b, c, a, "--timeout", "30s")
	require.Equal(t, ExitFailed, code, errOut)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	sort.Strings(lines)
	want := []string{a + " succeeded", b + " succeeded", c + " failed"}
	sort.Strings(want)
	require.Equal(t, want, lines, "one line per task, a given twice counts once")
	require.Equal(t, "dueq: 1 of 3 tasks did not succeed: "+c+" failed ('dueq status ID' shows why; 'dueq retry ID' runs one again)\n", errOut)

	code, out, errOut = e.run("wait", a, b)
	require.Equal(t, ExitOK, code, errOut)
	require.Equal(t, a+" succeeded\n"+b+" succeeded\n", out, "finished before the wait: in the order given")
	require.Empty(t, errOut)
}

func TestWaitSeveralTimeoutAndErrors(t *testing.T) {
	t.Parallel()
	e := setup(t, options{scheduler: true})
	done := e.submit("echo")
	code, _, errOut := e.run("wait", done)
	require.Equal(t, ExitOK, code, errOut)
	later := e.submit("echo", "--in", "1h")

	var out string
	code, out, errOut = e.run("wait", done, later, "--timeout", "300ms")
	require.Equal(t, ExitError, code)
	require.Equal(t, done+" succeeded\n", out)
	require.Contains(t, errOut, "dueq: 1 of 2 tasks still unfinished after 300ms: "+later)
	require.Contains(t, errOut, "--timeout")

	code, out, errOut = e.run("wait", done, "01NOSUCHTASK0000000000000")
	require.Equal(t, ExitError, code)
	require.Empty(t, out)
	require.Contains(t, errOut, "wait for task 01NOSUCHTASK0000000000000")
	require.Contains(t, errOut, "404")

	code, _, errOut = e.run("wait", done, "SNOSUCHSCHEDULE")
	require.Equal(t, ExitError, code)
	require.Contains(t, errOut, "is a schedule")

	code, _, errOut = e.run("wait")
	require.Equal(t, ExitError, code)
	require.Contains(t, errOut, "wait takes one or more task ids")
}

// A retried task is waited for anew: its second run counts.
func TestWaitSeveralAfterRetry(t *testing.T) {
	t.Parallel()
	d := setupDaemon(t)
	flaky := d.submit("flaky")
	code, _, _ := d.run("wait", flaky)
	require.Equal(t, ExitFailed, code)
	code, _, errOut := d.run("retry", flaky)
	require.Equal(t, ExitOK, code, errOut)
	other := d.submit("sleep", `{"ms":100}`)

	code, out, errOut := d.run("wait", flaky, other)
	require.Equal(t, ExitOK, code, errOut)
	require.ElementsMatch(t, []string{flaky + " succeeded", other + " succeeded"}, strings.Split(strings.TrimSuffix(out, "\n"), "\n"))
}

// A stream that drops during the wait is noted and reconnected, and the
// wait goes on.
func TestWaitSeveralSurvivesADroppedStream(t *testing.T) {
	t.Parallel()
	d := setupDaemon(t)
	a := d.submit("echo", "--in", "2s")
	b := d.submit("sleep", `{"ms":10}`, "--in", "2s")
	cmd := d.background("wait", a, b, "--timeout", "30s")
	require.Eventually(t, func() bool {
		d.cut() // until a stream was open to cut
		return strings.Contains(cmd.errOut.String(), "reconnecting in")
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, ExitOK, cmd.wait(), cmd.errOut.String())
	require.ElementsMatch(t, []string{a + " succeeded", b + " succeeded"}, strings.Split(strings.TrimSuffix(cmd.out.String(), "\n"), "\n"))
	require.Contains(t, cmd.errOut.String(), "dueq: event stream: the connection to the daemon ended")
}

func TestProgressBar(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	p := &progress{out: &out, errOut: &errOut, bar: true, total: 10}
	p.start()
	p.finished("A", tasks.Succeeded)
	p.finished("B", tasks.Failed)
	p.finished("C", tasks.Succeeded)
	p.note("event stream: gone; reconnecting in 250ms")
	p.finished("D", tasks.Canceled)
	p.stop()
	require.Empty(t, out.String(), "the bar replaces the lines")
	require.Equal(t, ""+
		"\r[..............................] 0/10 done, 0 failed"+
		"\r[###...........................] 1/10 done, 0 failed"+
		"\r[######........................] 2/10 done, 1 failed"+
		"\r[#########.....................] 3/10 done, 1 failed"+
		"\ndueq: event stream: gone; reconnecting in 250ms\n"+
		"\r[#########.....................] 3/10 done, 1 failed"+
		"\r[############..................] 4/10 done, 1 failed, 1 canceled"+
		"\n", errOut.String())

	var plain bytes.Buffer
	p = newProgress(&plain, &errOut, 2)
	require.False(t, p.bar, "a buffer is not a terminal")
	p.start()
	p.finished("A", tasks.Failed)
	require.Equal(t, "A failed\n", plain.String())

	f, err := os.CreateTemp(t.TempDir(), "stderr")
	require.NoError(t, err)
	defer f.Close()
	require.False(t, isTerminal(f), "a file is not a terminal")
	if dev, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		defer dev.Close()
		require.False(t, isTerminal(dev), "/dev/null is a character device, not a terminal: the lines go to stdout")
	}
}
