//go:build unix

package tasks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

// need skips t when prog is not in PATH.
func need(t *testing.T, progs ...string) {
	t.Helper()
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is not in PATH: %v", p, err)
		}
	}
}

// shellArgs encodes the args of a shell task.
func shellArgs(t *testing.T, stdin string, cmd ...string) string {
	t.Helper()
	b, err := json.Marshal(tasks.ShellArgs{Cmd: cmd, Stdin: stdin})
	require.NoError(t, err)
	return string(b)
}

// decodeShell decodes a shell result.
func decodeShell(t *testing.T, res json.RawMessage) tasks.ShellResult {
	t.Helper()
	require.NotNil(t, res, "no result")
	var out tasks.ShellResult
	require.NoError(t, json.Unmarshal(res, &out))
	return out
}

func TestShellRunsAllowedProgram(t *testing.T) {
	t.Parallel()
	need(t, "cat")
	r := setup(t, tasks.BuiltinConfig{ShellAllow: programs("cat")})

	res, err := run(context.Background(), t, r, "shell", shellArgs(t, "hello\nworld\n", "cat"))
	require.NoError(t, err)
	require.Equal(t, tasks.ShellResult{Exit: 0, Stdout: "hello\nworld\n", Stderr: ""}, decodeShell(t, res))
}

func TestShellPassesParentsAndTaskID(t *testing.T) {
	t.Parallel()
	need(t, "sh")
	r := setup(t, tasks.BuiltinConfig{ShellAllow: programs("sh")})
	parents := []tasks.Outcome{
		{ID: "p1", Name: "echo", State: tasks.Succeeded, Result: json.RawMessage(`{"args": {"x": 1}, "parents": []}`)},
		{ID: "p2", Name: "http", State: tasks.Failed, Error: "HTTP 500 from example.com"},
	}
	args := shellArgs(t, "", "sh", "-c", `printf %s "$DUEQ_PARENTS"`)

	res, err := run(context.Background(), t, r, "shell", args, parents...)
	require.NoError(t, err)
	want, err := json.Marshal(parents)
	require.NoError(t, err)
	require.JSONEq(t, string(want), decodeShell(t, res).Stdout)

	res, err = run(context.Background(), t, r, "shell", args)
	require.NoError(t, err)
	require.Equal(t, "[]", decodeShell(t, res).Stdout)

	res, err = run(context.Background(), t, r, "shell", shellArgs(t, "", "sh", "-c", `printf %s "$DUEQ_TASK_ID"`))
	require.NoError(t, err)
	require.Equal(t, "t-shell", decodeShell(t, res).Stdout)
}

// Not parallel: it sets environment variables of the test process.
func TestShellDropsDaemonDUEQVariables(t *testing.T) {
	need(t, "sh")
	t.Setenv("DUEQ_HTTP_TOKEN", "secret")
	t.Setenv("TASKS_TEST_INHERITED", "kept")
	r := setup(t, tasks.BuiltinConfig{ShellAllow: programs("sh")})

	res, err := run(context.Background(), t, r, "shell",
		shellArgs(t, "", "sh", "-c", `printf '%s|%s' "${DUEQ_HTTP_TOKEN-unset}" "$TASKS_TEST_INHERITED"`))
	require.NoError(t, err)
	require.Equal(t, "unset|kept", decodeShell(t, res).Stdout)
}

func TestShellRejectsProgramsNotAllowed(t *testing.T) {
	t.Parallel()
	r := setup(t, tasks.BuiltinConfig{ShellAllow: programs("cat", "echo")})
	for _, prog := range []string{"rm", "sh", "/bin/cat", "cat ", "CAT"} {
		t.Run(prog, func(t *testing.T) {
			t.Parallel()
			res, err := run(context.Background(), t, r, "shell", shellArgs(t, "", prog, "x"))
			require.Nil(t, res)
			require.ErrorContains(t, err, fmt.Sprintf("shell: program %q is not allowed by handlers.shell.allow (its entries: cat, echo): add an entry such as [", prog))
		})
	}
}

