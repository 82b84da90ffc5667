package scheduler

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

// Tasks an older daemon left in Redis, in record formats 1 and 2 (every
// part of a task a field of its own) and 3 (the parts that never change in
// field x, with a version field), run after an upgrade: plain, keyed,
// retried, a parent with a waiting child, and a child already given its
// parent's outcome. The records are written here as those daemons wrote
// them, field by field, not by this build's encoder.
func TestTasksOfOlderRecordFormatsRunAfterAnUpgrade(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 2, ResultTTL: time.Hour})
	k := e.keys
	past := strconv.FormatInt(time.Now().Add(-time.Minute).UnixMilli(), 10)
	record := func(id string, fields ...string) {
		base := []string{"name", "upgrade", "queue", "default", "created", past, "max_attempts", "1", "opf", "fail"}
		e.mr.HSet(k.Task(id), append(base, fields...)...)
	}
	due := func(id string) { _, err := e.mr.ZAdd(k.Due("default"), 1, id); require.NoError(t, err) }

	record("01OLDPLAIN", "v", "1", "args", `{"n":1}`, "state", "scheduled", "due", past)
	due("01OLDPLAIN")
	record("01OLDKEYED", "v", "2", "args", `{"n":2}`, "state", "scheduled", "due", past, "key", "nightly", "timeout", "60000")
	require.NoError(t, e.mr.Set(k.Idem("nightly", ""), "01OLDKEYED"))
	due("01OLDKEYED")
	record("01OLDRETRY", "v", "2", "args", `{"n":3}`, "state", "scheduled", "due", past, "max_attempts", "3",
		"attempts", "1", "error", "first try failed", "aerr", `["first try failed"]`)
	due("01OLDRETRY")
	// A format 2 parent, due, with a format 1 child waiting for it.
	record("01OLDPARENT", "v", "2", "args", `{"n":4}`, "state", "scheduled", "due", past, "kids", "1")
	due("01OLDPARENT")
	record("01OLDCHILD", "v", "1", "args", `{"n":5}`, "state", "waiting", "due", past,
		"parents", `["01OLDPARENT"]`, "pending", "1")
	_, err := e.mr.ZAdd(k.Waiting(), 1, "01OLDCHILD")
	require.NoError(t, err)
	_, err = e.mr.RPush(k.Kids("01OLDPARENT"), "default 01OLDCHILD")
	require.NoError(t, err)
	// A format 2 child whose parent finished before the upgrade.
	record("01OLDDONE", "v", "2", "args", `{}`, "state", "succeeded", "due", past, "finished", past,
		"attempts", "1", "result", `{"from":"before"}`, "kids", "1")
	record("01OLDRELEASED", "v", "2", "args", `{"n":6}`, "state", "scheduled", "due", past,
		"parents", `["01OLDDONE"]`, "pending", "0",
		"o:01OLDDONE", `{"id":"01OLDDONE","name":"upgrade","state":"succeeded","result":{"from":"before"},"error":""}`)
	due("01OLDRELEASED")
	// Format 3: a plain task, and a parent with a child waiting for it.
	record("01OLDTHREE", "v", "3", "x", `{"a":{"n":7},"m":1}`, "state", "scheduled", "due", past)
	due("01OLDTHREE")
	record("01OLDTHREEPARENT", "v", "3", "x", `{"a":{"n":8}}`, "state", "scheduled", "due", past, "kids", "1")
	due("01OLDTHREEPARENT")
	record("01OLDTHREECHILD", "v", "3", "x", `{"p":["01OLDTHREEPARENT"],"a":{"n":9}}`, "state", "waiting", "due", past, "pending", "1")
	_, err = e.mr.ZAdd(k.Waiting(), 1, "01OLDTHREECHILD")
	require.NoError(t, err)
	_, err = e.mr.RPush(k.Kids("01OLDTHREEPARENT"), "default 01OLDTHREECHILD")
	require.NoError(t, err)

	var mu sync.Mutex
	calls := map[string]*tasks.Call{}
	e.reg.Register("upgrade", func(ctx context.Context, c *tasks.Call) (any, error) {
		mu.Lock()
		calls[c.Task.ID] = c
		mu.Unlock()
		if len(c.Parents) > 0 {
			return c.Parents[0].Result, nil
		}
		return c.Task.Args, nil
	})
	e.start()
	ids := []string{"01OLDPLAIN", "01OLDKEYED", "01OLDRETRY", "01OLDPARENT", "01OLDCHILD", "01OLDRELEASED",
		"01OLDTHREE", "01OLDTHREEPARENT", "01OLDTHREECHILD"}
	for _, id := range ids {
		got := e.wait(id, 10*time.Second)
		require.Equal(t, tasks.Succeeded, got.State, "%s: %s", id, got.Error)
		require.Empty(t, got.Error, id)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, id := range ids {
		require.JSONEq(t, `{"n":`+strconv.Itoa(i+1)+`}`, string(calls[id].Task.Args), id)
	}
	require.Equal(t, 60*time.Second, calls["01OLDKEYED"].Task.Timeout)
	require.Equal(t, 2, calls["01OLDRETRY"].Task.Attempts, "the second attempt")
	require.Equal(t, []string{"first try failed"}, calls["01OLDRETRY"].Task.AttemptErrors)
	require.Len(t, calls["01OLDCHILD"].Parents, 1)
	require.JSONEq(t, `{"n":4}`, string(calls["01OLDCHILD"].Parents[0].Result), "released by its upgraded parent")
	require.Len(t, calls["01OLDRELEASED"].Parents, 1)
	require.JSONEq(t, `{"from":"before"}`, string(calls["01OLDRELEASED"].Parents[0].Result))
	require.JSONEq(t, `{"n":8}`, string(calls["01OLDTHREECHILD"].Parents[0].Result), "released by its upgraded parent")

	// What they left reads back, and the old key expires with its record.
	ctx := context.Background()
	for _, id := range ids {
		got, err := e.client.Get(ctx, id)
		require.NoError(t, err, id)
		var res json.RawMessage = got.Result
		require.NotEmpty(t, res, id)
	}
	e.mr.FastForward(time.Hour + time.Second)
	again := e.submit(tasks.Spec{Name: "upgrade", Key: "nightly"})
	require.NotEqual(t, "01OLDKEYED", again.ID, "the old key expired with its record")
}
