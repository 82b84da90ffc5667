package testutil

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/internal/store"
)

// PipelineGate is a go-redis hook that calls Before with each pipeline's
// commands before sending it, for a test to hold, count or alter them.
type PipelineGate struct{ Before func([]redis.Cmder) }

// DialHook passes dials on.
func (PipelineGate) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook passes single commands on.
func (PipelineGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

// ProcessPipelineHook calls Before, then sends the pipeline.
func (g PipelineGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		g.Before(cmds)
		return next(ctx, cmds)
	}
}

// ScriptArg sums the numeric ARGV[i+1] of the calls in cmds of the store's
// script name ("submit", "finish", ...): ScriptArg(cmds, "submit", 0) is
// how many tasks a pipeline submits.
func ScriptArg(cmds []redis.Cmder, name string, i int) int {
	n := 0
	for _, c := range cmds {
		a := c.Args()
		if len(a) < 3 || a[0] != "evalsha" || store.ScriptName(fmt.Sprint(a[1])) != name {
			continue
		}
		nkeys, _ := strconv.Atoi(fmt.Sprint(a[2]))
		k, _ := strconv.Atoi(fmt.Sprint(a[3+nkeys+i]))
		n += k
	}
	return n
}
