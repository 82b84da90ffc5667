package config

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

func TestSchedules(t *testing.T) {
	t.Parallel()
	path := writeFile(t, `
schedules:
  - name: nightly-report
    task: shell
    args: {cmd: [report, --yesterday], Env: {DB_URL: x}, when: 2026-01-02}
    cron: "CRON_TZ=Europe/Berlin 0 3 * * *"
    queue: reports
    misfire: skip
    max_attempts: 3
    timeout: 1h
  - {name: heartbeat, task: echo, every: 30s}
  - {name: numbers, task: echo, args: [1, 2.5, true, null, {1: one}], cron: "@hourly"}
`)
	c, err := Load(path, nil)
	require.NoError(t, err)
	require.Len(t, c.Schedules, 3)
	s := c.Schedules[0]
	require.Equal(t, "nightly-report", s.Name)
	require.JSONEq(t, `{"cmd":["report","--yesterday"],"Env":{"DB_URL":"x"},"when":"2026-01-02"}`, string(s.Args),
		"args keep their keys' case")
	require.Equal(t, Schedule{Name: "heartbeat", Task: "echo", Every: 30 * time.Second}, c.Schedules[1])
	require.JSONEq(t, `[1, 2.5, true, null, {"1": "one"}]`, string(c.Schedules[2].Args))

	specs, err := c.ScheduleSpecs()
	require.NoError(t, err)
	require.Equal(t, []wire.ScheduleSpec{
		{Name: "nightly-report", Cron: "CRON_TZ=Europe/Berlin 0 3 * * *", Misfire: wire.MisfireSkip,
			Task: tasks.Spec{Name: "shell", Args: s.Args, Queue: "reports", MaxAttempts: 3, Timeout: time.Hour}},
		{Name: "heartbeat", Every: 30 * time.Second, Task: tasks.Spec{Name: "echo"}},
		{Name: "numbers", Cron: "@hourly", Task: tasks.Spec{Name: "echo", Args: c.Schedules[2].Args}},
	}, specs)

	// Args are encoded the same way at every load, so an unchanged entry
	// is not an update.
	again, err := Load(path, nil)
	require.NoError(t, err)
	require.Equal(t, c.Schedules, again.Schedules)
}

// A JSON configuration file works too, keys' case kept.
func TestSchedulesJSONFile(t *testing.T) {
	t.Parallel()
	path := writeFile(t, `{"schedules": [{"name": "tick", "task": "echo", "args": {"Hello": "World"}, "every": "1s"}]}`)
	c, err := Load(path, nil)
	require.NoError(t, err)
	require.Len(t, c.Schedules, 1)
	require.JSONEq(t, `{"Hello":"World"}`, string(c.Schedules[0].Args))
}

func TestScheduleErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, entries string
		want          []string
	}{
		{"unknown field", "- {name: a, task: echo, every: 1s, retries: 2}", []string{"schedules[0].retries (from", "unknown field", "the fields of a schedule are name, task, args, every, cron, queue, misfire, max_attempts, timeout"}},
		{"misspelled field", "- {name: a, task: echo, evry: 1s}", []string{"schedules[0].evry", `did you mean "every"?`}},
		{"bad every", "- {name: a, task: echo, every: 1s}\n- {name: b, task: echo, every: soon}", []string{"schedules[1].every (from", `"soon" is not a duration`}},
		{"every without unit", "- {name: a, task: echo, every: 5}", []string{"schedules[0].every", "5 has no unit"}},
		{"negative every", "- {name: a, task: echo, every: -5s}", []string{"schedules[0].every", "negative"}},
		{"zero every", "- {name: a, task: echo, every: 0s}", []string{"schedules[0].every", "positive interval"}},
		{"short every", "- {name: a, task: echo, every: 1ms}", []string{"schedules[0].every: 1ms is too short: use 100ms or more"}},
		{"bad timeout", "- {name: a, task: echo, every: 1s, timeout: long}", []string{"schedules[0].timeout", `"long" is not a duration`}},
		{"bad max_attempts", "- {name: a, task: echo, every: 1s, max_attempts: many}", []string{"schedules[0].max_attempts", "not a whole number"}},
		{"max_attempts out of range", "- {name: a, task: echo, every: 1s, max_attempts: -1}", []string{"schedules[0].max_attempts: -1: use 1 to 1000"}},
		{"name not a string", "- {name: [a], task: echo, every: 1s}", []string{"schedules[0].name", "not a string"}},
		{"entry is null", "- {name: a, task: echo, every: 1s}\n-", []string{"schedules[1] (from", "is a null, not a map"}},
		{"no name", "- {task: echo, every: 1s}", []string{"schedules[0].name: missing"}},
		{"bad name", "- {name: 'a b', task: echo, every: 1s}", []string{"schedules[0].name", "1-64 letters, digits or _.-"}},
		{"duplicate name", "- {name: a, task: echo, every: 1s}\n- {name: b, task: echo, every: 1s}\n- {name: a, task: echo, cron: '@daily'}", []string{`schedules[2].name: "a" is also the name of schedules[0]`}},
		{"no task", "- {name: a, every: 1s}", []string{"schedules[0].task: missing"}},
		{"bad task", "- {name: a, task: 'no such', every: 1s}", []string{"schedules[0].task", "not a handler name"}},
		{"both every and cron", "- {name: a, task: echo, every: 1s, cron: '@hourly'}", []string{"schedules[0]: every and cron both given"}},
		{"neither every nor cron", "- {name: a, task: echo}", []string{"schedules[0]: neither every nor cron"}},
		{"blank cron", "- {name: a, task: echo, cron: ' '}", []string{"schedules[0]: neither every nor cron"}},
		{"bad cron", "- {name: a, task: echo, cron: '61 * * * *'}", []string{"schedules[0].cron", "61"}},
		{"cron too many fields", "- {name: a, task: echo, cron: '* * * * * * *'}", []string{"schedules[0].cron"}},
		{"cron panics the parser", "- {name: a, task: echo, cron: 'TZ=Europe/Berlin'}", []string{"schedules[0].cron"}},
		{"cron bad zone", "- {name: a, task: echo, cron: 'CRON_TZ=Mars/Olympus 0 3 * * *'}", []string{"schedules[0].cron", "Mars/Olympus"}},
		{"cron never fires", "- {name: a, task: echo, cron: '0 0 30 2 *'}", []string{"schedules[0].cron", "never fires"}},
		{"bad queue", "- {name: a, task: echo, every: 1s, queue: 'a b'}", []string{"schedules[0].queue", "not a queue name"}},
		{"bad misfire", "- {name: a, task: echo, every: 1s, misfire: always}", []string{"schedules[0].misfire", "run_once or skip"}},
		{"args not JSON", "- {name: a, task: echo, every: 1s, args: {x: .inf}}", []string{"schedules[0].args", "cannot be written as JSON"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(writeFile(t, "schedules:\n"+indent(tc.entries)), nil)
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

func indent(s string) string {
	out := ""
	for _, line := range splitLines(s) {
		out += "  " + line + "\n"
	}
	return out
}

func splitLines(s string) []string {
	var lines []string
	start := 0
	for i := range len(s) {
		if s[i] == '\n' {
			lines = append(lines, s[start:i])
			start = i + 1
		}
	}
	return append(lines, s[start:])
}

// ScheduleSpecs checks a Config built by hand, too.
func TestScheduleSpecsValidates(t *testing.T) {
	t.Parallel()
	c := Default()
	c.Schedules = []Schedule{{Name: "a", Task: "echo", Every: time.Second}, {Name: "b", Task: "echo"}}
	_, err := c.ScheduleSpecs()
	require.ErrorContains(t, err, "schedules[1]: neither every nor cron")
	require.ErrorContains(t, c.Validate(), "schedules[1]")

	c.Schedules[1].Cron = "*/5 * * * *"
	specs, err := c.ScheduleSpecs()
	require.NoError(t, err)
	require.Len(t, specs, 2)
	b, err := json.Marshal(specs[1].Task.Args)
	require.NoError(t, err)
	require.Equal(t, "null", string(b), "no args: the scheduler's default, {}")
}

// Schedules that are null or absent are none.
func TestSchedulesNull(t *testing.T) {
	t.Parallel()
	c, err := Load(writeFile(t, "schedules:\n"), nil)
	require.NoError(t, err)
	require.Equal(t, []Schedule{}, c.Schedules)
}
