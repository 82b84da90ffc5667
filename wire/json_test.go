package wire_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

var at = time.Date(2030, 1, 2, 15, 4, 5, 123456789, time.UTC)

// The API's JSON of each answer type, byte for byte: clients in other
// languages read these.
func TestTheJSONOfEachAnswerIsTheAPIs(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		v    any
		want string
	}{
		"active schedule": {wire.Schedule{ID: "S01", Name: "n", Task: "echo", Args: json.RawMessage(`{"a":1}`), Queue: "q",
			Every: 90 * time.Second, Misfire: wire.MisfireSkip, State: wire.ScheduleActive, NextAt: at,
			CreatedAt: at.Add(-time.Hour), MaxAttempts: 3, Timeout: 5 * time.Second},
			`{"id":"S01","name":"n","task":"echo","args":{"a":1},"queue":"q","misfire":"skip","state":"active","max_attempts":3,"every":"1m30s","next_at":"2030-01-02T15:04:05.123Z","created_at":"2030-01-02T14:04:05.123Z","timeout":"5s"}`},
		"canceled schedule": {wire.Schedule{ID: "S02", Task: "echo", Args: json.RawMessage(`null`), Queue: "q", Cron: "@hourly",
			Misfire: wire.MisfireRunOnce, State: wire.ScheduleCanceled, NextAt: at, CreatedAt: at},
			`{"id":"S02","task":"echo","args":null,"queue":"q","cron":"@hourly","misfire":"run_once","state":"canceled","max_attempts":0,"next_at":null,"created_at":"2030-01-02T15:04:05.123Z"}`},
		"zero schedule": {&wire.Schedule{},
			`{"id":"","task":"","args":null,"queue":"","misfire":"","state":"","max_attempts":0,"next_at":null,"created_at":"0001-01-01T00:00:00.000Z"}`},
		"event": {wire.Event{Kind: wire.EventQueued, ID: "A", Queue: "q", Name: "echo", At: at},
			`{"kind":"queued","id":"A","queue":"q","name":"echo","at":"2030-01-02T15:04:05.123456789Z"}`},
		"resync": {wire.Event{Kind: wire.EventResync, At: at}, `{"kind":"resync","at":"2030-01-02T15:04:05.123456789Z"}`},
		"stats": {wire.Stats{States: map[tasks.State]int64{tasks.Scheduled: 2, tasks.Running: 1},
			Queues: map[string]wire.QueueStats{"q": {Scheduled: 2, Running: 1}}, Daemons: []string{"d1", "d2"},
			DaemonInfo: []wire.Daemon{{ID: "d1", LastSeen: at, Info: &wire.DaemonInfo{Queues: []string{"q"}, Handlers: []string{"echo"}, Workers: 4}},
				{ID: "d2", LastSeen: at}},
			Stranded: []wire.Stranded{{Queue: "q", Handler: "shell", Count: 3, Reason: "no live daemon serving q can run shell"}}},
			`{"states":{"running":1,"scheduled":2},"queues":{"q":{"scheduled":2,"running":1,"paused":false}},"daemons":["d1","d2"],"daemon_info":[{"id":"d1","last_seen":"2030-01-02T15:04:05.123456789Z","info":{"queues":["q"],"handlers":["echo"],"workers":4}},{"id":"d2","last_seen":"2030-01-02T15:04:05.123456789Z","info":null}],"stranded":[{"queue":"q","handler":"shell","count":3,"reason":"no live daemon serving q can run shell"}]}`},
		"queue": {wire.Queue{Name: "mail", QueueStats: wire.QueueStats{Scheduled: 4, Paused: true}},
			`{"name":"mail","scheduled":4,"running":0,"paused":true}`},
		"paused schedule": {wire.Schedule{ID: "S03", Task: "echo", Args: json.RawMessage(`null`), Queue: "q", Every: time.Minute,
			Misfire: wire.MisfireRunOnce, State: wire.SchedulePaused, NextAt: at, CreatedAt: at},
			`{"id":"S03","task":"echo","args":null,"queue":"q","misfire":"run_once","state":"paused","max_attempts":0,"every":"1m0s","next_at":null,"created_at":"2030-01-02T15:04:05.123Z"}`},
		"zero stats": {wire.Stats{}, `{"states":null,"queues":null,"daemons":null,"daemon_info":null,"stranded":null}`},
	} {
		b, err := json.Marshal(tc.v)
		require.NoError(t, err, name)
		require.Equal(t, tc.want, string(b), name)
	}
}

// A schedule reads back as it was written, to the millisecond the API
// keeps.
func TestScheduleRoundTrips(t *testing.T) {
	t.Parallel()
	in := wire.Schedule{ID: "S01", Name: "n", Task: "echo", Args: json.RawMessage(`{"a":1}`), Queue: "q",
		Every: 90 * time.Second, Misfire: wire.MisfireSkip, State: wire.ScheduleActive,
		NextAt: at.Truncate(time.Millisecond), CreatedAt: at.Add(-time.Hour).Truncate(time.Millisecond),
		MaxAttempts: 3, Timeout: 5 * time.Second}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	var out wire.Schedule
	require.NoError(t, json.Unmarshal(b, &out))
	require.Equal(t, in, out)

	require.Error(t, json.Unmarshal([]byte(`{"every":"often"}`), &out), "a duration that is not one")
	require.Error(t, json.Unmarshal([]byte(`{"created_at":"yesterday"}`), &out), "a time that is not one")
}

func TestStrandedReadsAsASentence(t *testing.T) {
	t.Parallel()
	require.Equal(t, "1 due task of handler shell in queue q: r", wire.Stranded{Queue: "q", Handler: "shell", Count: 1, Reason: "r"}.String())
	require.Equal(t, "2 due tasks of handler shell in queue q: r", wire.Stranded{Queue: "q", Handler: "shell", Count: 2, Reason: "r"}.String())
}
