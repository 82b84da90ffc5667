package scheduler

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/tasks"
)

// The zero Config is the documented defaults, and valid as it is.
func TestTheZeroConfigIsTheDefaults(t *testing.T) {
	t.Parallel()
	require.NoError(t, Config{}.Validate(), "Validate fills the defaults in before it checks")
	c := Config{}.WithDefaults()
	require.Equal(t, "dueq", c.Namespace)
	require.Equal(t, []string{"default"}, c.Queues)
	require.Equal(t, runtime.NumCPU(), c.Workers)
	require.Equal(t, 15*time.Second, c.Lease)
	require.Equal(t, 5*time.Second, c.SafetyWait)
	require.Equal(t, 10*time.Second, *c.ShutdownGrace)
	require.Equal(t, 24*time.Hour, c.ResultTTL)
	require.Equal(t, 5, *c.MaxRecoveries)
	require.Equal(t, time.Second, c.RetryBase)
	require.Equal(t, 5*time.Minute, c.RetryCap)
	require.NotNil(t, c.Logger)
	require.NotNil(t, c.Clock)
}

// Zero is a value where it is a usable one: WithDefaults keeps it.
func TestZeroGraceAndZeroRecoveriesAreKept(t *testing.T) {
	t.Parallel()
	c := Config{ShutdownGrace: new(time.Duration(0)), MaxRecoveries: new(0)}.WithDefaults()
	require.Equal(t, time.Duration(0), *c.ShutdownGrace)
	require.Equal(t, 0, *c.MaxRecoveries)
	require.NoError(t, c.Validate())
}

// MaxRecoveries 0: a task whose daemon died fails instead of running again.
func TestNoRecoveriesFailsATaskWhoseDaemonDied(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1, MaxRecoveries: new(0)})
	task := e.submit(tasks.Spec{Name: "record"})
	// A daemon claims it and dies: its lease has expired.
	got, _, err := e.claim("default", testClaimer(time.Minute), 1, task.ID)
	require.NoError(t, err)
	require.Len(t, got, 1)
	_, err = e.mr.ZAdd(e.keys.Lease("default"), 1, task.ID)
	require.NoError(t, err)
	s := e.start()
	done := e.wait(task.ID, 10*time.Second)
	require.Equal(t, tasks.Failed, done.State)
	require.Contains(t, done.Error, "max_recoveries")
	require.Zero(t, e.runs.count(task.ID), "it never ran again")
	// Counted after the script's reply, which a waiter may see first.
	require.Eventually(t, func() bool { return s.Counters().Recovered == 1 }, 5*time.Second, time.Millisecond)
}

// ShutdownGrace 0: Stop cancels running tasks at once and hands them back.
func TestNoGraceCancelsRunningTasksAtOnce(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1, ShutdownGrace: new(time.Duration(0))})
	s, err := New(e.rdb, e.reg, e.cfg)
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	task := e.submit(tasks.Spec{Name: "block"})
	e.waitRun(task.ID, 5*time.Second)
	// The default grace (10s) would outlast this deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.Stop(ctx))
	rec, err := e.client.Get(context.Background(), task.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Scheduled, rec.State)
	require.EqualValues(t, 1, s.Counters().HandedBack)
}

// Queues: nil asks for the default; an empty list serves nothing and is an
// error, as `queues: []` is in config.yaml.
func TestAnEmptyQueueListIsAnError(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"default"}, Config{}.WithDefaults().Queues)
	err := Config{Queues: []string{}}.Validate()
	require.EqualError(t, err, "queues: empty: list at least one queue, e.g. queues: [default], or leave it out for the default [default]")
}

// Errors name the setting by its config.yaml key and say what to write.
func TestConfigErrorsNameTheKeyAndTheFix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Workers: -1}, "workers: -1 is out of range: use 1 to 10000, or leave it out for the CPU count"},
		{Config{Workers: 10001}, "workers: 10001 is out of range: use 1 to 10000, or leave it out for the CPU count"},
		{Config{Lease: 100 * time.Millisecond}, "lease: 100ms is too short: use 300ms or more, or leave it out for the default 15s"},
		{Config{Lease: -time.Second}, "lease: -1s is negative: use 300ms or more, or leave it out for the default 15s"},
		{Config{SafetyWait: time.Millisecond}, "safety_wait: 1ms is too short: use 10ms or more, or leave it out for the default 5s"},
		{Config{ShutdownGrace: new(-time.Second)}, "shutdown_grace: -1s is negative: use 0s or more, or leave it out for the default 10s"},
		{Config{ResultTTL: 500 * time.Millisecond}, "result_ttl: 500ms is too short: use 1s or more, or leave it out for the default 24h"},
		{Config{MaxRecoveries: new(-1)}, "max_recoveries: -1 is negative: use 0 or more, or leave it out for the default 5"},
		{Config{RetryBase: time.Microsecond}, "retry.base: 1µs is too short: use 1ms or more, or leave it out for the default 1s"},
		{Config{RetryBase: time.Minute, RetryCap: time.Second}, "retry.cap: 1s is less than retry.base (1m): make the cap at least the base, or leave both out for the defaults"},
		{Config{Namespace: "bad ns"}, `namespace: "bad ns" is not a namespace: use 1-64 letters, digits or _.-, or leave it out for the default dueq`},
		{Config{Queues: []string{"a", "a"}}, `queues: "a" is listed twice: list each queue once`},
		{Config{Queues: []string{"a b"}}, `queues: "a b" is not a queue name: use 1-64 letters, digits or _.-`},
	} {
		require.EqualError(t, tc.cfg.Validate(), tc.want)
	}
}

// A client's settings are the daemon's where both have them: the same
// defaults, and the same errors for the same values.
func TestAClientHasTheDaemonsDefaultsAndLimits(t *testing.T) {
	t.Parallel()
	d, c := Config{}.WithDefaults(), client.Config{}.WithDefaults()
	require.Equal(t, clientConfig(d), client.Config{Namespace: c.Namespace, ResultTTL: c.ResultTTL, SafetyWait: c.SafetyWait, Logger: d.Logger, Clock: d.Clock})
	for _, cfg := range []Config{
		{Namespace: "bad ns"}, {ResultTTL: 500 * time.Millisecond}, {ResultTTL: -time.Hour},
		{SafetyWait: time.Millisecond}, {SafetyWait: -time.Second},
	} {
		want := cfg.Validate()
		require.Error(t, want)
		require.EqualError(t, clientConfig(cfg).Validate(), want.Error())
	}
	require.NoError(t, clientConfig(Config{ResultTTL: time.Second, SafetyWait: 10 * time.Millisecond}).Validate())
}
