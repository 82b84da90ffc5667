package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
)

// A Go program registers its own handlers and runs the daemon loop from its
// own main, as Celery's @app.task does for Python functions; any other
// program (or `dueq submit`) can then submit tasks by name.
func Example() {
	ctx := context.Background()
	mr, _ := miniredis.Run() // or any real Redis
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()

	reg := tasks.NewRegistry()
	reg.Register("greet", func(ctx context.Context, call *tasks.Call) (any, error) {
		var args struct {
			Name string `json:"name"`
		}
		if err := call.Bind(&args); err != nil {
			return nil, err
		}
		return "Hello, " + args.Name + "!", nil
	})

	cfg := scheduler.Config{Workers: 4, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	daemon, err := scheduler.New(rdb, reg, cfg)
	if err != nil {
		panic(err)
	}
	if err := daemon.Start(ctx); err != nil {
		panic(err)
	}
	defer daemon.Stop(ctx)

	c, _ := client.New(rdb, client.Config{Logger: cfg.Logger})
	defer c.Close()
	now, _ := c.Submit(ctx, tasks.Spec{Name: "greet", Args: json.RawMessage(`{"name":"World"}`)})
	later, _ := c.Submit(ctx, tasks.Spec{Name: "greet", Args: json.RawMessage(`{"name":"later"}`), In: 50 * time.Millisecond})

	for _, id := range []string{now.ID, later.ID} {
		done, err := c.Wait(ctx, id)
		if err != nil {
			panic(err)
		}
		fmt.Println(done.State, string(done.Result), !done.StartedAt.Before(done.DueAt))
	}
	// Output:
	// succeeded "Hello, World!" true
	// succeeded "Hello, later!" true
}
