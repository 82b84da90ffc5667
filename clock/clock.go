// Package clock is the time a dueq daemon goes by: a Clock tells it, and a
// clock with Timers also makes the timers the daemon waits on, so a test
// can move time by hand (Fake) instead of waiting for it.
package clock

import "time"

// Clock tells the time.
type Clock interface{ Now() time.Time }

// Timers makes timers and tickers. A scheduler whose Config.Clock has
// these methods waits on them (for the next deadline, and to renew its
// leases); with any other Clock it uses the runtime's.
type Timers interface {
	NewTimer(d time.Duration) Timer
	NewTicker(d time.Duration) Ticker
}

// Timer is a time.Timer as Timers makes it.
type Timer interface {
	Chan() <-chan time.Time
	Reset(d time.Duration) bool
	Stop() bool
}

// Ticker is a time.Ticker as Timers makes it.
type Ticker interface {
	Chan() <-chan time.Time
	Stop()
}

// TimersOf returns the timers of c: its own when it has them (own), else
// the runtime's.
func TimersOf(c Clock) (t Timers, own bool) {
	if t, ok := c.(Timers); ok {
		return t, true
	}
	return runtime{}, false
}

// runtime is the runtime's clock and timers.
type runtime struct{}

func (runtime) NewTimer(d time.Duration) Timer   { return runtimeTimer{time.NewTimer(d)} }
func (runtime) NewTicker(d time.Duration) Ticker { return runtimeTicker{time.NewTicker(d)} }

type runtimeTimer struct{ *time.Timer }

func (t runtimeTimer) Chan() <-chan time.Time { return t.C }

type runtimeTicker struct{ *time.Ticker }

func (t runtimeTicker) Chan() <-chan time.Time { return t.C }

// Stop stops t and drains its channel, so a Reset starts clean.
func Stop(t Timer) {
	if !t.Stop() {
		select {
		case <-t.Chan():
		default:
		}
	}
}
