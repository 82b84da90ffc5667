package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/tasks"
)

// A program that only submits work needs the client alone: the daemons on
// the same Redis run the tasks. A second submit with the same idempotency
// key returns the first task and writes nothing.
func ExampleClient_Submit() {
	ctx := context.Background()
	mr, _ := miniredis.Run() // or any real Redis
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()

	c, err := client.New(rdb, client.Config{})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	spec := tasks.Spec{Name: "greet", Args: json.RawMessage(`{"name":"World"}`), In: time.Hour, Key: "greet-world"}
	first, _ := c.Submit(ctx, spec)
	again, _ := c.Submit(ctx, spec)
	fmt.Println(first.State, first.Queue, again.ID == first.ID)
	// Output: scheduled default true
}
