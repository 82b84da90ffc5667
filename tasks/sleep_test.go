package tasks_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

func TestSleep(t *testing.T) {
	t.Parallel()
	r := setup(t, tasks.BuiltinConfig{})

	res, err := run(context.Background(), t, r, "sleep", `{"ms": 2}`)
	require.NoError(t, err)
	require.JSONEq(t, `{"slept_ms": 2}`, string(res))

	res, err = run(context.Background(), t, r, "sleep", `{"ms": 0}`)
	require.NoError(t, err)
	require.JSONEq(t, `{"slept_ms": 0}`, string(res))
}

func TestSleepHonoursCancellation(t *testing.T) {
	t.Parallel()
	r := setup(t, tasks.BuiltinConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	done := make(chan error, 1)
	go func() {
		_, err := run(ctx, t, r, "sleep", `{"ms": 3600000}`)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("sleep did not return after its context was canceled")
	}
}

func TestSleepRejectsBadArgs(t *testing.T) {
	t.Parallel()
	r := setup(t, tasks.BuiltinConfig{})
	for _, args := range []string{
		`{}`, `{"ms": null}`, `{"ms": -1}`, `{"ms": 1.5}`, `{"ms": "500"}`,
		`{"ms": 86400001}`, `{"ms": 99999999999999999999}`, `{"msec": 5}`, `[5]`, `5`,
	} {
		t.Run(args, func(t *testing.T) {
			t.Parallel()
			res, err := run(context.Background(), t, r, "sleep", args)
			require.Error(t, err)
			require.Nil(t, res)
			require.ErrorContains(t, err, `give "ms", a whole number of milliseconds`)
		})
	}
}
