package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
)

// ErrReply marks a script's reply that cannot be read: what the script
// wrote is unknown.
var ErrReply = errors.New("unexpected reply")

// ErrClaimScript marks a claim that raised an error in Redis (a key of the
// namespace written by hand with another type of value, say) after the
// outcomes sent with it were written (finish_claim.lua). The claim took
// no task: claim.lua enters the leases before it marks a task running or
// takes it out of the due index, so a task is never left in neither (a
// write refused after the leases, which only a Redis out of memory that
// reads no script flags does, leaves its tasks due and leased: a claim
// takes them again, or their leases expire and recover.lua re-queues or
// drops them).
var ErrClaimScript = errors.New("the claim stopped with an error")

// Claimer is who claims: a daemon's id, the handlers it has (as claim.lua
// reads them) and its lease.
type Claimer struct {
	Daemon   string
	Lease    time.Duration
	handlers string
}

// NewClaimer returns the claimer for daemon with handlers names.
func NewClaimer(daemon string, names []string, lease time.Duration) Claimer {
	return Claimer{Daemon: daemon, Lease: lease, handlers: "\n" + strings.Join(names, "\n") + "\n"}
}

// Candidate is a task a claim names. For an occurrence of an active
// schedule, Next is the occurrence of the schedule's next slot, which the
// claim writes if absent, and Rev the schedule revision it was made from.
type Candidate struct {
	ID   string
	Next *tasks.Task
	Rev  int64
}

// Plain makes candidates of ids that are not occurrences.
func Plain(ids ...string) []Candidate {
	cs := make([]Candidate, len(ids))
	for i, id := range ids {
		cs[i] = Candidate{ID: id}
	}
	return cs
}

// ClaimParams asks claim.lua to take, for Claimer, up to Want of the
// Candidates that are still due in Queue, and to return Heads head
// entries, reading Extra more due entries (the due tasks the caller knows
// it cannot run, to look past them).
type ClaimParams struct {
	Queue       string
	Claimer     Claimer
	Want, Heads int
	Extra       int
	Candidates  []Candidate
}

// Claimed is one task a claim took: its record, or why it could not be read.
type Claimed struct {
	ID   string
	Task *tasks.Task
	Err  error // the record is gone (Task is nil) or corrupt; the task is out of the index
	// Parent: the task may have children (its record counts some, or is
	// of format 1, which does not count them), so its outcome releases
	// someone.
	Parent bool
	// Alien: its key holds another type of value than a record (written by
	// hand); it is out of the index and left alone, for nothing can be
	// written there.
	Alien bool
}

// ClaimReply is what a claim.lua call answered.
type ClaimReply struct {
	Got     []Claimed
	Heads   []Head
	Stale   []string // occurrences refused for an out-of-date schedule
	Foreign []string // due tasks whose handler the claimer does not have
	NowUs   int64    // Redis's time
	Paused  bool     // the queue is paused: nothing was claimed
}

// claimFields are the record fields a claim reads of a task's first
// attempt in this build's format, the first six in the order claim.lua
// reads them: the claim overwrites the others, a task with parents or one
// that ran before is read whole, and on_parent_failure means nothing to a
// task without parents (its claimed copy has the default). A submit
// writes its times in x, but a workflow's nodes and a schedule's
// occurrences (transport.EncodeRecord) have due and created fields, which
// say them.
var claimFields = []string{transport.FVersion, transport.FName, transport.FAttempts, transport.FRun, transport.FPending,
	transport.FImmutable, transport.FKey, transport.FWorkflow, transport.FKids, transport.FDue, transport.FCreated}

// claimSource is claim.lua with claimFields written in, where it reads
// 'CLAIM_FIELDS': constants cost a script nothing per call, ARGV a
// conversion per value.
func claimSource(src string) string {
	quoted := make([]string, len(claimFields))
	for i, f := range claimFields {
		quoted[i] = "'" + f + "'"
	}
	return strings.ReplaceAll(src, "'CLAIM_FIELDS'", strings.Join(quoted, ", "))
}

// build builds claim.lua's KEYS and ARGV, in the order its header
// documents.
func (p ClaimParams) build(k Keys) *call {
	keys := make([]string, 0, 4+len(p.Candidates))
	keys = append(keys, k.Due(p.Queue), k.Lease(p.Queue), k.Schedules(), k.Paused())
	args := make([]any, 0, 9+2*len(p.Candidates))
	args = append(args, p.Claimer.Lease.Milliseconds(), p.Want, p.Heads, len(p.Candidates), k.EventsChannel(), p.Queue,
		p.Claimer.Daemon, p.Claimer.handlers, p.Extra)
	for _, c := range p.Candidates {
		keys = append(keys, k.Task(c.ID))
		if c.Next == nil {
			args = append(args, c.ID, "t")
			continue
		}
		n := c.Next
		fields := transport.EncodeRecord(n)
		keys = append(keys, k.Schedule(n.Schedule), k.Task(n.ID), k.Due(n.Queue))
		args = append(args, c.ID, "o", c.Rev, n.ID, transport.Ms(n.DueAt), k.Announce(n.Queue), len(fields))
		args = append(args, fields...)
	}
	return &call{script: claimScript, keys: keys, args: args}
}

