package clock

import (
	"sync"
	"time"
)

// Fake is a clock that moves only when a test moves it, with timers and
// tickers (Timers): a timer fires, and a ticker ticks, when Advance takes
// the clock past its time. Give it to a scheduler as Config.Clock, and move
// Redis's clock with it (onAdvance of NewFake; an embedded or miniredis
// Redis can be set, a real one cannot): leases, renewals and their expiry
// then happen when the test says, not after real time went by.
type Fake struct {
	mu        sync.Mutex
	now       time.Time
	timers    map[*fakeTimer]struct{}
	onAdvance func(time.Time)
}

// NewFake returns a clock at now; onAdvance, if not nil, is called with
// the new time at once and on every Advance, before any timer fires (to
// set miniredis's clock, say).
func NewFake(now time.Time, onAdvance func(time.Time)) *Fake {
	if onAdvance != nil {
		onAdvance(now)
	}
	return &Fake{now: now, timers: map[*fakeTimer]struct{}{}, onAdvance: onAdvance}
}

// Now is the clock's time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock d forward and fires what came due: each timer
// once, each ticker once (a ticker's channel holds one tick, as the
// runtime's does).
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	if c.onAdvance != nil {
		c.onAdvance(now)
	}
	for t := range c.timers {
		if t.at.After(now) {
			continue
		}
		select {
		case t.ch <- now:
		default:
		}
		if t.every > 0 {
			for !t.at.After(now) {
				t.at = t.at.Add(t.every)
			}
		} else {
			delete(c.timers, t)
		}
	}
	c.mu.Unlock()
}

// Waiters is how many timers and tickers are set: a test waits for the
// count it expects before it advances the clock past them.
func (c *Fake) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

type fakeTimer struct {
	c     *Fake
	ch    chan time.Time
	at    time.Time
	every time.Duration // a ticker's period; 0 for a timer
}

func (c *Fake) add(d, every time.Duration) *fakeTimer {
	t := &fakeTimer{c: c, ch: make(chan time.Time, 1), every: every}
	t.Reset(d)
	return t
}

// NewTimer returns a timer that fires d after the clock's now.
func (c *Fake) NewTimer(d time.Duration) Timer { return c.add(d, 0) }

// NewTicker returns a ticker that ticks every d; d must be positive (as
// time.NewTicker's: a ticker of no period would tick without end).
func (c *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive interval for NewTicker")
	}
	return tickerOf{c.add(d, d)}
}

func (t *fakeTimer) Chan() <-chan time.Time { return t.ch }

// Reset sets the timer to fire d after the clock's now.
func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, active := t.c.timers[t]
	t.at = t.c.now.Add(d)
	t.c.timers[t] = struct{}{}
	if d <= 0 && t.every == 0 {
		select {
		case t.ch <- t.c.now:
		default:
		}
		delete(t.c.timers, t)
	}
	return active
}

// Stop stops the timer; it reports whether it was set.
func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, active := t.c.timers[t]
	delete(t.c.timers, t)
	return active
}

type tickerOf struct{ t *fakeTimer }

func (k tickerOf) Chan() <-chan time.Time { return k.t.ch }
func (k tickerOf) Stop()                  { k.t.Stop() }
