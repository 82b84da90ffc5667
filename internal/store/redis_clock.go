package store

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisClock is Redis's clock as this process sees it: the local clock
// plus the offset observed in Redis's replies. The scripts decide with
// Redis's own clock (TIME): what is due, which lease expired, when a task
// started and finished. This clock only steers a daemon's waits, so an
// error in it costs an early or late wake-up, never an early start or a
// stolen lease.
//
// Each reply that carries Redis's time is a sample: Redis read its clock
// somewhere between sending and receiving, so the midpoint is off by at
// most half the round trip. The estimate is the sample of the shortest
// round trip in the last offsetFresh (as NTP does), so a slow reply (a
// claim queued behind another script) does not pull it off.
type RedisClock struct {
	local interface{ Now() time.Time }

	mu       sync.Mutex
	offset   time.Duration // to add to the local clock
	rtt      time.Duration // of the sample the offset comes from
	sampled  time.Time     // local time of that sample
	seen     bool
	latestAt time.Time // local time of the latest sample
}

// Now is Redis's time by the estimate (the local time until a reply has
// been seen).
func (c *RedisClock) Now() time.Time {
	c.mu.Lock()
	off := c.offset
	c.mu.Unlock()
	return c.local.Now().Add(off)
}

// offsetFresh is how long the best sample serves before any newer one
// replaces it, and how long an idle daemon (one with no deadline to wait
// for) goes before its next re-read asks Redis's time again. Clocks drift
// by far less than a millisecond in that time.
const offsetFresh = 30 * time.Second

// offsetJump is how far a sample must be from the estimate to replace it at
// once (a clock was set).
const offsetJump = 50 * time.Millisecond

// Stale reports whether the offset needs a new sample.
func (c *RedisClock) Stale() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.seen || c.local.Now().Sub(c.latestAt) > offsetFresh
}

// Observe takes Redis's time, in µs, from the reply to a request sent at
// sent and answered at recv by the local clock. With exact (a claim found
// nothing due that the estimate thought due: the estimate is off), the
// sample replaces the estimate whatever its round trip.
func (c *RedisClock) Observe(sent, recv time.Time, redisUs int64, exact bool) {
	if redisUs <= 0 {
		return
	}
	rtt := recv.Sub(sent)
	sample := time.UnixMicro(redisUs).Sub(sent.Add(rtt / 2))
	c.mu.Lock()
	defer c.mu.Unlock()
	c.latestAt = recv
	jump := sample-c.offset > offsetJump || c.offset-sample > offsetJump
	if !c.seen || exact || jump || rtt <= c.rtt || recv.Sub(c.sampled) > offsetFresh {
		c.offset, c.rtt, c.sampled, c.seen = sample, rtt, recv, true
	}
}

// SyncClock reads Redis's time when the estimate is stale, for a decision
// made with it (the first slot of a schedule).
func (s *Store) SyncClock(ctx context.Context) error {
	if !s.clock.Stale() {
		return nil
	}
	if err := s.prepare(ctx); err != nil {
		return err
	}
	sent := s.clock.local.Now()
	cmd, err := s.QueueTime(ctx, s.rdb)
	if err != nil {
		return err
	}
	us, err := RedisTime(cmd)
	if err != nil {
		return err
	}
	s.clock.Observe(sent, s.clock.local.Now(), us, false)
	return nil
}

// QueueTime queues in pipe (or sends, given a client) a read of Redis's
// clock on the server that holds the store's keys: on a Redis Cluster a
// TIME alone may reach another node, whose clock need not agree. Once it
// ran, RedisTime reads its reply.
func (s *Store) QueueTime(ctx context.Context, pipe redis.Scripter) (*redis.Cmd, error) {
	if err := s.prepare(ctx); err != nil {
		return nil, err
	}
	// The whole source each time: a pipeline is not sent again after
	// NOSCRIPT (send), and the script is a line.
	return s.form(clockScript).Eval(ctx, pipe, []string{s.keys.Queues()}), nil
}

// RedisTime reads the reply of a QueueTime command: Redis's time, µs.
func RedisTime(cmd *redis.Cmd) (int64, error) {
	v, err := cmd.Slice()
	if err != nil {
		return 0, fmt.Errorf("read Redis's time: %w", err)
	}
	if len(v) != 2 {
		return 0, fmt.Errorf("read Redis's time: unexpected reply %v", v)
	}
	sec, err1 := strconv.ParseInt(fmt.Sprint(v[0]), 10, 64)
	usec, err2 := strconv.ParseInt(fmt.Sprint(v[1]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("read Redis's time: unexpected reply %v", v)
	}
	return sec*1_000_000 + usec, nil
}
