// Package backoff is the wait between tries of what failed against Redis:
// doubling from 50ms to 5s, slept with the caller's context.
package backoff

import (
	"context"
	"time"
)

// The first and the longest backoff.
const (
	First = 50 * time.Millisecond
	Max   = 5 * time.Second
)

// Next doubles a backoff from First (after 0) up to Max.
func Next(d time.Duration) time.Duration {
	if d == 0 {
		return First
	}
	return min(2*d, Max)
}

// Sleep waits d or until ctx is done; it reports whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
