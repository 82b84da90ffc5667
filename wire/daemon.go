package wire

import "time"

// Daemon is a live daemon: one seen within three safety waits, by Redis's
// clock, with what its latest heartbeat said about it.
type Daemon struct {
	ID string `json:"id"`
	// LastSeen is its latest sign of life, by Redis's clock.
	LastSeen time.Time `json:"last_seen"`
	// Info is what it serves and runs, or nil when that is unknown: its
	// info key is missing (a daemon of an older version) or unreadable.
	// Such a daemon may serve any queue with any handler, so it is never
	// the reason for a refusal, a warning or a stranded task (see
	// client.Reach).
	Info *DaemonInfo `json:"info"`
}

// DaemonInfo is what a daemon tells the others about itself with each
// heartbeat (`dueq stats`, and the check that a submitted task's handler
// exists somewhere). Its JSON is also how the daemon stores it in Redis.
type DaemonInfo struct {
	Queues   []string `json:"queues"`
	Handlers []string `json:"handlers"`
	Workers  int      `json:"workers"`
}
