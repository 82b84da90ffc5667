package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/wire"
)

// The queue routes pause, list and resume a queue, and refuse a name that
// cannot be one, writing nothing.
func TestQueueRoutesPauseListAndResume(t *testing.T) {
	t.Parallel()
	e := setup(t)
	status, b := e.call(t, "POST", "/api/v1/tasks", `{"name":"echo","in":"1h","queue":"mail"}`)
	require.Equal(t, http.StatusCreated, status, "%s", b)

	status, b = e.call(t, "POST", "/api/v1/queues/mail/pause", "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	var q wire.Queue
	require.NoError(t, json.Unmarshal(b, &q))
	require.Equal(t, wire.Queue{Name: "mail", QueueStats: wire.QueueStats{Scheduled: 1, Paused: true}}, q)

	status, b = e.call(t, "GET", "/api/v1/queues", "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	var qs []wire.Queue
	require.NoError(t, json.Unmarshal(b, &qs))
	require.Equal(t, []wire.Queue{q}, qs)
	status, b = e.call(t, "GET", "/api/v1/stats", "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	var st wire.Stats
	require.NoError(t, json.Unmarshal(b, &st))
	require.True(t, st.Queues["mail"].Paused)

	status, b = e.call(t, "POST", "/api/v1/queues/mail/resume", "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	require.NoError(t, json.Unmarshal(b, &q))
	require.False(t, q.Paused)

	keys := e.mr.Keys()
	status, b = e.call(t, "POST", "/api/v1/queues/no%20such%20queue/pause", "")
	require.Equal(t, http.StatusBadRequest, status, "%s", b)
	require.Contains(t, string(b), "a queue name is 1-64 letters")
	require.Equal(t, keys, e.mr.Keys(), "a refused pause writes nothing")
}

// The schedule routes pause and resume a schedule; a canceled one is a
// 409, an unknown id a 404.
func TestScheduleRoutesPauseAndResume(t *testing.T) {
	t.Parallel()
	e := setup(t)
	status, b := e.call(t, "POST", "/api/v1/tasks", `{"name":"echo","every":"1h"}`)
	require.Equal(t, http.StatusCreated, status, "%s", b)
	var sc wire.Schedule
	require.NoError(t, json.Unmarshal(b, &sc))

	status, b = e.call(t, "POST", "/api/v1/schedules/"+sc.ID+"/pause", "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	require.NoError(t, json.Unmarshal(b, &sc))
	require.Equal(t, wire.SchedulePaused, sc.State)
	require.True(t, sc.NextAt.IsZero(), "a paused schedule has no next slot")

	status, b = e.call(t, "POST", "/api/v1/schedules/"+sc.ID+"/resume", "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	require.NoError(t, json.Unmarshal(b, &sc))
	require.Equal(t, wire.ScheduleActive, sc.State)
	require.False(t, sc.NextAt.IsZero())

	status, _ = e.call(t, "DELETE", "/api/v1/schedules/"+sc.ID, "")
	require.Equal(t, http.StatusOK, status)
	status, b = e.call(t, "POST", "/api/v1/schedules/"+sc.ID+"/pause", "")
	require.Equal(t, http.StatusConflict, status, "%s", b)
	status, _ = e.call(t, "POST", "/api/v1/schedules/S01JUNKNOWNXXXXXXXXXXXXXXXX/resume", "")
	require.Equal(t, http.StatusNotFound, status)
}
