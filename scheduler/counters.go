package scheduler

import (
	"sync/atomic"
	"time"
)

// counters count what a daemon's loops did; Counters reads them.
type counters struct {
	peeks, deadlineWakes, messageWakes, safetyWakes atomic.Int64
	announced, resubscribes                         atomic.Int64
	claimCalls, claimMisses, claimed, recovered     atomic.Int64
	finishCalls, claimNanos                         atomic.Int64
	succeeded, failed, retried, handedBack          atomic.Int64
	redisErrors, vanished, lostClaims               atomic.Int64
	outboxCompleted, pausedClaims                   atomic.Int64
}

// Counters is a snapshot of what a daemon's loops did since Start.
type Counters struct {
	Peeks         int64         // re-reads of the index heads
	DeadlineWakes int64         // waits ended by a due task or lease deadline
	MessageWakes  int64         // waits ended by a pub/sub announcement or resubscribe
	Announced     int64         // announcements received
	Resubscribes  int64         // pub/sub (re)subscriptions covering every channel again, each followed by a re-read
	SafetyWakes   int64         // waits ended by the safety cap
	ClaimCalls    int64         // claim script calls
	ClaimMisses   int64         // claim calls that got nothing (another daemon was first)
	Claimed       int64         // tasks claimed
	ClaimTime     time.Duration // time spent in claim round trips, in all; / ClaimCalls is a claim's latency
	FinishCalls   int64         // finish script calls: the loops' outcomes written together
	Recovered     int64         // tasks re-queued or failed after their lease expired
	Succeeded     int64
	Failed        int64 // final failures
	Retried       int64 // failed attempts put back for another try
	HandedBack    int64 // tasks returned to the index at shutdown
	RedisErrors   int64
	Vanished      int64 // task records found gone from Redis (evicted, or deleted by hand)
	LostClaims    int64 // running tasks another daemon re-claimed after this one's lease expired
	// OutboxCompleted counts the edges between partitions this daemon's
	// lease keeper completed for a writer that left them unfinished.
	OutboxCompleted int64
	// PausedClaims counts the claims that found their queue paused.
	PausedClaims int64
}

// Counters returns a snapshot of the daemon's counters.
func (s *Scheduler) Counters() Counters {
	c := &s.counters
	return Counters{
		Peeks: c.peeks.Load(), DeadlineWakes: c.deadlineWakes.Load(), MessageWakes: c.messageWakes.Load(),
		SafetyWakes: c.safetyWakes.Load(), Announced: c.announced.Load(), Resubscribes: c.resubscribes.Load(), ClaimCalls: c.claimCalls.Load(), ClaimMisses: c.claimMisses.Load(),
		Claimed: c.claimed.Load(), FinishCalls: c.finishCalls.Load(), ClaimTime: time.Duration(c.claimNanos.Load()), Recovered: c.recovered.Load(), Succeeded: c.succeeded.Load(),
		Failed: c.failed.Load(), Retried: c.retried.Load(), HandedBack: c.handedBack.Load(),
		RedisErrors: c.redisErrors.Load(), Vanished: c.vanished.Load(), LostClaims: c.lostClaims.Load(),
		OutboxCompleted: c.outboxCompleted.Load(), PausedClaims: c.pausedClaims.Load(),
	}
}
