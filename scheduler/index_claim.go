package scheduler

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
)

// claimer is who claims: a daemon's id, the handlers it has (as claim.lua
// reads them) and its lease.
type claimer struct {
	daemon   string
	handlers string
	lease    time.Duration
}

// newClaimer returns the claimer for daemon with handlers names.
func newClaimer(daemon string, names []string, lease time.Duration) claimer {
	return claimer{daemon: daemon, handlers: "\n" + strings.Join(names, "\n") + "\n", lease: lease}
}

// claim takes up to want of the candidates that are still due in queue,
// for cl. stale lists occurrences refused because their schedule changed
// since the caller read it.
func (x *index) claim(ctx context.Context, queue string, cl claimer, want, nHeads int, cands []candidate) (got []claimed, heads []head, stale []string, err error) {
	if err := x.prepare(ctx); err != nil {
		return nil, nil, nil, err
	}
	for try := 0; ; try++ {
		pipe := x.rdb.Pipeline()
		cmd := x.claimCall(ctx, pipe, queue, cl, want, nHeads, 0, cands)
		_, _ = pipe.Exec(ctx) // the command's own error is read below
		if try == 0 && isNoScript(cmd.Err()) {
			if err := x.load(ctx, claimScript); err != nil {
				return nil, nil, nil, err
			}
			continue
		}
		r, err := parseClaim(queue, cl.daemon, cmd)
		return r.got, r.heads, r.stale, err
	}
}

// claimCall queues one claim.lua call on pipe, reading extra more due
// entries than nHeads (the caller's known foreign tasks); parseClaim reads
// its reply.
func (x *index) claimCall(ctx context.Context, pipe redis.Pipeliner, queue string, cl claimer, want, nHeads, extra int, cands []candidate) *redis.Cmd {
	keys := make([]string, 0, 3+len(cands))
	keys = append(keys, x.keys.Due(queue), x.keys.Lease(queue), x.keys.Schedules())
	args := make([]any, 0, 11+len(claimFields)+2*len(cands))
	args = append(args, cl.lease.Milliseconds(), want, nHeads, len(cands), x.keys.EventsChannel(), queue,
		cl.daemon, cl.handlers, extra, transport.Version, len(claimFields))
	args = append(args, claimFieldArgs...)
	for _, c := range cands {
		keys = append(keys, x.keys.Task(c.id))
		if c.next == nil {
			args = append(args, c.id, "t")
			continue
		}
		n := c.next
		fields := transport.EncodeRecord(n)
		keys = append(keys, x.keys.Schedule(n.Schedule), x.keys.Task(n.ID), x.keys.Due(n.Queue))
		args = append(args, c.id, "o", c.rev, n.ID, transport.Ms(n.DueAt), x.keys.Announce(n.Queue), len(fields))
		args = append(args, fields...)
	}
	return x.evalSha(ctx, pipe, claimScript, keys, args...)
}

// claimFields are the record fields a claim reads of a task's first
// attempt in this build's format, the first five in the order claim.lua
// reads them: the claim overwrites the others, and a task with parents or
// one that ran before is read whole.
var claimFields = []string{transport.FVersion, transport.FName, transport.FAttempts, transport.FRun, transport.FPending,
	transport.FImmutable, transport.FDue, transport.FCreated, transport.FKey, transport.FWorkflow}

var claimFieldArgs = func() []any {
	a := make([]any, len(claimFields))
	for i, f := range claimFields {
		a[i] = f
	}
	return a
}()

// claimReply is what a claim.lua call answered.
type claimReply struct {
	got     []claimed
	heads   []head
	stale   []string // occurrences refused for an out-of-date schedule
	foreign []string // due tasks whose handler the claimer does not have
	nowUs   int64    // Redis's time
}

// parseClaim reads a claim.lua reply for queue, claimed by daemon.
func parseClaim(queue, daemon string, cmd *redis.Cmd) (r claimReply, err error) {
	res, err := cmd.Slice()
	if err != nil {
		return r, fmt.Errorf("claim from queue %s: %w", queue, err)
	}
	if len(res) < 4 || (len(res)-4)%4 != 0 {
		return r, fmt.Errorf("claim from queue %s: unexpected reply of %d items", queue, len(res))
	}
	if r.heads, err = parseHeads(res[0]); err != nil {
		return r, fmt.Errorf("claim from queue %s: %w", queue, err)
	}
	r.stale, r.foreign = strs(res[1]), strs(res[3])
	r.nowUs, _ = res[2].(int64)
	r.got = make([]claimed, 0, (len(res)-4)/4)
	for i := 4; i < len(res); i += 4 {
		id, _ := res[i].(string)
		run, _ := res[i+1].(int64)
		kind, _ := res[i+2].(string)
		c := claimed{id: id}
		fields, ok := res[i+3].([]any)
		var h map[string]string
		switch {
		case !ok || (kind == "f" && len(fields) != len(claimFields)):
			c.err = fmt.Errorf("%w %s: unexpected reply", transport.ErrCorrupt, id)
		case len(fields) == 0:
			c.err = fmt.Errorf("%w %s: the index named it but its record is gone; dropped from the index", transport.ErrCorrupt, id)
		case kind == "f":
			h = make(map[string]string, len(claimFields)+2)
			for j, f := range claimFields {
				if v, ok := fields[j].(string); ok {
					h[f] = v
				}
			}
			h[transport.FQueue], h[transport.FState] = queue, string(tasks.Scheduled)
		default:
			h = pairs(fields)
		}
		if h != nil {
			if c.task, c.err = transport.DecodeRecord(id, h); c.err != nil {
				// Enough of the record to fail it under this claim.
				c.task = &tasks.Task{ID: id, Name: h[transport.FName], Queue: queue, Key: h[transport.FKey], Workflow: h[transport.FWorkflow]}
			} else {
				// What the claim wrote: the record came back as it was.
				c.task.State = tasks.Running
				c.task.StartedAt = transport.FromMs(r.nowUs / 1000)
				c.task.Attempts++
				c.task.Daemon = daemon
			}
			c.task.Run = run
		}
		r.got = append(r.got, c)
	}
	return r, nil
}
