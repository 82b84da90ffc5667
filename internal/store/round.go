package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"
)

// FinishClaimReply is what a FinishAndClaim round trip answered, with the
// error of each call. A finish error wrapping ErrReply means the outcomes
// may or may not have been written; any other means they were not.
type FinishClaimReply struct {
	Finish    FinishReply
	FinishErr error
	Claim     ClaimReply
	ClaimErr  error
}

// FinishAndClaim writes outcomes (finish.lua; none when f has no tasks)
// and claims due tasks (claim.lua; none when c.Queue is "") in one round
// trip, and in one script call when it does both (finish_claim.lua). A
// claim's reply also corrects the store's estimate of Redis's clock.
func (s *Store) FinishAndClaim(ctx context.Context, f FinishParams, c ClaimParams) FinishClaimReply {
	rd := s.round(f, c)
	if rd.call == nil {
		return FinishClaimReply{}
	}
	sendAll(ctx, s, []*call{rd.call})
	return rd.parse(ctx)
}

// Step is one partition's part of a Round: outcomes to write and a claim
// to make there, as FinishAndClaim takes them.
type Step struct {
	Part   int
	Finish FinishParams
	Claim  ClaimParams
}

// Round runs steps, each in its partition as FinishAndClaim would, in one
// pipelined round trip: a daemon's outcomes of several partitions, and
// its claim, cost Redis one request each but the daemon one wait. Its
// replies are in step order.
func (ss *Stores) Round(ctx context.Context, steps []Step) []FinishClaimReply {
	rds := make([]*round, len(steps))
	var calls []*call
	for i, st := range steps {
		rds[i] = ss.parts[st.Part].round(st.Finish, st.Claim)
		if rds[i].call != nil {
			calls = append(calls, rds[i].call)
		}
	}
	out := make([]FinishClaimReply, len(steps))
	if len(calls) == 0 {
		return out
	}
	sendAll(ctx, ss.parts[steps[0].Part], calls)
	for i, rd := range rds {
		if rd.call != nil {
			out[i] = rd.parse(ctx)
		}
	}
	return out
}

// sendAll sends calls in one round trip through s (send), leaving in each
// call's cmd its reply or its error: a failure to send, or a
// *NotReplicatedError.
func sendAll(ctx context.Context, s *Store, calls []*call) {
	if err := s.send(ctx, calls...); err != nil {
		for _, c := range calls {
			c.cmd = redis.NewCmd(ctx)
			c.cmd.SetErr(err)
		}
		return
	}
	for _, c := range calls {
		if c.replicas != nil {
			c.cmd.SetErr(c.replicas)
		}
	}
}

// round is one store's FinishAndClaim: its one call (finish.lua,
// claim.lua or finish_claim.lua; nil when there is nothing to do), and
// what parse needs to read its reply.
type round struct {
	s              *Store
	f              FinishParams
	c              ClaimParams
	call           *call
	fcall, ccall   *call
	finishedQueues []string
}

func (s *Store) round(f FinishParams, c ClaimParams) *round {
	rd := &round{s: s, f: f, c: c}
	if len(f.Tasks) > 0 {
		rd.fcall, rd.finishedQueues = f.build(s.keys, s.resultTTL.Milliseconds())
	}
	if c.Queue != "" {
		rd.ccall = c.build(s.keys)
	}
	switch {
	case rd.fcall != nil && rd.ccall != nil:
		both := &call{script: finishClaimScript, keys: append(slices.Clip(rd.fcall.keys), rd.ccall.keys...)}
		both.args = make([]any, 0, 2+len(rd.fcall.args)+len(rd.ccall.args))
		both.args = append(append(append(both.args, len(rd.fcall.keys), len(rd.fcall.args)), rd.fcall.args...), rd.ccall.args...)
		rd.call = both
	case rd.fcall != nil:
		rd.call = rd.fcall
	default:
		rd.call = rd.ccall
	}
	return rd
}

// parse reads the round's reply, once sent, and completes the deliveries
// to other partitions of the tasks it finished (handOut).
func (rd *round) parse(ctx context.Context) (r FinishClaimReply) {
	s, f, c := rd.s, rd.f, rd.c
	var finishReply, claimReply any
	var finishErr, claimErr error
	cmd := rd.call.cmd
	switch {
	case rd.fcall != nil && rd.ccall != nil:
		res, err := cmd.Slice()
		switch {
		case err != nil:
			finishErr, claimErr = err, err
		case len(res) == 3: // the outcomes were written; the claim raised an error
			msg, _ := res[2].(string)
			finishReply, claimErr = res[0], fmt.Errorf("%w: %s", ErrClaimScript, msg)
		case len(res) != 2:
			finishErr = fmt.Errorf("%w of %d items", ErrReply, len(res))
			claimErr = finishErr
		default:
			finishReply, claimReply = res[0], res[1]
		}
		rd.ccall.sent, rd.ccall.recv = rd.call.sent, rd.call.recv
	case rd.fcall != nil:
		finishReply, finishErr = cmd.Val(), cmd.Err()
	default:
		claimReply, claimErr = cmd.Val(), cmd.Err()
	}
	if rd.fcall != nil {
		r.Finish, r.FinishErr = parseFinish(finishReply, finishErr, f.Tasks, rd.finishedQueues)
		if r.FinishErr == nil {
			for _, t := range f.Tasks {
				if t.Status == FinishDone || t.Status == FinishVanished {
					s.handOut(ctx, t.Task.ID, t.Kids)
				}
			}
		}
	}
	if rd.ccall != nil {
		r.Claim, r.ClaimErr = parseClaim(c.Queue, c.Claimer.Daemon, claimReply, claimErr)
		if r.ClaimErr == nil {
			s.clock.Observe(rd.ccall.sent, rd.ccall.recv, r.Claim.NowUs, notYetDue(c.Candidates, r.Claim))
		}
	}
	return r
}
