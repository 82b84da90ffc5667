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

// Records of formats 1 and 2, which older daemons left in Redis, read as
// the same task as this build's format: every part in a field of its own.
func TestOlderFormatsReadTheSame(t *testing.T) {
	t.Parallel()
	in := &tasks.Task{ID: "01J", Name: "echo", Args: json.RawMessage(`{"a":[1,"x"]}`), Queue: "q1",
		State: tasks.Waiting, DueAt: time.UnixMilli(1700000000123).UTC(), CreatedAt: time.UnixMilli(1700000000000).UTC(),
		Attempts: 1, MaxAttempts: 4, Timeout: 2 * time.Second, Error: "e", Parents: []string{"p1"}, Pending: 1,
		OnParentFailure: tasks.PolicyRun, Schedule: "s1", Key: `k "quoted" ü`, Workflow: "W1", Node: "n\\1", Run: 2, Recoveries: 1}
	v3, err := DecodeRecord("01J", fields(t, EncodeRecord(in)))
	require.NoError(t, err)
	require.Equal(t, in, v3)
	for _, v := range []string{"1", "2"} {
		old := map[string]string{FVersion: v, FName: "echo", FArgs: ` {"a":[1,"x"]}` + "\n", FQueue: "q1", FState: "waiting",
			FDue: "1700000000123", FCreated: "1700000000000", FAttempts: "1", FMaxAttempts: "4", FTimeout: "2000",
			FError: "e", FParents: `["p1"]`, FPending: "1", FPolicy: "run", FSchedule: "s1", FKey: `k "quoted" ü`,
			FWorkflow: "W1", FNode: "n\\1", FRun: "2", FRecoveries: "1"}
		got, err := DecodeRecord("01J", old)
		require.NoError(t, err, "format %s", v)
		require.Equal(t, in, got, "format %s", v)
	}
}

func TestDecodeRecordRejectsDamage(t *testing.T) {
	t.Parallel()
	good := fields(t, EncodeRecord(&tasks.Task{Name: "echo", Args: json.RawMessage(`{}`), Queue: "default",
		State: tasks.Scheduled, MaxAttempts: 1}))
	deep := strings.Repeat("[", 1001) + strings.Repeat("]", 1001)
	for name, change := range map[string][2]string{
		"other version":     {FVersion, "5"},
		"no name":           {FName, ""},
		"unknown state":     {FState, "sleeping"},
		"no x":              {FImmutable, ""},
		"x not JSON":        {FImmutable, "{"},
		"x without args":    {FImmutable, `{"m":1}`},
		"args not JSON":     {FImmutable, `{"a":{}`},
		"x not UTF-8":       {FImmutable, "{\"a\":\"\xff\"}"},
		"args too deep":     {FImmutable, `{"a":` + deep + `}`},
		"negative attempts": {FImmutable, `{"a":1,"m":-1}`},
		"parents not ids":   {FImmutable, `{"a":1,"p":"p1"}`},
		"result not JSON":   {FResult, "nope"},
		"negative count":    {FAttempts, "-1"},
		"count not int":     {FDue, "soon"},
		"result too deep":   {FResult, deep},
		"due past 9999":     {FDue, "253402300800000"},
		"due overflows":     {FDue, "9223372036854775807"},
	} {
		h := map[string]string{}
		for k, v := range good {
			h[k] = v
		}
		if change[1] == "" {
			delete(h, change[0])
		} else {
			h[change[0]] = change[1]
		}
		_, err := DecodeRecord("x", h)
		require.ErrorIs(t, err, ErrCorrupt, name)
	}
	// The same of a format 1 or 2 record, which keeps args and parents in
	// fields of their own.
	for _, v := range []string{"1", "2"} {
		old := map[string]string{FVersion: v, FName: "echo", FArgs: "{}", FQueue: "default", FState: "scheduled", FMaxAttempts: "1"}
		_, err := DecodeRecord("x", old)
		require.NoError(t, err)
		for name, change := range map[string][2]string{
			"args not JSON": {FArgs, "{"}, "args not UTF-8": {FArgs, "\"\xff\""}, "args too deep": {FArgs, deep},
			"parents": {FParents, `"p1"`}, "max attempts": {FMaxAttempts, "-2"}, "timeout": {FTimeout, "x"},
		} {
			h := map[string]string{}
			for k, v := range old {
				h[k] = v
			}
			h[change[0]] = change[1]
			_, err := DecodeRecord("x", h)
			require.ErrorIs(t, err, ErrCorrupt, "format %s: %s", v, name)
		}
		delete(old, FArgs)
		_, err = DecodeRecord("x", old)
		require.ErrorIs(t, err, ErrCorrupt, "format %s without args", v)
	}
	_, err := DecodeRecord("x", nil)
	require.ErrorIs(t, err, ErrCorrupt)

	// The last ms of 9999 is a time a record holds, and a timeout longer
	// than a time span still reads.
	h := map[string]string{}
	for k, v := range good {
		h[k] = v
	}
	h[FDue], h[FImmutable] = "253402300799999", `{"a":{},"m":1,"t":9223372036854}`
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

// A format 4 record as a submit writes it (no version field; its due and
// creation times in x) reads its times from x, a due field written later
// (a retry, a release) says when it is due, and a time in x out of range
// is damage.
func TestFormat4RecordsReadTheirSubmitTimesFromX(t *testing.T) {
	t.Parallel()
	h := map[string]string{FName: "echo", FQueue: "default", FState: "scheduled", FImmutable: `{"a":{"n":1},"d":1700000000123,"c":1700000000001}`}
	got, err := DecodeRecord("t1", h)
	require.NoError(t, err)
	require.Equal(t, int64(1700000000123), got.DueAt.UnixMilli())
	require.Equal(t, int64(1700000000001), got.CreatedAt.UnixMilli())
	require.JSONEq(t, `{"n":1}`, string(got.Args))
	require.True(t, CountsKids(h[FVersion]), "a format 4 record counts its children")

	h[FDue] = "1700000009999"
	got, err = DecodeRecord("t1", h)
	require.NoError(t, err)
	require.Equal(t, int64(1700000009999), got.DueAt.UnixMilli(), "the field says when it is due")
	require.Equal(t, int64(1700000000001), got.CreatedAt.UnixMilli())

	delete(h, FDue)
	for _, x := range []string{`{"a":1,"d":-1}`, `{"a":1,"c":253402300800000}`, `{"a":1,"d":"soon"}`} {
		h[FImmutable] = x
		_, err := DecodeRecord("t1", h)
		require.ErrorIs(t, err, ErrCorrupt, x)
	}
	// What this build's encoder writes reads back the same.
	task := &tasks.Task{ID: "t2", Name: "echo", Queue: "q", State: tasks.Scheduled, Args: json.RawMessage(`[1]`),
		DueAt: time.UnixMilli(1700000000500).UTC(), CreatedAt: time.UnixMilli(1700000000400).UTC(), Key: "k", Workflow: "w"}
	fields := map[string]string{}
	enc := EncodeRecord(task)
	for i := 0; i < len(enc); i += 2 {
		fields[enc[i].(string)] = fmt.Sprint(enc[i+1])
	}
	require.NotContains(t, fields, FVersion, "format 4 has no version field")
	back, err := DecodeRecord("t2", fields)
	require.NoError(t, err)
	require.Equal(t, task.DueAt, back.DueAt)
	require.Equal(t, task.CreatedAt, back.CreatedAt)
	require.Equal(t, "k", back.Key)
	require.Equal(t, "w", back.Workflow)
}