func TestShellRejectsBadArgs(t *testing.T) {
	t.Parallel()
	r := setup(t, tasks.BuiltinConfig{ShellAllow: programs("cat")})
	for args, want := range map[string]string{
		`{}`:                      "cmd is missing or empty",
		`{"cmd": []}`:             "cmd is missing or empty",
		`{"cmd": [""]}`:           "cmd is missing or empty",
		`{"cmd": "cat"}`:          "cannot unmarshal string",
		`{"command": ["cat"]}`:    `unknown field "command"`,
		`["cat"]`:                 "args must be a JSON object",
		`{"cmd": ["cat", 1]}`:     "cannot unmarshal number",
		`{"cmd": ["cat"], "x":1}`: `unknown field "x"`,
	} {
		t.Run(args, func(t *testing.T) {
			t.Parallel()
			res, err := run(context.Background(), t, r, "shell", args)
			require.Nil(t, res)
			require.ErrorContains(t, err, want)
			require.ErrorContains(t, err, `give {"cmd": ["prog", "arg", ...]`)
		})
	}
}

func TestShellReportsMissingProgram(t *testing.T) {
	t.Parallel()
	r := setup(t, tasks.BuiltinConfig{ShellAllow: programs("dueq-no-such-program")})

	res, err := run(context.Background(), t, r, "shell", shellArgs(t, "", "dueq-no-such-program"))
	require.Nil(t, res)
	require.ErrorIs(t, err, exec.ErrNotFound)
	require.ErrorContains(t, err, "shell: cannot start dueq-no-such-program")
}

func TestShellNonZeroExitFailsWithResult(t *testing.T) {
	t.Parallel()
	need(t, "sh")
	r := setup(t, tasks.BuiltinConfig{ShellAllow: programs("sh")})

	res, err := run(context.Background(), t, r, "shell",
		shellArgs(t, "", "sh", "-c", `echo partial; echo noise >&2; echo "no such file: x" >&2; exit 3`))
	require.EqualError(t, err, "exit status 3: noise; no such file: x")
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr)
	require.Equal(t, tasks.ShellResult{Exit: 3, Stdout: "partial\n", Stderr: "noise\nno such file: x\n"}, decodeShell(t, res))
}

func TestShellTruncatesOutput(t *testing.T) {
	t.Parallel()
	need(t, "cat")
	r := setup(t, tasks.BuiltinConfig{ShellAllow: programs("cat")})
	input := strings.Repeat("x", tasks.MaxOutputBytes+10)

	res, err := run(context.Background(), t, r, "shell", shellArgs(t, input, "cat"))
	require.NoError(t, err)
	out := decodeShell(t, res).Stdout
	require.Equal(t, input[:tasks.MaxOutputBytes]+"\n[dueq: truncated at 1048576 bytes; 10 more bytes dropped]", out)
}

func TestShellTimeoutKillsProcess(t *testing.T) {
	t.Parallel()
	need(t, "sh", "sleep")
	r := setup(t, tasks.BuiltinConfig{ShellAllow: programs("sh")})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()

	start := time.Now()
	res, err := run(ctx, t, r, "shell", shellArgs(t, "", "sh", "-c", "echo started; sleep 30"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 10*time.Second)
	require.Equal(t, -1, decodeShell(t, res).Exit)
}

func TestShellCancelKillsProcessGroup(t *testing.T) {
	t.Parallel()
	need(t, "sh", "sleep")
	r := setup(t, tasks.BuiltinConfig{ShellAllow: programs("sh")})
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	type outcome struct {
		res json.RawMessage
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		// sh starts a grandchild, reports its pid on stdout and in pidFile,
		// and waits for it.
		res, err := run(ctx, t, r, "shell",
			shellArgs(t, "", "sh", "-c", `sleep 30 & echo $!; echo $! > "$1"; wait`, "sh", pidFile))
		done <- outcome{res, err}
	}()
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(pidFile)
		return err == nil && bytes.HasSuffix(b, []byte("\n"))
	}, 10*time.Second, 5*time.Millisecond, "the grandchild did not start")
	cancel()

	var o outcome
	select {
	case o = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("shell did not return after its context was canceled")
	}
	require.ErrorIs(t, o.err, context.Canceled)
	pid, err := strconv.Atoi(strings.TrimSpace(decodeShell(t, o.res).Stdout))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return gone(pid) }, 10*time.Second, 5*time.Millisecond,
		"grandchild %d still runs after its task was canceled", pid)
}

// gone reports whether process pid has ended: it does not exist or is a
// zombie waiting to be reaped by whoever adopted it.
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if errors.Is(err, os.ErrNotExist) {
		return true
	}
	// The state follows the command name in parentheses: "pid (comm) S ...".
	i := bytes.LastIndexByte(stat, ')')
	return err == nil && i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}