// Claim takes due tasks with one claim.lua call: each is claimed by
// exactly one claimer across every daemon.
func (s *Store) Claim(ctx context.Context, p ClaimParams) (ClaimReply, error) {
	r := s.FinishAndClaim(ctx, FinishParams{}, p)
	return r.Claim, r.ClaimErr
}

// notYetDue reports whether a claim found a candidate still in the index
// but not due by Redis's clock: the estimate of that clock woke its caller
// early, and the sample of the reply should replace it. (A candidate
// another daemon took first is no such sign.)
func notYetDue(cands []Candidate, r ClaimReply) bool {
	if len(r.Got) > 0 || len(cands) == 0 {
		return false
	}
	now := r.NowUs / 1000
	for _, h := range r.Heads {
		if h.Due > now {
			for _, c := range cands {
				if c.ID == h.ID {
					return true
				}
			}
		}
	}
	return false
}

// parseClaimHeads reads the heads of a claim.lua reply: {ids due by
// nowMs, separated by spaces, due ids that hold a space[, next id,
// its due time]}.
func parseClaimHeads(v any, nowMs int64) ([]Head, error) {
	flat, ok := v.([]any)
	if !ok || (len(flat) != 2 && len(flat) != 4) {
		return nil, fmt.Errorf("unexpected index heads %v", v)
	}
	due, _ := flat[0].(string)
	ids, odd := strings.Split(due, " "), strs(flat[1])
	hs := make([]Head, 0, len(ids)+len(odd)+1)
	for _, id := range append(ids, odd...) {
		if id != "" {
			hs = append(hs, Head{ID: id, Due: nowMs})
		}
	}
	if len(flat) == 4 {
		next, err := parseHeads(flat[2:])
		if err != nil {
			return nil, err
		}
		hs = append(hs, next...)
	}
	return hs, nil
}

// parseClaim reads a claim.lua reply for queue, claimed by daemon.
func parseClaim(queue, daemon string, v any, err error) (r ClaimReply, _ error) {
	if err != nil {
		return r, fmt.Errorf("claim from queue %s: %w", queue, err)
	}
	res, ok := v.([]any)
	if !ok {
		return r, fmt.Errorf("claim from queue %s: %w %T", queue, ErrReply, v)
	}
	if len(res) < 4 || (len(res)-4)%4 != 0 {
		return r, fmt.Errorf("claim from queue %s: %w of %d items", queue, ErrReply, len(res))
	}
	r.NowUs, _ = res[2].(int64)
	if r.Heads, err = parseClaimHeads(res[0], r.NowUs/1000); err != nil {
		return r, fmt.Errorf("claim from queue %s: %w", queue, err)
	}
	if p, _ := res[1].(string); p == "paused" {
		r.Paused = true
		return r, nil
	}
	r.Stale, r.Foreign = strs(res[1]), strs(res[3])
	r.Got = make([]Claimed, 0, (len(res)-4)/4)
	for i := 4; i < len(res); i += 4 {
		id, _ := res[i].(string)
		run, _ := res[i+1].(int64)
		kind, _ := res[i+2].(string)
		c := Claimed{ID: id}
		fields, ok := res[i+3].([]any)
		var h map[string]string
		switch {
		case kind == "e":
			msg, _ := res[i+3].(string)
			c.Err, c.Alien = fmt.Errorf("%w %s: its key holds no record (%s); dropped from the index and left in Redis", transport.ErrCorrupt, id, msg), true
		case !ok || (kind == "f" && len(fields) < 6):
			c.Err = fmt.Errorf("%w %s: unexpected reply", transport.ErrCorrupt, id)
		case len(fields) == 0:
			c.Err = fmt.Errorf("%w %s: the index named it but its record is gone; dropped from the index", transport.ErrCorrupt, id)
		case kind == "f":
			h = make(map[string]string, len(claimFields)+2)
			for j, f := range claimFields[:len(fields)] {
				if v, ok := fields[j].(string); ok {
					h[f] = v
				}
			}
			h[transport.FQueue], h[transport.FState] = queue, string(tasks.Scheduled)
		default:
			h = pairs(fields)
		}
		if h != nil {
			c.Parent = h[transport.FKids] != "" || !transport.CountsKids(h[transport.FVersion])
			c.Task, c.Err = transport.DecodeRecord(id, h)
			if c.Err == nil && kind == "f" && len(c.Task.Parents) > 0 {
				// Read without its parents' outcomes: the record does not
				// say it has parents the way this build writes it (damaged).
				c.Err = fmt.Errorf("%w %s: it has parents, but no count of them (field %s)", transport.ErrCorrupt, id, transport.FPending)
			}
			if c.Err != nil {
				// Enough of the record to fail it under this claim.
				c.Task = &tasks.Task{ID: id, Name: h[transport.FName], Queue: queue, Key: h[transport.FKey], Workflow: h[transport.FWorkflow]}
			} else {
				// What the claim wrote: the record came back as it was.
				c.Task.State = tasks.Running
				c.Task.StartedAt = transport.FromMs(r.NowUs / 1000)
				c.Task.Attempts++
				c.Task.Daemon = daemon
			}
			c.Task.Run = run
		}
		r.Got = append(r.Got, c)
	}
	return r, nil
}
