package wire

import "errors"

// The sentinel errors that callers test with errors.Is. The engine
// (client.Client) wraps them with what failed and for which id; the
// HTTP client's errors match them by status (404 is ErrNotFound, a 409 is
// ErrFinished or ErrNotRetryable), so code works the same over HTTP and
// over Redis. Bad input is tasks.ErrInvalid.
var (
	// ErrNotFound means no task, schedule or workflow has the id: it never
	// existed, or its record expired (finished records are kept for the
	// result TTL).
	ErrNotFound = errors.New("task not found")
	// ErrFinished is returned when canceling a task that already finished,
	// or a schedule canceled before.
	ErrFinished = errors.New("task already finished")
	// ErrNotRetryable is returned when retrying a task that is not failed or
	// canceled, or that did not run because of its parents.
	ErrNotRetryable = errors.New("task cannot be retried")
	// ErrNotReplicated means a write happened on the Redis primary, but
	// fewer replicas than redis.wait_replicas confirmed it in time: a
	// failover before they have it may lose it. The error names the tasks
	// written; over HTTP it is a 503 whose message says so.
	ErrNotReplicated = errors.New("not confirmed by enough replicas")
)
