package apiclient_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/apiclient"
	"github.com/dueq/dueq/wire"
)

// The parser follows the server-sent events format: \n, \r\n and \r line
// ends, comments, multi-line data, the event name as the kind when the data
// has none, events without data skipped, a partial event at the end
// dropped.
func TestClientEventsParsing(t *testing.T) {
	t.Parallel()
	body := ": dueq events\r\n\r\n" +
		"event: queued\r\ndata: {\"kind\":\"queued\",\"id\":\"A\",\"queue\":\"q\",\"name\":\"echo\",\"at\":\"2030-01-02T15:04:05.123Z\"}\r\n\r\n" +
		": ping\n\n" +
		"event: started\ndata: {\"id\":\"A\",\n" + "data: \"name\":\"echo\"}\n\n" +
		"event: nodata\n\n" +
		"event: succeeded\rdata:{\"kind\":\"succeeded\",\"id\":\"A\"}\r\r" +
		"event: resync\ndata: {\"kind\":\"resync\"}\n\n" +
		"event: failed\ndata: {\"kind\":\"failed\",\"id\":\"B\"}\n" // no blank line: dropped
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/api/v1/events", r.URL.Path)
		require.Equal(t, "Bearer tok", r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = fmt.Fprint(w, body)
	}))
	t.Cleanup(ts.Close)
	cl := &apiclient.Client{BaseURL: ts.URL, Token: "tok"}
	var got []wire.Event
	err := cl.Events(context.Background(), func(ev wire.Event) error {
		got = append(got, ev)
		return nil
	})
	require.ErrorIs(t, err, apiclient.ErrStreamEnded)
	require.Len(t, got, 4)
	require.Equal(t, wire.Event{Kind: "queued", ID: "A", Queue: "q", Name: "echo", At: time.Date(2030, 1, 2, 15, 4, 5, 123e6, time.UTC)}, got[0])
	require.Equal(t, wire.Event{Kind: "started", ID: "A", Name: "echo"}, got[1])
	require.Equal(t, wire.Event{Kind: "succeeded", ID: "A"}, got[2])
	require.Equal(t, wire.EventResync, got[3].Kind)
}

func TestClientEventsNotAStream(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ctype, body, want string
	}{
		{"application/json", `{}`, "not an event stream"},
		{"text/event-stream", "data: hello\n\n", "not a dueq event"},
	} {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", tc.ctype)
			_, _ = fmt.Fprint(w, tc.body)
		}))
		t.Cleanup(ts.Close)
		err := (&apiclient.Client{BaseURL: ts.URL}).Events(context.Background(), func(wire.Event) error { return nil })
		require.ErrorContains(t, err, tc.want)
		require.ErrorContains(t, err, "--server")
		require.NotErrorIs(t, err, apiclient.ErrStreamEnded, "reconnecting would not help")
	}
}
