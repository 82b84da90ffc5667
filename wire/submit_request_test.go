package wire_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

func TestSubmitRequestJSON(t *testing.T) {
	t.Parallel()
	full := wire.SubmitRequest{Name: "echo", Args: json.RawMessage(`{"a":1}`), In: "5s", At: "2030-01-02T15:04:05Z",
		After: []string{"A", "B"}, OnParentFailure: "run", Queue: "q", MaxAttempts: 2, Timeout: "1s", Key: "k",
		Every: "8s", Cron: "@hourly", Misfire: "skip"}
	for v, want := range map[*wire.SubmitRequest]string{
		&full: `{"name":"echo","args":{"a":1},"in":"5s","at":"2030-01-02T15:04:05Z","after":["A","B"],"on_parent_failure":"run","queue":"q","max_attempts":2,"timeout":"1s","key":"k","every":"8s","cron":"@hourly","misfire":"skip"}`,
		{}:    `{"name":""}`,
	} {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		require.Equal(t, want, string(b))
	}
}

// A one-off request becomes a normalized tasks.Spec, a recurring one a
// ScheduleSpec; each refuses what belongs to the other, naming the field.
func TestSubmitRequestSpecs(t *testing.T) {
	t.Parallel()
	spec, err := wire.SubmitRequest{Name: "echo", In: "5s", Timeout: "1s"}.Spec()
	require.NoError(t, err)
	require.Equal(t, 5*time.Second, spec.In)
	require.Equal(t, time.Second, spec.Timeout)
	require.Equal(t, tasks.DefaultQueue, spec.Queue)

	ss, err := wire.SubmitRequest{Name: "echo", Every: "8s", Misfire: "skip"}.ScheduleSpec()
	require.NoError(t, err)
	require.Equal(t, 8*time.Second, ss.Every)
	require.Equal(t, wire.MisfireSkip, ss.Misfire)

	for _, tc := range []struct {
		req  wire.SubmitRequest
		want string
	}{
		{wire.SubmitRequest{Name: "echo", In: "soon"}, "in"},
		{wire.SubmitRequest{Name: "echo", Misfire: "skip"}, "misfire applies only to recurring tasks"},
		{wire.SubmitRequest{Name: "echo", Every: "8s"}, "every or cron given"},
	} {
		_, err := tc.req.Spec()
		require.ErrorIs(t, err, tasks.ErrInvalid)
		require.ErrorContains(t, err, tc.want)
	}
	for _, tc := range []struct {
		req  wire.SubmitRequest
		want string
	}{
		{wire.SubmitRequest{Name: "echo"}, "neither every nor cron"},
		{wire.SubmitRequest{Name: "echo", Every: "8s", Cron: "@hourly"}, "every and cron both given"},
		{wire.SubmitRequest{Name: "echo", Every: "8s", Key: "k"}, "key given with every or cron"},
		{wire.SubmitRequest{Name: "echo", Every: "-1s"}, "positive interval"},
		{wire.SubmitRequest{Name: "echo", Cron: "@hourly", Misfire: "sometimes"}, "use run_once or skip"},
	} {
		_, err := tc.req.ScheduleSpec()
		require.ErrorIs(t, err, tasks.ErrInvalid)
		require.ErrorContains(t, err, tc.want)
	}
}
