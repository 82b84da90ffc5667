package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/dueq/dueq/apiclient"
	"github.com/dueq/dueq/wire"
)

// Reconnect backoff of the event stream: the first retry after a drop
// waits firstReconnect, each further one twice as long, up to
// maxReconnect; a stream that delivered an event starts over.
const (
	firstReconnect = 250 * time.Millisecond
	maxReconnect   = 5 * time.Second
)

func newEvents(g *globals) *cobra.Command {
	var jsonOut bool
	c := &cobra.Command{
		Use:   "events",
		Short: "Follow what happens to tasks, one line per event",
		Long: `Follow the daemon's event stream and print one line per event:

  TIME KIND ID NAME QUEUE

TIME is the local time the daemon saw it (15:04:05.000); KIND is queued,
started, retrying, succeeded, failed or canceled, for tasks on every
daemon of the namespace, or resync (no id, name or queue: "-") when events
may have been missed. With --json each event is a JSON object on its own
line: {"kind","id","queue","name","at"}.

Events are fire-and-forget: those sent while no stream is open are lost.
When the connection drops, events says so on stderr, reconnects after a
short pause and prints a resync line. It runs until interrupted (Ctrl-C),
then exits 0.`,
		Example: `  dueq events
  dueq events --json | jq -c 'select(.kind == "failed")'`,
		Args: args(0, 0, "no arguments"),
		RunE: func(c *cobra.Command, a []string) error {
			ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out, errOut := c.OutOrStdout(), c.ErrOrStderr()
			note := func(msg string) { fmt.Fprintf(errOut, "dueq: %s\n", msg) }
			resynced := false // the last line printed is a resync: another says nothing new
			err := follow(ctx, g.client(), note, func(e wire.Event) error {
				if e.Kind == wire.EventResync && resynced {
					return nil
				}
				resynced = e.Kind == wire.EventResync
				return printEvent(out, e, jsonOut)
			})
			if err != nil {
				return requestError(err)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&jsonOut, "json", false, "print each event as a JSON object on its own line")
	return c
}

// printEvent writes e as "TIME KIND ID NAME QUEUE", or as JSON.
func printEvent(w io.Writer, e wire.Event, jsonOut bool) error {
	if jsonOut {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode event %s %s: %w", e.Kind, e.ID, err)
		}
		_, err = fmt.Fprintln(w, string(b))
		return err
	}
	at := e.At
	if at.IsZero() {
		at = time.Now()
	}
	_, err := fmt.Fprintf(w, "%s %-9s %s %s %s\n", at.Local().Format("15:04:05.000"), e.Kind, dash(e.ID), dash(e.Name), dash(e.Queue))
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// follow hands the daemon's events to fn until ctx ends (nil) or fn
// returns an error (that error). When an open stream drops, or the daemon
// cannot be reached after it was once, it tells note, waits a backoff,
// hands fn a resync event (events were lost meanwhile) and reconnects. A
// first connection that fails, and a refused request (*apiclient.Error 4xx,
// e.g. a wrong token), return the error.
func follow(ctx context.Context, cl *apiclient.Client, note func(string), fn func(wire.Event) error) error {
	var (
		backoff   time.Duration
		connected bool // a stream was open once: the daemon exists
	)
	for {
		var fnErr error
		got := false
		err := cl.Events(ctx, func(e wire.Event) error {
			got = true
			fnErr = fn(e)
			return fnErr
		})
		switch {
		case fnErr != nil:
			return fnErr
		case err == nil || ctx.Err() != nil:
			return nil
		}
		var ae *apiclient.Error
		ended := errors.Is(err, apiclient.ErrStreamEnded)
		if !ended && !(connected && (errors.Is(err, apiclient.ErrUnreachable) || errors.As(err, &ae) && ae.Status >= 500)) {
			return err
		}
		connected = true
		if got {
			backoff = 0
		}
		backoff = min(max(2*backoff, firstReconnect), maxReconnect)
		note(fmt.Sprintf("event stream: %v; reconnecting in %s", err, backoff))
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil
		}
		if err := fn(wire.Event{Kind: wire.EventResync, At: time.Now()}); err != nil {
			return err
		}
	}
}
