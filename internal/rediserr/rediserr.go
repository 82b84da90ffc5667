// Package rediserr recognises Redis's refusals: the error replies with which
// a Redis that is running and reachable declines a command because of its
// own state (out of memory, a read-only replica, a cluster failover, a
// dataset still loading, a long script), as opposed to a lost connection.
//
// A refusal is not a lost connection and not a bad request: nothing was
// written, the same command may succeed once Redis's state changes, and the
// message should say what Redis said. The API answers it with 503 and the
// description of Describe; the engine backs off on Refused without treating
// the connection as lost, and re-queues or re-runs nothing because of it.
//
// NOSCRIPT is not a refusal (go-redis loads the script and retries), and
// neither are errors of the command itself (WRONGTYPE, ERR syntax) or of
// the client (connection refused, timeouts).
package rediserr

import (
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Error is one of Redis's refusals with what it means. Err is the error as
// it was given to Describe (the go-redis error, possibly wrapped); errors.As
// and errors.Is see through an Error to it.
type Error struct {
	// Code is Redis's error code: OOM, READONLY, MASTERDOWN, CLUSTERDOWN,
	// LOADING, TRYAGAIN, BUSY or NOREPLICAS.
	Code string
	// Err is the refused command's error.
	Err error
}

// Error says what the refusal means, what frees it, and then what Redis
// said, e.g. "Redis is out of memory (maxmemory): it refuses writes until
// memory is freed or maxmemory is raised: OOM command not allowed when used
// memory > 'maxmemory'."
func (e *Error) Error() string {
	return refusals[e.Code] + ": " + e.Err.Error()
}

// Unwrap returns the refused command's error.
func (e *Error) Unwrap() error { return e.Err }

// refusals describes each refusal by Redis's error code.
var refusals = map[string]string{
	"OOM":         "Redis is out of memory (maxmemory): it refuses writes until memory is freed or maxmemory is raised",
	"READONLY":    "Redis is a read-only replica: it refuses writes: point redis.url at the primary",
	"MASTERDOWN":  "Redis is a replica that lost its link to the primary (MASTERDOWN): it refuses commands until the link is back: check the primary, or point redis.url at it",
	"CLUSTERDOWN": "the Redis Cluster is down (CLUSTERDOWN): it refuses commands until every hash slot is served again: wait for the failover to finish, or check it with redis-cli --cluster check",
	"LOADING":     "Redis is loading its dataset into memory (LOADING): it refuses commands until loading is done",
	"TRYAGAIN":    "the Redis Cluster is moving the hash slot of these keys (TRYAGAIN): it refuses the command until the move is done",
	"BUSY":        "Redis is busy running a script or function (BUSY): it refuses commands until it ends",
	"NOREPLICAS":  "Redis has fewer replicas in sync than min-replicas-to-write (NOREPLICAS): it refuses writes until enough replicas are back",
}

// Code returns Redis's error code of err (OOM, READONLY, ...) when err is
// or wraps one of Redis's refusals, and "" otherwise. It reads the error
// reply that go-redis returned (any redis.Error in err's chain), so it works
// through errors wrapped with %w but not with %v.
func Code(err error) string {
	var re redis.Error
	if err == nil || !errors.As(err, &re) {
		return ""
	}
	msg := strings.TrimPrefix(re.Error(), "ERR ") // KVRocks prefixes every error with ERR
	code, _, _ := strings.Cut(msg, " ")
	if _, ok := refusals[code]; !ok {
		return "" // BUSYKEY, NOSCRIPT, WRONGTYPE, ERR ... are not refusals
	}
	return code
}

// Refused reports whether err is or wraps one of Redis's refusals: Redis
// is reachable but declines commands for now, so the caller should back off
// and try again later, without treating the connection as lost and without
// giving up on the work.
func Refused(err error) bool { return Code(err) != "" }

// Describe returns err as an *Error that says what Redis's refusal means
// (see Error.Error) when err is one, and err unchanged otherwise, also when
// it already holds an *Error.
func Describe(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if code := Code(err); code != "" {
		return &Error{Code: code, Err: err}
	}
	return err
}
