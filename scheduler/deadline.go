package scheduler

import (
	"time"

	"github.com/dueq/dueq/clock"
)

// preciseWindow is the last stretch before a deadline that a wait sleeps
// with sleepPrecisely instead of a runtime timer.
const preciseWindow = 2 * time.Millisecond

// deadline is the dispatcher's timer: a runtime timer for the bulk of a
// wait, ending preciseWindow before the deadline (a wake-up that only
// re-arms), and a precise sleep for the rest. Each precise sleep runs on a
// goroutine of its own; one left behind by a wait that ended early sends
// to a channel nobody reads and ends.
type deadline struct {
	timer   clock.Timer
	precise bool // the last stretch is slept precisely: the runtime's timers serve the rest
}

// newDeadline makes the timer of a dispatcher whose clock is clock
// (timersOf).
func newDeadline(clock Clock) *deadline {
	timers, own := timersOf(clock)
	t := timers.NewTimer(time.Hour)
	t.Stop()
	return &deadline{timer: t, precise: !own}
}

// after returns a channel that receives at (about) at, and whether the
// wake-up there is the deadline itself (true) or an early one to re-arm.
// Without precise (or with a clock of its own), the timer serves the whole
// wait.
func (d *deadline) after(now, at time.Time, precise bool) (<-chan time.Time, bool) {
	left := at.Sub(now)
	if !precise || !d.precise {
		d.timer.Reset(max(left, 0))
		return d.timer.Chan(), true
	}
	if left > preciseWindow {
		d.timer.Reset(left - preciseWindow)
		return d.timer.Chan(), false
	}
	ch := make(chan time.Time, 1)
	go func() {
		sleepPrecisely(left)
		ch <- time.Now()
	}()
	return ch, true
}

// stop stops the runtime timer and drains its channel, so the next after
// starts clean.
func (d *deadline) stop() { stopTimer(d.timer) }
