package client

import (
	"fmt"
	"slices"

	"github.com/dueq/dueq/wire"
)

// Reach is what the live daemons can do for tasks of one handler in one
// queue: a daemon claims only tasks of the queues it serves whose
// handler it has. A daemon whose info is unknown counts as serving every
// queue with every handler, since it cannot be ruled out.
type Reach struct {
	Alive   bool // some daemon is alive
	Handler bool // some live daemon has the handler, whatever it serves
	Queue   bool // some live daemon serves the queue
	Runs    bool // some live daemon serving the queue has the handler
}

// ReachOf tells how the live daemons ds reach tasks of handler in queue.
func ReachOf(ds []wire.Daemon, queue, handler string) Reach {
	r := Reach{Alive: len(ds) > 0}
	for _, d := range ds {
		if d.Info == nil {
			return Reach{Alive: true, Handler: true, Queue: true, Runs: true}
		}
		serves, has := slices.Contains(d.Info.Queues, queue), slices.Contains(d.Info.Handlers, handler)
		r.Handler = r.Handler || has
		r.Queue = r.Queue || serves
		r.Runs = r.Runs || serves && has
	}
	return r
}

// Problem says why no live daemon will run tasks of handler in queue, or
// is "" when one will: "no daemon is alive", "no live daemon serves queue
// Q" or "no live daemon serving Q can run H".
func (r Reach) Problem(queue, handler string) string {
	switch {
	case r.Runs:
		return ""
	case !r.Alive:
		return "no daemon is alive"
	case !r.Queue:
		return "no live daemon serves queue " + queue
	}
	return fmt.Sprintf("no live daemon serving %s can run %s", queue, handler)
}
