package client

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/dueq/dueq/internal/testutil"
	"github.com/dueq/dueq/tasks"
)

func BenchmarkSubmit(b *testing.B) {
	rdb := testutil.BenchRedis(b)
	c, err := New(rdb, Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	spec := tasks.Spec{Name: "noop", Args: json.RawMessage(`{"n":1}`), In: time.Hour}
	b.ReportAllocs()
	defer testutil.ScriptCost(b, rdb)()
	for b.Loop() {
		if _, err := c.Submit(ctx, spec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSubmitMany measures bulk submits of 100 tasks due now per call;
// ns/op is per task.
func BenchmarkSubmitMany(b *testing.B) {
	rdb := testutil.BenchRedis(b)
	c, err := New(rdb, Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer testutil.ScriptCost(b, rdb)()
	for lo := 0; lo < b.N; lo += 100 {
		noops(b, c, min(100, b.N-lo))
	}
}

// noops submits n no-op tasks due now with the bulk path.
func noops(b *testing.B, c *Client, n int) []*tasks.Task {
	b.Helper()
	specs := make([]tasks.Spec, n)
	for i := range specs {
		specs[i] = tasks.Spec{Name: "noop"}
	}
	ts, err := c.SubmitMany(context.Background(), specs)
	if err != nil {
		b.Fatal(err)
	}
	return ts
}
