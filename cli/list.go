package cli

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// Widths of the table of dueq list: the line it fits when stdout is not a
// terminal and COLUMNS is not set, and the least room the ERROR column
// keeps however narrow the line.
const (
	defaultListWidth = 120
	minErrorWidth    = 20
)

func newList(g *globals) *cobra.Command {
	var (
		opts    wire.ListOptions
		state   string
		jsonOut bool
	)
	c := &cobra.Command{
		Use:   "list",
		Short: "List tasks",
		Long: `List tasks as a table (id, name, state, queue, due time), or as a JSON
array of records with --json. Running tasks come first, then scheduled ones
by due time, then waiting ones, then finished ones, newest first.

With --state succeeded, failed or canceled the time column is the finished
time instead. When a listed task has an error (a failed task's, a canceled
one's reason, a retrying task's last error), an ERROR column shows it on one
line, cut to fit the terminal's width (COLUMNS, else 120 columns, when
stdout is not a terminal); 'dueq status ID' and --json show it whole.`,
		Example: `  dueq list
  dueq list --state failed --name shell --limit 20
  dueq list --queue mail --state scheduled`,
		Args: args(0, 0, "no arguments (use --state, --name and --queue to filter)"),
		RunE: func(c *cobra.Command, a []string) error {
			if state != "" {
				st, err := tasks.ParseState(state)
				if err != nil {
					return usagef(c, "--state: %v", err)
				}
				opts.State = st
			}
			if opts.Queue != "" && !tasks.ValidQueue(opts.Queue) {
				return usagef(c, "--queue %.70q: a queue name is 1-64 letters, digits or _.-", opts.Queue)
			}
			if opts.Limit < 0 {
				return usagef(c, "--limit %d is negative: give 1 or more, or 0 for the server's default", opts.Limit)
			}
			list, err := g.client().List(c.Context(), opts)
			if err != nil {
				return requestError(err)
			}
			if jsonOut {
				if list == nil {
					list = []*tasks.Task{}
				}
				return printJSON(c.OutOrStdout(), list)
			}
			return printList(c.OutOrStdout(), list, opts.State.Finished(), lineWidth(c.OutOrStdout(), g.getenv))
		},
	}
	f := c.Flags()
	f.StringVar(&state, "state", "", "only tasks in this state: scheduled, waiting, running, succeeded, failed or canceled")
	f.StringVar(&opts.Name, "name", "", "only tasks of this handler name")
	f.StringVar(&opts.Queue, "queue", "", "only tasks of this queue")
	f.IntVar(&opts.Limit, "limit", 0, "at most this many tasks (0: the server's default, 100)")
	f.BoolVar(&jsonOut, "json", false, "print a JSON array of task records")
	return c
}

// printList writes the table of dueq list: the finished time in place of
// the due time when finished, and an ERROR column, cut to fit width, when
// any task has an error.
func printList(w io.Writer, list []*tasks.Task, finished bool, width int) error {
	header := []string{"ID", "NAME", "STATE", "QUEUE", "DUE"}
	if finished {
		header[4] = "FINISHED"
	}
	rows := [][]string{header}
	withErrors := false
	for _, t := range list {
		at := t.DueAt
		if finished {
			at = t.FinishedAt
		}
		rows = append(rows, []string{t.ID, t.Name, string(t.State), t.Queue, timeOrDash(at)})
		withErrors = withErrors || t.Error != ""
	}
	if withErrors {
		// The columns before ERROR are as wide as their widest cell plus
		// the tabwriter's padding of 2; ERROR gets the rest of the line.
		used := 0
		for col := range header {
			widest := 0
			for _, r := range rows {
				widest = max(widest, utf8.RuneCountInString(r[col]))
			}
			used += widest + 2
		}
		room := max(width-used, minErrorWidth)
		rows[0] = append(rows[0], "ERROR")
		for i, t := range list {
			rows[i+1] = append(rows[i+1], cut(oneLine(t.Error), room))
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// oneLine makes s one line of printable text: control characters (newlines,
// tabs, terminal escapes) become spaces and runs of spaces one; "" is "-".
func oneLine(s string) string {
	s = strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)), " ")
	if s == "" {
		return "-"
	}
	return s
}

// cut shortens s to at most n runes, ending it with "..." when cut.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:max(n-3, 0)]) + "..."
}

// lineWidth is the width a table on w should fit: the terminal's, else
// COLUMNS, else defaultListWidth.
func lineWidth(w io.Writer, getenv func(string) string) int {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return cols
		}
	}
	if n, err := strconv.Atoi(getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return defaultListWidth
}
