package scheduler

import "github.com/dueq/dueq/clock"

// timersOf returns the timers of a daemon's clock: its own, when it has
// them (a test's clock moved by hand), else the runtime's. With a clock of
// its own, the last stretch of a wait is not slept precisely either: its
// time is the clock's.
func timersOf(c Clock) (clock.Timers, bool) { return clock.TimersOf(c) }

// stopTimer stops t and drains its channel, so Reset starts clean.
func stopTimer(t clock.Timer) { clock.Stop(t) }
