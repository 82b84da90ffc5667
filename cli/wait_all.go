package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/dueq/dueq/apiclient"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// Re-reads of a multi-task wait: the event stream says when tasks finish,
// but pub/sub may lose a message (and the daemon subscribes to Redis a
// moment after the stream opens), so unfinished tasks are also re-read
// firstRecheck after the start or a resync, then at doubling intervals up
// to maxRecheck.
const (
	firstRecheck = 250 * time.Millisecond
	maxRecheck   = 30 * time.Second
)

// getConcurrency bounds the records read at once by a re-read.
const getConcurrency = 8

// waitAll waits until every task of ids (at least two, no duplicates) has
// finished, timeout passes (0: no limit) or SIGINT or SIGTERM arrives,
// following the event stream and re-reading records only at the start, on
// a resync and as a slow safety net. It shows its progress (see progress),
// whose bar it ends with a newline however the wait ends, and returns nil
// when all succeeded, exit 1 when any failed or was canceled, exit 2 on a
// timeout, an interrupt or an error.
func waitAll(c *cobra.Command, cl *apiclient.Client, ids []string, timeout time.Duration) error {
	// A signal ends the wait like its context does, so the bar's line is
	// ended and the unfinished tasks are named.
	interrupted, stopSignals := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	ctx := interrupted
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	prog := newProgress(c.OutOrStdout(), c.ErrOrStderr(), len(ids))
	defer prog.stop()

	// Open the stream before the first read, so that what finishes during
	// the read is seen; the re-reads cover what the stream misses.
	streamCtx, stopStream := context.WithCancel(ctx)
	events := make(chan wire.Event, 1024)
	streamErr := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		streamErr <- follow(streamCtx, cl, prog.note, func(e wire.Event) error {
			select {
			case events <- e:
			case <-streamCtx.Done():
			}
			return nil
		})
	}()
	defer func() {
		stopStream()
		<-exited
	}()

	pending := make(map[string]bool, len(ids))
	for _, id := range ids {
		pending[id] = true
	}
	states := map[string]tasks.State{}
	finish := func(id string, st tasks.State) {
		if pending[id] {
			delete(pending, id)
			states[id] = st
			prog.finished(id, st)
		}
	}
	recheck := func(first bool) error {
		recs, err := getAll(ctx, cl, sortedKeys(pending, ids))
		var ae *apiclient.Error
		if err != nil && (first || errors.As(err, &ae)) && ctx.Err() == nil {
			return err // an unknown id, a wrong token, no daemon at the start
		}
		for _, t := range recs {
			if t != nil && t.State.Finished() {
				finish(t.ID, t.State)
			}
		}
		return nil // else the daemon is away: the stream reconnects, and we read again
	}

	if err := recheck(true); err != nil {
		return requestError(err)
	}
	prog.start()
	every := firstRecheck
	timer := time.NewTimer(every)
	defer timer.Stop()
	for len(pending) > 0 && ctx.Err() == nil {
		var err error
		select {
		case e := <-events:
			switch e.Kind {
			case wire.EventSucceeded, wire.EventFailed, wire.EventCanceled:
				finish(e.ID, tasks.State(e.Kind))
			case wire.EventResync:
				err = recheck(false)
				every = firstRecheck
				timer.Reset(every)
			}
		case <-timer.C:
			err = recheck(false)
			every = min(2*every, maxRecheck)
			timer.Reset(every)
		case err = <-streamErr:
			if err != nil { // else ctx ended
				err = fmt.Errorf("follow the event stream: %w", err)
			}
		case <-ctx.Done():
		}
		if err != nil {
			prog.stop()
			return requestError(err)
		}
	}
	prog.stop()

	var failed []string
	for _, id := range ids {
		if st, ok := states[id]; ok && st != tasks.Succeeded {
			failed = append(failed, id+" "+string(st))
		}
	}
	switch {
	case len(pending) > 0:
		msg := fmt.Sprintf("%d of %d tasks still unfinished after %s: %s", len(pending), len(ids), timeout, listSome(sortedKeys(pending, ids)))
		if interrupted.Err() != nil {
			msg = fmt.Sprintf("wait interrupted with %d of %d tasks unfinished: %s", len(pending), len(ids), listSome(sortedKeys(pending, ids)))
		} else if timeout > 0 {
			msg += ": run 'dueq wait' on them again, or give a longer --timeout"
		}
		if len(failed) > 0 {
			msg += fmt.Sprintf("; %d did not succeed: %s", len(failed), listSome(failed))
		}
		return &exitError{code: ExitError, err: errors.New(msg)}
	case len(failed) > 0:
		return &exitError{code: ExitFailed, err: fmt.Errorf("%d of %d tasks did not succeed: %s ('dueq status ID' shows why; 'dueq retry ID' runs one again)", len(failed), len(ids), listSome(failed))}
	}
	return nil
}

// getAll reads the records of ids, a few at a time. A record that could
// not be read is nil; the error is that of the first such id.
func getAll(ctx context.Context, cl *apiclient.Client, ids []string) ([]*tasks.Task, error) {
	recs := make([]*tasks.Task, len(ids))
	errs := make([]error, len(ids))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(getConcurrency, len(ids)) {
		wg.Go(func() {
			for i := range next {
				recs[i], errs[i] = cl.Get(ctx, ids[i])
			}
		})
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return recs, fmt.Errorf("wait for task %s: %w", ids[i], err)
		}
	}
	return recs, nil
}

// sortedKeys returns the ids of order that are in set, in that order.
func sortedKeys(set map[string]bool, order []string) []string {
	out := make([]string, 0, len(set))
	for _, id := range order {
		if set[id] {
			out = append(out, id)
		}
	}
	return out
}

// listSome joins up to ten items with ", " and says how many more there are.
func listSome(items []string) string {
	const most = 10
	if len(items) <= most {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:most], ", ") + fmt.Sprintf(" and %d more", len(items)-most)
}
