package scheduler

import "time"

// preciseWindow is the last stretch before a deadline that a wait sleeps
// with sleepPrecisely instead of a runtime timer.
const preciseWindow = 2 * time.Millisecond

// deadline is the dispatcher's timer: a runtime timer for the bulk of a
// wait, ending preciseWindow before the deadline (a wake-up that only
// re-arms), and a precise sleep for the rest. Each precise sleep runs on a
// goroutine of its own; one left behind by a wait that ended early sends
// to a channel nobody reads and ends.
type deadline struct {
	timer *time.Timer
}

func newDeadline() *deadline {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &deadline{timer: t}
}

// after returns a channel that receives at (about) at, and whether the
// wake-up there is the deadline itself (true) or an early one to re-arm.
// Without precise, the runtime timer serves the whole wait.
func (d *deadline) after(now, at time.Time, precise bool) (<-chan time.Time, bool) {
	left := at.Sub(now)
	if !precise {
		d.timer.Reset(max(left, 0))
		return d.timer.C, true
	}
	if left > preciseWindow {
		d.timer.Reset(left - preciseWindow)
		return d.timer.C, false
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
