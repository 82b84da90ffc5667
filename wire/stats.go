package wire

import (
	"fmt"

	"github.com/dueq/dueq/tasks"
)

// QueueStats counts one queue's unfinished tasks.
type QueueStats struct {
	Scheduled int64 `json:"scheduled"`
	Running   int64 `json:"running"`
	// Paused: no daemon claims its tasks until it is resumed; its
	// scheduled tasks wait (Client.PauseQueue).
	Paused bool `json:"paused"`
}

// Queue is one queue as GET /api/v1/queues and `dueq queues` show it: its
// name and counts, and whether it is paused.
type Queue struct {
	Name string `json:"name"`
	QueueStats
}

// Stats counts tasks by state and queue, names the daemons alive with what
// they serve and run, and reports the due tasks no live daemon will run:
// what client.Client.Stats returns, GET /api/v1/stats answers and
// `dueq stats` shows.
type Stats struct {
	States  map[tasks.State]int64 `json:"states"`
	Queues  map[string]QueueStats `json:"queues"`
	Daemons []string              `json:"daemons"` // ids of daemons seen within 3 safety waits
	// DaemonInfo is the daemons of Daemons, in the same order, with their
	// queues, handlers and workers (see client.Client.Daemons).
	DaemonInfo []Daemon `json:"daemon_info"`
	// Stranded lists, by queue and handler, due tasks whose handler no live
	// daemon serving their queue has. They stay scheduled until
	// such a daemon is alive. Empty when there are none.
	Stranded []Stranded `json:"stranded"`
}

// Stranded counts due tasks of one handler in one queue that no live daemon
// will run: none serving the queue has the handler.
type Stranded struct {
	Queue   string `json:"queue"`
	Handler string `json:"handler"`
	// Count is how many of the queue's sampled due tasks (its first
	// client.StrandedSample by due time) are of this handler: a count
	// of that sample, so a queue with more due tasks may hold more of them.
	Count int `json:"count"`
	// Reason says why no live daemon runs them (client.Reach.Problem).
	Reason string `json:"reason"`
}

// String is a line such as "3 due tasks of handler shell in queue default:
// no live daemon serving default can run shell".
func (s Stranded) String() string {
	noun := "tasks"
	if s.Count == 1 {
		noun = "task"
	}
	return fmt.Sprintf("%d due %s of handler %s in queue %s: %s", s.Count, noun, s.Handler, s.Queue, s.Reason)
}
