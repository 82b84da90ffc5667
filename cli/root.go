// Package cli is the dueq command line: `dueq serve` runs a daemon,
// and the client commands (submit, workflow, status, wait, cancel, retry,
// list, schedules, stats, events) talk to a daemon's HTTP API; `dueq
// version` prints the version (see Version).
//
// Exit codes, for every command: 0 success; 1 a task that ended failed or
// canceled (wait, submit --wait, workflow --wait); 2 any error: bad usage
// or input, a request the server rejected (4xx), the server or Redis
// unreachable, a timeout.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dueq/dueq/apiclient"
)

// Exit codes of the dueq command, the same for every command.
const (
	ExitOK     = 0 // success
	ExitFailed = 1 // a task waited for (wait, submit --wait, workflow --wait) ended failed or canceled
	ExitError  = 2 // any error: bad usage or input, a request the server rejected (4xx), the server or Redis unreachable, a timeout
)

// Main runs the dueq command with args (without the program name), reading
// os.Stdin (`dueq workflow -`), writing to stdout and stderr, and returns
// the exit code. Errors go to stderr, prefixed "dueq: ".
func Main(args []string, stdout, stderr io.Writer) int {
	return run(context.Background(), args, os.Stdin, stdout, stderr, os.Getenv)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	root := newRoot(getenv)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code, msg := describe(err)
	if msg != "" {
		fmt.Fprintf(stderr, "dueq: %s\n", msg)
	}
	return code
}

// globals are the root's persistent flags.
type globals struct {
	server, token string
	getenv        func(string) string
}

// client returns the API client the persistent flags describe. The token
// comes from --token, else from DUEQ_TOKEN (read here, not shown as the
// flag's default, so help never prints it).
func (g *globals) client() *apiclient.Client {
	token := g.token
	if token == "" {
		token = g.getenv("DUEQ_TOKEN")
	}
	return &apiclient.Client{BaseURL: g.server, Token: token}
}

// warnOn prints each warning of the daemon's answers on c's stderr as a
// line "warning: ...", so stdout keeps only what the command prints.
func warnOn(c *cobra.Command) func(string) {
	return func(w string) { fmt.Fprintf(c.ErrOrStderr(), "warning: %s\n", w) }
}

func newRoot(getenv func(string) string) *cobra.Command {
	g := &globals{getenv: getenv}
	root := &cobra.Command{
		Use:   "dueq",
		Short: "dueq schedules tasks on Redis: run a daemon, submit tasks to it",
		Long: `dueq is a task scheduler daemon backed by Redis. Tasks run now, at a time,
after a delay, every interval, on a cron schedule, or when the tasks they
depend on have finished, receiving their results; any number of daemons
share one Redis and split the work.

  dueq serve                          run a daemon (an embedded Redis when none is configured)
  dueq submit echo '{"a":1}' --wait   submit a task and print its result
  dueq submit echo --after ID         run a task when task ID has finished
  dueq submit echo --every 8s         run a task every 8 seconds; print the schedule's id
  dueq workflow flow.yaml             submit a graph of tasks; print each node's id
  dueq events                         tail what happens to tasks on every daemon

Exit codes, for every command: 0 success; 1 a task that ended failed or
canceled (wait, submit --wait, workflow --wait); 2 any error: bad usage, a
request the server rejected (4xx), the server or Redis unreachable, a
timeout.`,
		Version:       thisBuild().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("{{.Version}}")
	server := getenv("DUEQ_SERVER")
	if server == "" {
		server = apiclient.DefaultServer
	}
	root.PersistentFlags().StringVar(&g.server, "server", server, "URL of a daemon's HTTP API (env DUEQ_SERVER)")
	root.PersistentFlags().StringVar(&g.token, "token", "", "bearer token of the daemon's API (env DUEQ_TOKEN)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usage(c, err) })
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(
		newServe(),
		newSubmit(g),
		newWorkflow(g),
		newStatus(g),
		newWait(g),
		newCancel(g),
		newRetry(g), newEvents(g),
		newList(g),
		newSchedules(g),
		newStats(g),
		newQueues(g), newPause(g), newResume(g),
		newBench(),
		newVersion(),
	)
	return root
}

// exitError is an error with its exit code. An empty message prints nothing
// (the command already said what happened).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usage wraps err as a usage error of command c: exit 2, with a pointer to
// the command's help.
func usage(c *cobra.Command, err error) error {
	return &exitError{code: ExitError, err: fmt.Errorf("%w\n(see '%s --help')", err, c.CommandPath())}
}

// usagef is usage with a formatted message.
func usagef(c *cobra.Command, format string, a ...any) error {
	return usage(c, fmt.Errorf(format, a...))
}

// requestError is the error of a failed API call: exit 2, whether the
// daemon rejected the request (any non-2xx answer, *apiclient.Error) or could not
// be reached (apiclient.ErrUnreachable, a broken connection). A 401 says how to
// pass the token.
func requestError(err error) error {
	var ae *apiclient.Error
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
		err = fmt.Errorf("%w: pass the daemon's http.token with --token or DUEQ_TOKEN", err)
	}
	return &exitError{code: ExitError, err: err}
}

// describe returns the exit code and message of an error from Execute.
func describe(err error) (int, string) {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code, ee.Error()
	}
	msg := err.Error()
	// Cobra's own errors: unknown command, wrong use of the root.
	if strings.HasPrefix(msg, "unknown command") || strings.Contains(msg, "unknown flag") {
		msg += "\nRun 'dueq --help' for usage."
	}
	return ExitError, msg
}

// args returns a cobra.PositionalArgs accepting min to max arguments, whose
// error is a usage error naming what is expected.
func args(min, max int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, a []string) error {
		if len(a) < min || len(a) > max {
			return usagef(c, "%s takes %s; got %d argument(s)", c.Name(), what, len(a))
		}
		return nil
	}
}
