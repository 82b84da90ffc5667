package testutil

import (
	"context"

	"github.com/redis/go-redis/v9"
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
