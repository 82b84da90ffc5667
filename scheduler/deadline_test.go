package scheduler

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/store"
)

// A wait sleeps on the runtime timer until preciseWindow before its
// deadline, then precisely; neither stage fires early.
func TestDeadlineWakesEarlyOnceThenOnTime(t *testing.T) {
	t.Parallel()
	d := newDeadline(systemClock{})
	now := time.Now()
	at := now.Add(preciseWindow + 20*time.Millisecond)

	fire, exact := d.after(now, at, true)
	require.False(t, exact, "far from the deadline: a runtime timer that wakes early")
	woke := <-fire
	d.stop()
	require.False(t, woke.Before(now.Add(20*time.Millisecond)))
	require.True(t, woke.Before(at), "it wakes before the deadline, to sleep the rest precisely")

	now = time.Now()
	fire, exact = d.after(now, at, true)
	require.True(t, exact)
	require.False(t, (<-fire).Before(at), "never early")
	d.stop()

	now = time.Now()
	fire, exact = d.after(now, now.Add(preciseWindow+5*time.Millisecond), false)
	require.True(t, exact, "a wait that needs no precision is one runtime timer")
	require.False(t, (<-fire).Before(now.Add(preciseWindow+5*time.Millisecond)))
	d.stop()
}

func TestAnAnnouncementReplacesTheDueTimeKnown(t *testing.T) {
	t.Parallel()
	h := heads{}
	q := lane{0, "q"}
	h.set(q, []store.Head{{ID: "a", Due: 100}, {ID: "b", Due: 3600000}})
	h.add(q, []store.Head{{ID: "b", Due: 50}}, 4)
	require.Equal(t, []store.Head{{ID: "b", Due: 50}, {ID: "a", Due: 100}}, h[q])
}
