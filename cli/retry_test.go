package cli

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

func TestRetryFailedThenWait(t *testing.T) {
	t.Parallel()
	d := setupDaemon(t)
	id := d.submit("flaky")
	code, _, errOut := d.run("wait", id)
	require.Equal(t, ExitFailed, code)
	require.Contains(t, errOut, "first run fails")

	code, out, errOut := d.run("retry", id)
	require.Equal(t, ExitOK, code, errOut)
	require.Regexp(t, `^`+id+` (scheduled|running|succeeded)\n$`, out)

	code, out, errOut = d.run("wait", id)
	require.Equal(t, ExitOK, code, errOut)
	require.Equal(t, "\"ok\"\n", out)
}

func TestRetryRefused(t *testing.T) {
	t.Parallel()
	e := setup(t, options{scheduler: true})
	ok := e.submit("echo")
	code, _, errOut := e.run("wait", ok)
	require.Equal(t, ExitOK, code, errOut)

	code, out, errOut := e.run("retry", ok)
	require.Equal(t, ExitError, code, "refused as cancel refuses a finished task")
	require.Empty(t, out)
	require.Contains(t, errOut, "dueq: retry "+ok+": it is succeeded; only failed or canceled tasks can be retried")
	require.Contains(t, errOut, "HTTP 409")

	code, out, errOut = e.run("retry", "01NOSUCHTASK0000000000000")
	require.Equal(t, ExitError, code)
	require.Empty(t, out)
	require.Contains(t, errOut, "404")

	code, _, errOut = e.run("retry", "SNOSUCHSCHEDULE")
	require.Equal(t, ExitError, code)
	require.Contains(t, errOut, "is a schedule")

	code, _, errOut = e.run("retry")
	require.Equal(t, ExitError, code)
	require.Contains(t, errOut, "retry takes one task id")
}

func TestRetryCanceledJSON(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	id := e.submit("echo", "--in", "1h")
	code, _, errOut := e.run("cancel", id)
	require.Equal(t, ExitOK, code, errOut)

	code, out, errOut := e.run("retry", id, "--json")
	require.Equal(t, ExitOK, code, errOut)
	var rec tasks.Task
	require.NoError(t, json.Unmarshal([]byte(out), &rec), out)
	require.Equal(t, id, rec.ID)
	require.Equal(t, tasks.Scheduled, rec.State, "no worker runs here: it waits in the index, due now")
	require.Zero(t, rec.Attempts)
}
