package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// schedule decodes a schedule record.
func schedule(t *testing.T, b []byte) *wire.Schedule {
	t.Helper()
	var sc wire.Schedule
	require.NoError(t, json.Unmarshal(b, &sc), "body: %s", b)
	require.True(t, client.IsScheduleID(sc.ID), "body: %s", b)
	return &sc
}

func TestSubmitSchedule(t *testing.T) {
	t.Parallel()
	e := setup(t)
	status, b := e.call(t, "POST", "/api/v1/tasks", `{"name":"echo","args":{"n":1},"every":"8s","queue":"q1","max_attempts":3,"timeout":"5s","misfire":"skip"}`)
	require.Equal(t, http.StatusCreated, status, "%s", b)
	sc := schedule(t, b)
	require.Equal(t, "echo", sc.Task)
	require.JSONEq(t, `{"n":1}`, string(sc.Args))
	require.Equal(t, "q1", sc.Queue)
	require.Equal(t, 8*time.Second, sc.Every)
	require.Empty(t, sc.Cron)
	require.Equal(t, wire.MisfireSkip, sc.Misfire)
	require.Equal(t, wire.ScheduleActive, sc.State)
	require.Equal(t, 3, sc.MaxAttempts)
	require.Equal(t, 5*time.Second, sc.Timeout)
	require.WithinDuration(t, time.Now().Add(8*time.Second), sc.NextAt, 2*time.Second)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(b, &raw))
	require.Equal(t, "8s", raw["every"])
	require.Contains(t, raw, "next_at")

	status, b = e.call(t, "POST", "/api/v1/tasks", `{"name":"other","cron":"CRON_TZ=Asia/Tokyo 0 9 * * *"}`)
	require.Equal(t, http.StatusCreated, status, "%s", b)
	cron := schedule(t, b)
	require.Equal(t, "CRON_TZ=Asia/Tokyo 0 9 * * *", cron.Cron)
	require.Equal(t, wire.MisfireRunOnce, cron.Misfire, "the default")
	require.Equal(t, tasks.DefaultQueue, cron.Queue)
	require.JSONEq(t, `{}`, string(cron.Args))
	require.Equal(t, 0, cron.NextAt.In(time.FixedZone("JST", 9*3600)).Hour()-9, "09:00 in Tokyo")
	raw = nil
	require.NoError(t, json.Unmarshal(b, &raw))
	require.NotContains(t, raw, "every")

	// Listed by next fire time; GET by either path.
	status, b = e.call(t, "GET", "/api/v1/schedules", "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	var list struct{ Schedules []*wire.Schedule }
	require.NoError(t, json.Unmarshal(b, &list))
	require.Len(t, list.Schedules, 2)
	require.Equal(t, sc.ID, list.Schedules[0].ID)
	require.Equal(t, cron.ID, list.Schedules[1].ID)
	for _, path := range []string{"/api/v1/schedules/" + sc.ID, "/api/v1/tasks/" + sc.ID} {
		status, b = e.call(t, "GET", path, "")
		require.Equal(t, http.StatusOK, status, "%s: %s", path, b)
		got := schedule(t, b)
		require.Equal(t, sc.ID, got.ID)
		require.True(t, sc.NextAt.Equal(got.NextAt))
	}

	// Cancel by the task path (as `dueq cancel` may), then by the schedule path.
	status, b = e.call(t, "DELETE", "/api/v1/tasks/"+sc.ID, "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	require.Equal(t, wire.ScheduleCanceled, schedule(t, b).State)
	status, b = e.call(t, "DELETE", "/api/v1/schedules/"+sc.ID, "")
	require.Equal(t, http.StatusConflict, status, "%s", b)
	require.Contains(t, errorMessage(t, b), "canceled before")
	status, b = e.call(t, "GET", "/api/v1/schedules", "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	require.NoError(t, json.Unmarshal(b, &list))
	require.Len(t, list.Schedules, 1, "only active schedules are listed")

	status, b = e.call(t, "DELETE", "/api/v1/schedules/"+cron.ID, "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	status, b = e.call(t, "GET", "/api/v1/schedules", "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	require.JSONEq(t, `{"schedules":[]}`, string(b))
}

// Occurrences are ordinary tasks naming their schedule; canceling the
// schedule stops them.
func TestScheduleRuns(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.runScheduler(t)
	ctx := context.Background()
	sc, err := e.cl.SubmitSchedule(ctx, wire.SubmitRequest{Name: "echo", Args: json.RawMessage(`{"tick":1}`), Every: "100ms"})
	require.NoError(t, err)

	var done []*tasks.Task
	require.Eventually(t, func() bool {
		done, err = e.cl.List(ctx, wire.ListOptions{State: tasks.Succeeded, Name: "echo"})
		require.NoError(t, err)
		return len(done) >= 2
	}, 10*time.Second, 20*time.Millisecond)
	for _, tk := range done {
		require.Equal(t, sc.ID, tk.Schedule)
		require.JSONEq(t, `{"args":{"tick":1}}`, string(tk.Result))
	}

	canceled, err := e.cl.CancelSchedule(ctx, sc.ID)
	require.NoError(t, err)
	require.Equal(t, wire.ScheduleCanceled, canceled.State)
	require.Eventually(t, func() bool {
		pending, err := e.cl.List(ctx, wire.ListOptions{State: tasks.Scheduled, Name: "echo"})
		require.NoError(t, err)
		return len(pending) == 0
	}, 10*time.Second, 20*time.Millisecond, "no occurrence is pending after the cancel")
}

func TestClientSchedules(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()

	sc, err := e.cl.SubmitSchedule(ctx, wire.SubmitRequest{Name: "echo", Cron: "@hourly", Timeout: "1m"})
	require.NoError(t, err)
	require.Equal(t, time.Minute, sc.Timeout)
	require.Equal(t, 0, sc.NextAt.Minute())

	list, err := e.cl.Schedules(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, sc.ID, list[0].ID)

	got, err := e.cl.GetSchedule(ctx, sc.ID)
	require.NoError(t, err)
	require.Equal(t, sc.ID, got.ID)
	require.Equal(t, "@hourly", got.Cron)

	canceled, err := e.cl.CancelSchedule(ctx, sc.ID)
	require.NoError(t, err)
	require.Equal(t, wire.ScheduleCanceled, canceled.State)
	_, err = e.cl.CancelSchedule(ctx, sc.ID)
	require.ErrorIs(t, err, wire.ErrFinished)
	_, err = e.cl.GetSchedule(ctx, "SNOSUCH")
	require.ErrorIs(t, err, wire.ErrNotFound)

	// A bad rule is refused with the parser's reason, and nothing is written.
	before := keys(e)
	_, err = e.cl.SubmitSchedule(ctx, wire.SubmitRequest{Name: "echo", Cron: "61 * * * *"})
	require.ErrorIs(t, err, tasks.ErrInvalid)
	require.ErrorContains(t, err, "61")
	require.Equal(t, before, keys(e))

	// Each method refuses the other kind of request without sending it.
	_, err = e.cl.Submit(ctx, wire.SubmitRequest{Name: "echo", Every: "1s"})
	require.ErrorIs(t, err, tasks.ErrInvalid)
	require.ErrorContains(t, err, "SubmitSchedule")
	_, err = e.cl.SubmitSchedule(ctx, wire.SubmitRequest{Name: "echo"})
	require.ErrorIs(t, err, tasks.ErrInvalid)
	require.ErrorContains(t, err, "neither every nor cron")
	require.Equal(t, before, keys(e))
}
