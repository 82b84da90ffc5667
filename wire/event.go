package wire

import "time"

// Event kinds: what the engine publishes for a task, and Resync.
const (
	EventQueued    = "queued"    // submitted (or handed back at a daemon's shutdown)
	EventStarted   = "started"   // claimed: its handler starts now
	EventRetrying  = "retrying"  // an attempt failed, or its daemon died: it runs again
	EventSucceeded = "succeeded" // final
	EventFailed    = "failed"    // final
	EventCanceled  = "canceled"  // final
	// EventResync is sent after the event stream reconnected to Redis:
	// events may have been lost meanwhile, so re-read what you show.
	EventResync = "resync"
)

// Event is something that happened to a task, across every daemon and
// client on the namespace: what client.Client.Events streams, and the
// data of each event of GET /api/v1/events. Events are fire-and-forget
// (Redis pub/sub): a reader that is away, or falls behind, misses them;
// EventResync says so.
type Event struct {
	Kind  string    `json:"kind"`
	ID    string    `json:"id,omitempty"`
	Queue string    `json:"queue,omitempty"`
	Name  string    `json:"name,omitempty"`
	At    time.Time `json:"at"` // when the engine's client received it
}
