//go:build linux

package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/dueq/dueq/internal/testutil"
)

// openTerminal opens a pseudo-terminal in raw mode (no newline
// translation, so what is written is what is read) and returns its
// terminal end, to pass as stderr, and what has been written to it.
func openTerminal(t *testing.T) (*os.File, *testutil.SyncBuffer) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal to test the progress bar on: %v", err)
	}
	t.Cleanup(func() { _ = ptmx.Close() })
	fd := int(ptmx.Fd())
	require.NoError(t, unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0)) // unlockpt
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)                       // ptsname
	require.NoError(t, err)
	tty, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tty.Close() })
	_, err = term.MakeRaw(int(tty.Fd()))
	require.NoError(t, err)
	require.True(t, isTerminal(tty))

	written := &testutil.SyncBuffer{}
	go func() {
		_, err := io.Copy(written, ptmx)
		if err != nil && !errors.Is(err, os.ErrClosed) && !errors.Is(err, unix.EIO) {
			t.Errorf("read the terminal: %v", err)
		}
	}()
	return tty, written
}

// runOnTerminal runs dueq against e with stderr on a terminal, and returns
// the exit code, stdout and everything dueq wrote to the terminal. While
// dueq runs, during (when not nil) runs beside it with what the terminal
// received so far.
func (e *env) runOnTerminal(during func(terminal *testutil.SyncBuffer), args ...string) (code int, stdout, terminal string) {
	e.t.Helper()
	tty, written := openTerminal(e.t)
	if during != nil {
		go during(written)
	}
	var out testutil.SyncBuffer
	code = run(context.Background(), append([]string{"--server", e.url}, args...), strings.NewReader(""), &out, tty, func(string) string { return "" })
	// What follows the end mark was written after dueq returned.
	const end = "\x00end of dueq's output"
	_, err := tty.WriteString(end)
	require.NoError(e.t, err)
	require.Eventually(e.t, func() bool { return strings.HasSuffix(written.String(), end) }, 5*time.Second, 5*time.Millisecond)
	return code, out.String(), strings.TrimSuffix(written.String(), end)
}

// On a terminal, dueq wait ID... draws a bar on stderr and ends its line
// with a newline, so the shell's prompt does not overwrite it; stdout
// stays empty.
func TestWaitBarEndsItsLineOnATerminal(t *testing.T) {
	t.Parallel()
	e := setup(t, options{scheduler: true})
	a := e.submit("echo", "--in", "200ms")
	b := e.submit("sleep", `{"ms":50}`, "--in", "250ms")

	code, out, terminal := e.runOnTerminal(nil, "wait", a, b, "--timeout", "30s")
	require.Equal(t, ExitOK, code, terminal)
	require.Empty(t, out, "the bar replaces the lines of a non-terminal")
	require.True(t, strings.HasPrefix(terminal, "\r[.............................."), "%q", terminal)
	require.True(t, strings.HasSuffix(terminal, "\r[##############################] 2/2 done, 0 failed\n"), "%q", terminal)
	require.Equal(t, 1, strings.Count(terminal, "\n"), "one line, ended once: %q", terminal)
}

// Ctrl-C (SIGINT) ends a wait's bar with a newline before saying which
// tasks are unfinished, and exits 2. Not parallel: the signal goes to the
// whole test process (once the wait has drawn its bar, so that it is the
// wait that catches it).
func TestWaitBarEndsItsLineOnCtrlC(t *testing.T) {
	e := setup(t, options{scheduler: true})
	done := e.submit("echo")
	code, _, errOut := e.run("wait", done)
	require.Equal(t, ExitOK, code, errOut)
	later := e.submit("echo", "--in", "1h")

	ctrlC := func(terminal *testutil.SyncBuffer) {
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(terminal.String(), "] 1/2 done") {
			if time.Now().After(deadline) {
				t.Errorf("no bar drawn, so no Ctrl-C sent: %q", terminal)
				return // the wait ends at its --timeout
			}
			time.Sleep(5 * time.Millisecond)
		}
		_ = unix.Kill(os.Getpid(), unix.SIGINT)
	}
	code, out, terminal := e.runOnTerminal(ctrlC, "wait", done, later, "--timeout", "20s")
	require.Equal(t, ExitError, code, terminal)
	require.Empty(t, out)
	require.Regexp(t, `\r\[#{15}\.{15}\] 1/2 done, 0 failed\ndueq: wait interrupted with 1 of 2 tasks unfinished: `+later+`\n$`, terminal)
}
