package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// shellWaitDelay bounds how long the shell handler waits for a program's
// output pipes to close after it was killed or exited (a background process
// may hold them open).
const shellWaitDelay = 5 * time.Second

// ShellArgs are the args of the shell handler.
type ShellArgs struct {
	// Cmd is the program and its arguments; an entry of the allow-list must
	// allow the whole of it (see ShellRule). Required.
	Cmd []string `json:"cmd"`
	// Stdin is written to the program's standard input. Empty: none.
	Stdin string `json:"stdin,omitempty"`
}

// ShellResult is the result of the shell handler. Stdout and Stderr keep at
// most MaxOutputBytes each; bytes that are not UTF-8 become U+FFFD when the
// result is stored as JSON.
type ShellResult struct {
	// Exit is the exit status; -1 when a signal ended the program.
	Exit   int    `json:"exit"`
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
}

// Shell returns the shell handler, which runs only the commands an entry of
// allow allows (see ShellRule; a command no entry allows fails without
// running). Args {"cmd": ["prog", "arg", ...], "stdin": "..."} run prog
// directly, never through a shell (so no globbing, pipes or $VARS, unless
// "sh" itself is allowed and run). The result is {"exit", "stdout",
// "stderr"}. An entry that is not valid (ShellRule.Validate) is an error.
//
// The program inherits the daemon's environment, less the daemon's own DUEQ_
// variables (they may hold its token or Redis URL), plus DUEQ_TASK_ID, the
// task's id, and DUEQ_PARENTS, the parents' outcomes as a JSON array ([] when
// none). It runs in its own process group: when the context ends (timeout,
// cancel, shutdown) the whole group is killed, so its children die too, and
// the handler returns the output so far and an error wrapping ctx.Err().
//
// A non-zero exit returns both the result and an error "exit status N: LAST
// LINES OF STDERR", so a failed task keeps its output.
func Shell(allow []ShellRule) (Handler, error) {
	if len(allow) == 0 {
		return nil, errors.New("handlers.shell.allow is empty: list the commands the shell handler may run")
	}
	rules := make(shellRules, len(allow))
	for i, r := range allow {
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("handlers.shell.allow: entry %d (%s): %w", i, r, err)
		}
		rules[i] = ShellRule{Program: r.Program, Argv: slices.Clone(r.Argv)}
	}
	return func(ctx context.Context, call *Call) (any, error) {
		return runShell(ctx, call, rules)
	}, nil
}

func runShell(ctx context.Context, call *Call, rules shellRules) (any, error) {
	const want = `give {"cmd": ["prog", "arg", ...], "stdin": "..."}`
	var a ShellArgs
	if err := decodeArgs("shell", call, &a); err != nil {
		return nil, fmt.Errorf("%w: %s", err, want)
	}
	if len(a.Cmd) == 0 || a.Cmd[0] == "" {
		return nil, fmt.Errorf("shell: cmd is missing or empty: %s", want)
	}
	if err := rules.check(a.Cmd); err != nil {
		return nil, err
	}
	prog := a.Cmd[0]
	parents, err := json.Marshal(parentOutcomes(call))
	if err != nil {
		return nil, fmt.Errorf("shell: encoding the parents' outcomes: %w", err)
	}

	cmd := exec.CommandContext(ctx, prog, a.Cmd[1:]...)
	cmd.Env = append(inheritedEnv(), "DUEQ_PARENTS="+string(parents), "DUEQ_TASK_ID="+call.Task.ID)
	if a.Stdin != "" {
		cmd.Stdin = strings.NewReader(a.Stdin)
	}
	stdout, stderr := newCappedBuffer(MaxOutputBytes), newCappedBuffer(MaxOutputBytes)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	killGroupOnCancel(cmd)
	cmd.WaitDelay = shellWaitDelay

	err = cmd.Run()
	if cmd.ProcessState == nil { // it never started
		if errors.Is(err, syscall.E2BIG) {
			err = fmt.Errorf("%w (the arguments and environment are too big; DUEQ_PARENTS alone is %d bytes)", err, len(parents))
		}
		return nil, fmt.Errorf("shell: cannot start %s: %w", prog, err)
	}
	res := ShellResult{Exit: cmd.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return res, nil
	case ctx.Err() != nil:
		return res, fmt.Errorf("shell: %s was killed with its process group: %w", prog, ctx.Err())
	case errors.Is(err, exec.ErrWaitDelay):
		// It exited 0 but something it started kept its output open.
		res.Stderr += fmt.Sprintf("\n[dueq: output still open %s after %s exited; a background process kept it]", shellWaitDelay, prog)
		return res, nil
	case errors.As(err, &exitErr):
		if tail := lastLines(stderr.buf.String(), 3, 300); tail != "" {
			return res, fmt.Errorf("%w: %s", exitErr, tail)
		}
		return res, exitErr
	}
	return res, fmt.Errorf("shell: %s: %w", prog, err)
}

// inheritedEnv is the daemon's environment less its DUEQ_ variables.
func inheritedEnv() []string {
	env := os.Environ()
	kept := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "DUEQ_") {
			kept = append(kept, kv)
		}
	}
	return kept
}

// lastLines returns up to n of the last non-blank lines of s, joined with
// "; " and cut to at most size bytes (keeping the end).
func lastLines(s string, n, size int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	tail := strings.Join(lines[max(len(lines)-n, 0):], "; ")
	if len(tail) > size {
		tail = "..." + tail[len(tail)-size:]
	}
	return strings.ToValidUTF8(tail, "\uFFFD")
}
