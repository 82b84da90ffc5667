package wire

import "time"

// DefaultAddr is where a daemon's HTTP API listens unless told otherwise
// (config key http.addr).
const DefaultAddr = "127.0.0.1:7420"

// MaxBodyBytes caps a request body; the API answers larger bodies with 413.
const MaxBodyBytes = 1 << 20

// Long-poll limits of GET /api/v1/tasks/{id}/wait.
const (
	// DefaultWait is the wait of a long poll that gives no timeout.
	DefaultWait = 30 * time.Second
	// MaxWait caps one long poll; a client polls again to wait longer.
	MaxWait = 10 * time.Minute
)

// EventsHeartbeat is how often an idle event stream (GET /api/v1/events)
// sends a comment line, so that proxies and browsers keep it open, a dead
// reader is noticed, and a reader can tell a quiet stream from a dead
// connection.
const EventsHeartbeat = 15 * time.Second

// WarningHeader carries each warning of an accepted request, one header
// line per warning: a submit whose handler no live daemon serving its
// queue has. POST /api/v1/tasks also puts its warning in the answer's
// "warning" field; POST /api/v1/workflows, whose answer is the name→id
// map, sends its warnings (one per node, "node NAME: ...") only here.
const WarningHeader = "Dueq-Warning"

// WorkflowHeader carries a submitted workflow's id in the answer of POST
// /api/v1/workflows, whose body is the name→id map.
const WorkflowHeader = "Dueq-Workflow"
