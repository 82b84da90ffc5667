package cli

import (
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/spf13/cobra"

	"github.com/dueq/dueq/deps"
	"github.com/dueq/dueq/wire"
)

func newWorkflow(g *globals) *cobra.Command {
	var wait bool
	c := &cobra.Command{
		Use:   "workflow FILE",
		Short: "Submit a graph of tasks from a YAML or JSON file; print each node's id",
		Long: `Submit a whole graph of tasks from FILE (- reads stdin), a YAML or JSON
document of named nodes, and print a JSON object mapping each
node's name to its task id.

A node's fields are name, task (the handler), args, after (names of other
nodes, whose outcomes it receives in that order), in or at, queue,
max_attempts, timeout and on_parent_failure (fail, run or skip), as for
'dueq submit'. The document is checked whole before anything is written:
unknown or duplicate names, cycles (spelled out), unknown fields and bad
values fail here with exit 2, without contacting the server; the daemon
also checks every node's handler against the live daemons, as for 'dueq
submit' (a refusal names the node; each warning, "warning: node NAME: ...",
goes to stderr). Then all tasks are written in one atomic step, or none.

  nodes:
    - name: extract
      task: shell
      args: {cmd: [pg_dump, shop]}
    - name: report
      task: echo
      after: [extract]
      on_parent_failure: run`,
		Example: `  dueq workflow flow.yaml
  dueq workflow flow.yaml --wait
  dueq workflow - < flow.json
  id=$(dueq workflow flow.yaml | jq -r .report) && dueq wait "$id"`,
		Args: args(1, 1, "one file name, or - for stdin"),
		RunE: func(c *cobra.Command, a []string) error {
			doc, err := readDocument(c, a[0])
			if err != nil {
				return err
			}
			if _, err := deps.Parse(doc); err != nil {
				return usagef(c, "%s: %v", a[0], err)
			}
			cl := g.client()
			cl.Warn = warnOn(c)
			wid, ids, err := cl.SubmitWorkflow(c.Context(), doc)
			if err != nil {
				return requestError(err)
			}
			if err := printJSON(c.OutOrStdout(), ids); err != nil {
				return err
			}
			if wid != "" && isTerminal(c.ErrOrStderr()) { // a hint for people, not for scripts
				fmt.Fprintf(c.ErrOrStderr(), "workflow %s: `dueq status %s` shows its nodes\n", wid, wid)
			}
			if !wait {
				return nil
			}
			all := make([]string, 0, len(ids))
			for _, id := range ids {
				all = append(all, id)
			}
			sort.Strings(all) // ids sort by creation, so by node order
			if len(all) == 1 {
				return waitAndReport(c, cl, all[0], 0, false)
			}
			return waitAll(c, cl, all, 0)
		},
	}
	c.Flags().BoolVar(&wait, "wait", false, "then wait for every node as 'dueq wait ID...' does: a progress bar on a terminal, a line per task otherwise; exit 1 if any failed or was canceled")
	return c
}

// readDocument reads a workflow file, or stdin for "-", refusing one larger
// than the API accepts.
func readDocument(c *cobra.Command, name string) ([]byte, error) {
	var r io.Reader = c.InOrStdin()
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, &exitError{code: ExitError, err: fmt.Errorf("workflow file: %w", err)}
		}
		defer f.Close()
		r = f
	}
	doc, err := io.ReadAll(io.LimitReader(r, wire.MaxBodyBytes+1))
	if err != nil {
		return nil, &exitError{code: ExitError, err: fmt.Errorf("read %s: %w", name, err)}
	}
	if len(doc) > wire.MaxBodyBytes {
		return nil, usagef(c, "%s is larger than %d bytes, the API's limit: split the workflow, or keep large data elsewhere and pass a reference in args", name, wire.MaxBodyBytes)
	}
	return doc, nil
}
