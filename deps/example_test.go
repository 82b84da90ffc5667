package deps_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
)

// Tasks compose the way functions do: like hello(world()) in Python, the
// task hello runs after world, with world's result.
func Example() {
	ctx := context.Background()
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()

	reg := tasks.NewRegistry()
	reg.Register("world", func(ctx context.Context, call *tasks.Call) (any, error) {
		return "World", nil
	})
	reg.Register("hello", func(ctx context.Context, call *tasks.Call) (any, error) {
		var who string
		if err := json.Unmarshal(call.Parents[0].Result, &who); err != nil {
			return nil, err
		}
		return "Hello, " + who + "!", nil
	})
	cfg := scheduler.Config{Workers: 2, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	daemon, _ := scheduler.New(rdb, reg, cfg)
	_ = daemon.Start(ctx)
	defer daemon.Stop(ctx)
	c, _ := client.New(rdb, client.Config{Logger: cfg.Logger})
	defer c.Close()

	world, _ := c.Submit(ctx, tasks.Spec{Name: "world"})
	hello, _ := c.Submit(ctx, tasks.Spec{Name: "hello", After: []string{world.ID}})
	done, _ := c.Wait(ctx, hello.ID)
	fmt.Println(done.State, string(done.Result))
	// Output: succeeded "Hello, World!"
}
