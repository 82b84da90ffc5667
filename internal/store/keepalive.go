package store

import (
	"context"
	"fmt"
	"time"

	"github.com/dueq/dueq/tasks"
)

// DaemonInfoTTL is how long a daemon's info outlives its last heartbeat.
const DaemonInfoTTL = time.Hour

// KeepaliveParams is a daemon's heartbeat for keepalive.lua: renew, under
// their claim tokens, the leases of Tasks, the tasks Daemon holds the
// claim of, and record its sign of life and, unless Info is nil, its info
// (wire.DaemonInfo, JSON). With no Daemon it renews the leases alone.
type KeepaliveParams struct {
	Daemon string
	Info   []byte
	Lease  time.Duration
	Tasks  []*tasks.Task
}

// build builds keepalive.lua's KEYS and ARGV, in the order its header
// documents; now is the daemon's estimate of Redis's time.
func (p KeepaliveParams) build(k Keys, now time.Time) *call {
	var queues []string
	qn := map[string]int{}
	for _, t := range p.Tasks {
		if qn[t.Queue] == 0 {
			queues = append(queues, t.Queue)
			qn[t.Queue] = len(queues)
		}
	}
	keys := make([]string, 0, 2+len(queues)+len(p.Tasks))
	if p.Daemon != "" {
		keys = append(keys, k.Daemons(), k.Daemon(p.Daemon))
	}
	for _, q := range queues {
		keys = append(keys, k.Lease(q))
	}
	args := make([]any, 0, 7+3*len(p.Tasks))
	args = append(args, p.Lease.Milliseconds(), p.Daemon, p.Info, DaemonInfoTTL.Milliseconds(), len(queues), len(p.Tasks), now.UnixMilli())
	for _, t := range p.Tasks {
		keys = append(keys, k.Task(t.ID))
		args = append(args, qn[t.Queue], t.ID, t.Run)
	}
	return &call{script: keepaliveScript, keys: keys, args: args}
}

// Keepalive runs keepalive.lua and returns the tasks of p whose claim the
// daemon lost (another claim took them).
func (s *Store) Keepalive(ctx context.Context, p KeepaliveParams) (lost []*tasks.Task, err error) {
	c := p.build(s.keys, s.clock.Now())
	sendAll(ctx, s, []*call{c})
	return s.keptAlive(c, p.Tasks)
}

// keptAlive reads the reply of keepalive.lua call c, once sent, for ts:
// it corrects the store's clock and returns the tasks of ts whose claim
// was lost.
func (s *Store) keptAlive(c *call, ts []*tasks.Task) (lost []*tasks.Task, err error) {
	res, err := c.cmd.Slice()
	if err != nil {
		return nil, fmt.Errorf("renew %d leases: %w", len(ts), err)
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("renew %d leases: unexpected empty reply", len(ts))
	}
	nowUs, _ := res[0].(int64)
	s.clock.Observe(c.sent, c.recv, nowUs, false)
	byID := make(map[string]*tasks.Task, len(ts))
	for _, t := range ts {
		byID[t.ID] = t
	}
	for _, id := range strs(res[1:]) {
		if t := byID[id]; t != nil {
			lost = append(lost, t)
		}
	}
	return lost, nil
}
