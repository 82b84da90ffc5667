package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

func TestSubmitScheduleStatusCancel(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	id := e.submit("echo", `{"a":1}`, "--every", "8s", "--queue", "q", "--max-attempts", "2", "--timeout", "1m", "--misfire", "skip")
	require.True(t, client.IsScheduleID(id), id)

	code, out, errOut := e.run("submit", "sleep", `{"ms":1}`, "--cron", "CRON_TZ=Europe/Berlin 0 3 * * *", "--json")
	require.Equal(t, ExitOK, code, errOut)
	var cron wire.Schedule
	require.NoError(t, json.Unmarshal([]byte(out), &cron), out)
	require.True(t, client.IsScheduleID(cron.ID), out)
	require.Equal(t, "CRON_TZ=Europe/Berlin 0 3 * * *", cron.Cron)
	require.Equal(t, wire.MisfireRunOnce, cron.Misfire)
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	require.Equal(t, 3, cron.NextAt.In(berlin).Hour())

	code, out, errOut = e.run("status", id)
	require.Equal(t, ExitOK, code, errOut)
	for _, want := range []string{"id:        " + id, "task:      echo", "state:     active", "rule:      every 8s", "misfire:   skip", "queue:     q", "attempts:  up to 2 per occurrence", "timeout:   1m0s", `args:      {"a":1}`} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, "name:", "an API schedule has no name")

	code, out, errOut = e.run("status", id, "--json")
	require.Equal(t, ExitOK, code, errOut)
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &rec))
	require.Equal(t, id, rec["id"])
	require.Equal(t, "8s", rec["every"])
	require.Contains(t, rec, "next_at")

	// The table lists both, soonest first.
	code, out, errOut = e.run("schedules")
	require.Equal(t, ExitOK, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	require.Equal(t, []string{"ID", "NAME", "TASK", "RULE", "QUEUE", "NEXT"}, strings.Fields(lines[0]))
	require.Equal(t, []string{id, "-", "echo", "every", "8s", "q"}, strings.Fields(lines[1])[:6])
	require.Contains(t, lines[2], "cron CRON_TZ=Europe/Berlin 0 3 * * *")
	require.Contains(t, lines[2], cron.NextAt.UTC().Format(tasks.TimeLayout))

	code, out, errOut = e.run("cancel", id)
	require.Equal(t, ExitOK, code, errOut)
	require.Equal(t, id+" canceled\n", out)
	code, _, errOut = e.run("cancel", id)
	require.Equal(t, ExitError, code)
	require.Contains(t, errOut, "409")
	code, out, errOut = e.run("status", id)
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, out, "state:     canceled")
	require.Contains(t, out, "next:      -")

	code, out, errOut = e.run("schedules", "--json")
	require.Equal(t, ExitOK, code, errOut)
	var list []wire.Schedule
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	require.Len(t, list, 1)
	require.Equal(t, cron.ID, list[0].ID)

	code, _, errOut = e.run("cancel", cron.ID)
	require.Equal(t, ExitOK, code, errOut)
	code, out, errOut = e.run("schedules", "--json")
	require.Equal(t, ExitOK, code, errOut)
	require.JSONEq(t, "[]", out)
	code, out, errOut = e.run("schedules")
	require.Equal(t, ExitOK, code, errOut)
	require.Equal(t, "ID  NAME  TASK  RULE  QUEUE  NEXT\n", out)
}

// Occurrences are ordinary tasks: list --name finds them, status names
// their schedule; cancel stops them.
func TestScheduleOccurrences(t *testing.T) {
	t.Parallel()
	e := setup(t, options{scheduler: true})
	id := e.submit("echo", `{"tick":true}`, "--every", "100ms")

	var list []tasks.Task
	require.Eventually(t, func() bool {
		code, out, errOut := e.run("list", "--name", "echo", "--state", "succeeded", "--json")
		require.Equal(t, ExitOK, code, errOut)
		require.NoError(t, json.Unmarshal([]byte(out), &list))
		return len(list) >= 2
	}, 10*time.Second, 20*time.Millisecond)
	for _, tk := range list {
		require.Equal(t, id, tk.Schedule)
		require.True(t, strings.HasPrefix(tk.ID, id+"-"), tk.ID)
	}
	code, out, errOut := e.run("status", list[0].ID)
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, out, "schedule:  "+id)
	code, out, errOut = e.run("wait", list[0].ID)
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, out, `"tick":true`)

	code, out, errOut = e.run("cancel", id)
	require.Equal(t, ExitOK, code, errOut)
	require.Equal(t, id+" canceled\n", out)
	require.Eventually(t, func() bool {
		code, out, errOut := e.run("list", "--name", "echo", "--state", "scheduled", "--json")
		require.Equal(t, ExitOK, code, errOut)
		return strings.TrimSpace(out) == "[]"
	}, 10*time.Second, 20*time.Millisecond, "no occurrence is pending after the cancel")
}
