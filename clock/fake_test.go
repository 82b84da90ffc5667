package clock

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// received reports whether ch holds a value now.
func received(ch <-chan time.Time) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// A fake clock's timers fire, and its tickers tick, only when Advance takes
// it past their time; the callback sees each new time first.
func TestAFakeClockFiresWhatAdvanceMakesDue(t *testing.T) {
	t.Parallel()
	start := time.Unix(1700000000, 0)
	var seen []time.Time
	c := NewFake(start, func(now time.Time) { seen = append(seen, now) })
	require.Equal(t, []time.Time{start}, seen)

	timer := c.NewTimer(time.Second)
	tick := c.NewTicker(400 * time.Millisecond)
	require.Equal(t, 2, c.Waiters())
	c.Advance(399 * time.Millisecond)
	require.False(t, received(timer.Chan()))
	require.False(t, received(tick.Chan()))
	c.Advance(time.Millisecond)
	require.True(t, received(tick.Chan()), "the ticker's first tick")
	require.False(t, received(timer.Chan()))
	c.Advance(600 * time.Millisecond)
	require.True(t, received(timer.Chan()), "the timer at 1s")
	require.True(t, received(tick.Chan()), "one tick held, however many went by")
	require.False(t, received(tick.Chan()))
	require.Equal(t, 1, c.Waiters(), "a fired timer is no longer set; the ticker is")
	require.Equal(t, start.Add(time.Second), c.Now())
	require.Equal(t, c.Now(), seen[len(seen)-1])

	require.False(t, timer.Reset(time.Second), "it had fired")
	require.True(t, timer.Stop())
	c.Advance(time.Hour)
	require.False(t, received(timer.Chan()), "stopped")
	tick.Stop()
	require.Zero(t, c.Waiters())

	require.Panics(t, func() { c.NewTicker(0) }, "as time.NewTicker does")
	now := c.NewTimer(0)
	require.True(t, received(now.Chan()), "a timer for now fires at once")
	Stop(now)
}

// TimersOf gives a clock's own timers, or the runtime's for a clock
// without them.
func TestTimersOfAClock(t *testing.T) {
	t.Parallel()
	fake := NewFake(time.Unix(0, 0), nil)
	got, own := TimersOf(fake)
	require.True(t, own)
	require.Equal(t, fake, got)
	rt, own := TimersOf(system{})
	require.False(t, own)
	tm := rt.NewTimer(time.Millisecond)
	<-tm.Chan()
	tk := rt.NewTicker(time.Millisecond)
	<-tk.Chan()
	tk.Stop()
}

type system struct{}

func (system) Now() time.Time { return time.Now() }
