//go:build !linux

package scheduler

import "time"

// sleepPrecisely sleeps for d; only Linux has the precise version.
func sleepPrecisely(d time.Duration) { time.Sleep(d) }
