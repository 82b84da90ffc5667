package scheduler

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// redisClock is Redis's clock as this process sees it: the local clock
// plus the offset observed in Redis's replies. The scripts decide with
// Redis's own clock (TIME): what is due, which lease expired, when a task
// started and finished. This clock only steers a daemon's waits, so an
// error in it costs an early or late wake-up, never an early start or a
// stolen lease.
type redisClock struct {
	local  Clock
	offset atomic.Int64 // ns to add to the local clock
	seen   atomic.Bool
	at     atomic.Int64 // local time of the latest sample, ns
}

// offsetFresh is how long a sample of the offset serves an idle daemon (one
// with no deadline to wait for) before its next re-read asks for Redis's
// time again. Clocks drift by far less than a millisecond in that time.
const offsetFresh = 30 * time.Second

// stale reports whether the offset needs a new sample.
func (c *redisClock) stale() bool {
	return !c.seen.Load() || c.local.Now().Sub(time.Unix(0, c.at.Load())) > offsetFresh
}

// Now is Redis's time by the latest estimate (the local time until a
// reply has been seen).
func (c *redisClock) Now() time.Time {
	return c.local.Now().Add(time.Duration(c.offset.Load()))
}

// offsetJump is how far a sample must be from the estimate to replace it
// at once (a clock was set) instead of moving it by an eighth.
const offsetJump = 50 * time.Millisecond

// observe takes Redis's time, in µs, from the reply to a request sent at
// sent and answered at recv by the local clock. With exact, the sample
// replaces the estimate (a claim found nothing due that the estimate
// thought due: the estimate is off), else it moves it by an eighth, unless
// it is offsetJump away (a clock was set).
func (c *redisClock) observe(sent, recv time.Time, redisUs int64, exact bool) {
	if redisUs <= 0 {
		return
	}
	c.at.Store(recv.UnixNano())
	mid := sent.Add(recv.Sub(sent) / 2)
	sample := time.UnixMicro(redisUs).Sub(mid)
	cur := time.Duration(c.offset.Load())
	if !c.seen.Swap(true) || exact || sample-cur > offsetJump || cur-sample > offsetJump {
		c.offset.Store(int64(sample))
		return
	}
	c.offset.Store(int64(cur + (sample-cur)/8))
}

// syncClock reads Redis's time when the estimate is stale, for a decision
// made with it (the first slot of a schedule).
func (x *index) syncClock(ctx context.Context) error {
	if !x.clock.stale() {
		return nil
	}
	sent := x.clock.local.Now()
	t, err := x.rdb.Time(ctx).Result()
	if err != nil {
		return fmt.Errorf("read Redis's time: %w", err)
	}
	x.clock.observe(sent, x.clock.local.Now(), t.UnixMicro(), false)
	return nil
}
