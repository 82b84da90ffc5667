package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

// An entry of the timing index whose id holds white space (written by
// hand: dueq never makes such an id) is one entry. Claim replies give the
// due heads as one string of ids separated by spaces, which splits it into
// two ids that name no entry: the daemon claims them in vain, in a loop that
// never waits, and never names the task behind them, which stays scheduled.
// Before the heads became one string, the entry was claimed, found to have
// no record and dropped from the index.
func TestADueEntryWhoseIDHoldsASpaceDoesNotBlockItsQueue(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1})
	k := e.keys
	s := e.start()
	require.Eventually(t, func() bool { return s.disp.idleWaiting() }, 5*time.Second, time.Millisecond)
	// A task the daemon knows of, and just before it in the index an
	// entry it does not know of (no announcement): the claim of the first
	// returns the second among its due heads.
	first := e.submit(tasks.Spec{Name: "gated", In: 300 * time.Millisecond})
	_, err := e.mr.ZAdd(k.Due("default"), float64(first.DueAt.UnixMilli()-1), "junk id")
	require.NoError(t, err)
	e.waitRun(first.ID, 5*time.Second)
	claims := s.counters.claimCalls.Load()
	close(e.gate)
	e.wait(first.ID, 5*time.Second)

	behind := e.submit(tasks.Spec{Name: "record"})
	// Longer than the safety wait (5 s), which a loop that never waits
	// never reaches.
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()
	got, err := e.client.Wait(ctx, behind.ID)
	require.NoError(t, err, "the task behind the entry never ran: it is %s", got.State)
	require.Less(t, s.counters.claimCalls.Load()-claims, int64(50), "the daemon claimed in a loop")
}
