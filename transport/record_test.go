package transport

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

// fields turns EncodeRecord's pairs into the map HGETALL gives back.
func fields(t *testing.T, pairs []any) map[string]string {
	t.Helper()
	m := map[string]string{}
	for i := 0; i < len(pairs); i += 2 {
		m[pairs[i].(string)] = fmt.Sprint(pairs[i+1])
	}
	return m
}

func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(time.Now().UnixMilli()).UTC()
	in := &tasks.Task{ID: "01J", Name: "echo", Args: json.RawMessage(`{"a":1}`), Queue: "default",
		State: tasks.Failed, DueAt: now, CreatedAt: now.Add(-time.Second), StartedAt: now, FinishedAt: now.Add(time.Second),
		Attempts: 2, MaxAttempts: 3, Timeout: 1500 * time.Millisecond, Result: json.RawMessage(`{"exit":1}`),
		Error: "boom", Parents: []string{"p1", "p2"}, Pending: 1,
		OnParentFailure: tasks.PolicySkip, Schedule: "s1", Key: "k", Run: 4, Recoveries: 1}
	out, err := DecodeRecord("01J", fields(t, EncodeRecord(in)))
	require.NoError(t, err)
	require.Equal(t, in, out)

	// Parents' outcomes, written by the scripts, come back in declared order.
	h := fields(t, EncodeRecord(in))
	h[FOutcome+"p2"] = `{"id":"p2","name":"b","state":"failed","result":null,"error":"boom"}`
	h[FOutcome+"p1"] = `{"id":"p1","name":"a","state":"succeeded","result":{"x":1},"error":""}`
	out, err = DecodeRecord("01J", h)
	require.NoError(t, err)
	require.Len(t, out.Outcomes, 2)
	require.Equal(t, "p1", out.Outcomes[0].ID)
	require.JSONEq(t, `{"x":1}`, string(out.Outcomes[0].Result))
	require.Equal(t, tasks.Failed, out.Outcomes[1].State)
	require.Equal(t, "boom", out.Outcomes[1].Error)
	h[FOutcome+"p1"] = "{"
	_, err = DecodeRecord("01J", h)
	require.ErrorIs(t, err, ErrCorrupt)
}

func TestDecodeRecordRejectsDamage(t *testing.T) {
	t.Parallel()
	good := fields(t, EncodeRecord(&tasks.Task{Name: "echo", Args: json.RawMessage(`{}`), Queue: "default",
		State: tasks.Scheduled, MaxAttempts: 1}))
	for name, change := range map[string][2]string{
		"other version":   {FVersion, "3"},
		"no name":         {FName, ""},
		"unknown state":   {FState, "sleeping"},
		"args not JSON":   {FArgs, "{"},
		"result not JSON": {FResult, "nope"},
		"negative count":  {FAttempts, "-1"},
		"count not int":   {FDue, "soon"},
		"parents":         {FParents, `"p1"`},
		"args too deep":   {FArgs, strings.Repeat("[", 1001) + strings.Repeat("]", 1001)},
		"args not UTF-8":  {FArgs, "\"\xff\""},
		"result too deep": {FResult, strings.Repeat("[", 1001) + strings.Repeat("]", 1001)},
		"due past 9999":   {FDue, "253402300800000"},
		"due overflows":   {FDue, "9223372036854775807"},
	} {
		h := map[string]string{}
		for k, v := range good {
			h[k] = v
		}
		h[change[0]] = change[1]
		_, err := DecodeRecord("x", h)
		require.ErrorIs(t, err, ErrCorrupt, name)
	}
	_, err := DecodeRecord("x", nil)
	require.ErrorIs(t, err, ErrCorrupt)

	// The last ms of 9999 is a time a record holds, and a timeout longer
	// than a time span still reads.
	h := map[string]string{}
	for k, v := range good {
		h[k] = v
	}
	h[FDue], h[FTimeout] = "253402300799999", "9223372036854"
	got, err := DecodeRecord("x", h)
	require.NoError(t, err)
	require.True(t, got.DueAt.Equal(tasks.MaxTime), "due %s", got.DueAt)
}

func TestMessages(t *testing.T) {
	t.Parallel()
	a, err := ParseAnnounce(Announce{DueMs: 42, ID: "t1"}.String())
	require.NoError(t, err)
	require.Equal(t, Announce{DueMs: 42, ID: "t1"}, a)
	ev := Event{Kind: "succeeded", ID: "t1", Queue: "default", Name: "echo"}
	d, err := ParseEvents(ev.String())
	require.NoError(t, err)
	require.Equal(t, []Event{ev}, d)
	require.True(t, ev.Finished())
	d, err = ParseEvents("queued t1 q a\nstarted t2 q b\ncanceled t3 q c")
	require.NoError(t, err)
	require.Equal(t, []Event{{"queued", "t1", "q", "a"}, {"started", "t2", "q", "b"}, {"canceled", "t3", "q", "c"}}, d, "one line per task of a call")
	require.False(t, d[1].Finished())
	for _, bad := range []string{"", "42", "x t1", "42 "} {
		_, err := ParseAnnounce(bad)
		require.Error(t, err, bad)
	}
	for _, bad := range []string{"", "succeeded", " t1", "succeeded t1 q", "succeeded t1 q n\n"} {
		d, err := ParseEvents(bad)
		require.Error(t, err, bad)
		require.Len(t, d, len(strings.Split(bad, "\n"))-1, "%q: the good lines are kept", bad)
	}
	// One bad line costs only itself: the events batched with it arrive.
	d, err = ParseEvents("queued t1 q a\nfailed t2 q\n\nstarted t3 q c")
	require.ErrorContains(t, err, "left out 2 malformed line(s)")
	require.Equal(t, []Event{{"queued", "t1", "q", "a"}, {"started", "t3", "q", "c"}}, d)

	for in, want := range map[string]string{"echo": "echo", "": "?", "a b": "?", "a\nb": "?", "a\tb": "?", "é": "é"} {
		require.Equal(t, want, EventWord(in), "%q", in)
	}
}
