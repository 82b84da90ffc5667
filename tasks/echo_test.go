package tasks_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

func TestEchoWithoutParents(t *testing.T) {
	t.Parallel()
	r := setup(t, tasks.BuiltinConfig{})

	res, err := run(context.Background(), t, r, "echo", `{"greeting": "hi", "n": [1, 2]}`)
	require.NoError(t, err)
	require.JSONEq(t, `{"args": {"greeting": "hi", "n": [1, 2]}, "parents": []}`, string(res))
}

func TestEchoWithParents(t *testing.T) {
	t.Parallel()
	r := setup(t, tasks.BuiltinConfig{})
	parents := []tasks.Outcome{
		{ID: "p2", Name: "sleep", State: tasks.Succeeded, Result: json.RawMessage(`{"slept_ms": 5}`)},
		{ID: "p1", Name: "shell", State: tasks.Failed, Error: "exit status 1: boom"},
	}

	res, err := run(context.Background(), t, r, "echo", `[1, "two"]`, parents...)
	require.NoError(t, err)
	require.JSONEq(t, `{"args": [1, "two"], "parents": [
		{"id": "p2", "name": "sleep", "state": "succeeded", "result": {"slept_ms": 5}, "error": ""},
		{"id": "p1", "name": "shell", "state": "failed", "result": null, "error": "exit status 1: boom"}
	]}`, string(res))
}
