package tasks

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// MaxSleep is the longest the sleep handler sleeps: 24 hours.
const MaxSleep = 24 * time.Hour

// sleepArgs are the args of the sleep handler. MS stays raw so that a
// fraction, a string or a missing value each get their own error.
type sleepArgs struct {
	MS json.RawMessage `json:"ms"` // whole milliseconds, 0 to MaxSleep
}

// SleepResult is the result of the sleep handler.
type SleepResult struct {
	SleptMS int64 `json:"slept_ms"`
}

// Sleep is the sleep handler: args {"ms": N} make it wait N milliseconds and
// return {"slept_ms": N}. It returns early when its context ends, with an
// error wrapping the context's error (context.Canceled or
// context.DeadlineExceeded).
func Sleep(ctx context.Context, call *Call) (any, error) {
	ms, err := sleepMS(call)
	if err != nil {
		return nil, err
	}
	d := time.Duration(ms) * time.Millisecond
	start := time.Now()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return SleepResult{SleptMS: ms}, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("sleep: stopped after %dms of %dms: %w",
			time.Since(start).Milliseconds(), ms, ctx.Err())
	}
}

// sleepMS reads and checks the ms argument.
func sleepMS(call *Call) (int64, error) {
	const want = `give "ms", a whole number of milliseconds from 0 to 86400000, e.g. {"ms": 500}`
	var a sleepArgs
	if err := decodeArgs("sleep", call, &a); err != nil {
		return 0, fmt.Errorf("%w: %s", err, want)
	}
	if len(a.MS) == 0 || string(a.MS) == "null" {
		return 0, fmt.Errorf("sleep: ms is missing: %s", want)
	}
	ms, err := strconv.ParseInt(string(a.MS), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("sleep: ms %.40s is not a whole number: %s", a.MS, want)
	}
	if ms < 0 || ms > MaxSleep.Milliseconds() {
		return 0, fmt.Errorf("sleep: ms %d is out of range: %s", ms, want)
	}
	return ms, nil
}
