package cli

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Stopped, the bar draws no more: a note that comes later (the event
// stream's, as the wait ends) is a line of its own, and stop is safe twice.
func TestProgressDrawsNothingAfterStop(t *testing.T) {
	t.Parallel()
	var out, errOut strings.Builder
	p := &progress{out: &out, errOut: &errOut, bar: true, total: 2}
	p.start()
	p.finished("a", "succeeded")
	p.stop()
	p.note("event stream: closed; reconnecting in 250ms")
	p.finished("b", "failed")
	p.stop()
	require.Equal(t, "\r[..............................] 0/2 done, 0 failed"+
		"\r[###############...............] 1/2 done, 0 failed\n"+
		"dueq: event stream: closed; reconnecting in 250ms\n", errOut.String())
	require.Empty(t, out.String())

	// Not on a terminal: a line per task on stdout, and stop adds nothing.
	out.Reset()
	errOut.Reset()
	p = &progress{out: &out, errOut: &errOut, total: 1}
	p.start()
	p.finished("a", "failed")
	p.stop()
	require.Equal(t, "a failed\n", out.String())
	require.Empty(t, errOut.String())
}
