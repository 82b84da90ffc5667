package tasks_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

// setup returns a registry holding the built-in handlers configured by cfg.
func setup(t *testing.T, cfg tasks.BuiltinConfig) *tasks.Registry {
	t.Helper()
	r := tasks.NewRegistry()
	tasks.RegisterBuiltins(r, cfg)
	return r
}

// programs is a shell allow-list of program names, each allowing any
// arguments.
func programs(names ...string) []tasks.ShellRule {
	rules := make([]tasks.ShellRule, len(names))
	for i, n := range names {
		rules[i] = tasks.ShellRule{Program: n}
	}
	return rules
}

// run looks name up in r, as a worker does, and calls it with args and
// parents. It returns the result as the scheduler stores it (JSON; nil when
// the handler returned none) and the handler's error.
func run(ctx context.Context, t *testing.T, r *tasks.Registry, name, args string, parents ...tasks.Outcome) (json.RawMessage, error) {
	t.Helper()
	h, err := r.Lookup(name)
	require.NoError(t, err)
	v, err := h(ctx, &tasks.Call{
		Task:    &tasks.Task{ID: "t-" + name, Name: name, Args: json.RawMessage(args), State: tasks.Running},
		Parents: parents,
	})
	if v == nil {
		return nil, err
	}
	b, merr := json.Marshal(v)
	require.NoError(t, merr)
	return b, err
}

func TestBuiltinsOffByDefault(t *testing.T) {
	t.Parallel()
	r := setup(t, tasks.BuiltinConfig{})
	require.Equal(t, []string{"echo", "sleep"}, r.Names())

	_, err := r.Lookup("shell")
	require.ErrorIs(t, err, tasks.ErrUnknownHandler)
	require.ErrorContains(t, err, "handlers.shell.allow")

	_, err = r.Lookup("http")
	require.ErrorIs(t, err, tasks.ErrUnknownHandler)
	require.ErrorContains(t, err, "handlers.http.allow")
}

func TestBuiltinsBadAllowEntriesKeepThemOffAndSayWhy(t *testing.T) {
	t.Parallel()
	r := setup(t, tasks.BuiltinConfig{ShellAllow: programs("cat", ""), HTTPAllow: []string{"127.0.0.1:8080", " "}})
	require.Equal(t, []string{"echo", "sleep"}, r.Names())

	_, err := r.Lookup("shell")
	require.ErrorContains(t, err, "the shell handler is off: handlers.shell.allow: entry 1")
	require.ErrorContains(t, err, "is empty")
	_, err = r.Lookup("http")
	require.ErrorContains(t, err, `the http handler is off: handlers.http.allow: entry 1 (" "): is empty`)
}

func TestBuiltinsOnWithAllowLists(t *testing.T) {
	t.Parallel()
	r := setup(t, tasks.BuiltinConfig{ShellAllow: programs("cat"), HTTPAllow: []string{"127.0.0.1:8080"}})
	require.Equal(t, []string{"echo", "http", "shell", "sleep"}, r.Names())
}
