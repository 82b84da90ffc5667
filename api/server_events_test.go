package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/api"
	"github.com/dueq/dueq/wire"
)

// The event stream is server-sent events; a browser's EventSource sends the
// token as ?access_token=, which only this endpoint accepts.
func TestEventStreamOverHTTP(t *testing.T) {
	t.Parallel()
	e := setup(t, api.Config{Token: "s3cret"})
	e.runScheduler(t)
	status, _ := e.call(t, "GET", "/api/v1/events", "")
	require.Equal(t, http.StatusUnauthorized, status)
	status, _ = e.call(t, "GET", "/api/v1/stats?access_token=s3cret", "")
	require.Equal(t, http.StatusUnauthorized, status, "the query token is for the event stream only")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/api/v1/events?access_token=s3cret", nil)
	require.NoError(t, err)
	resp, err := e.ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))

	events := make(chan [2]string, 100) // kind, data
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		var kind string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				kind = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				events <- [2]string{kind, strings.TrimPrefix(line, "data: ")}
			}
		}
	}()
	// Submit until the stream, subscribed by then, shows a task's events.
	var id string
	seen := map[string]bool{}
	require.Eventually(t, func() bool {
		if id == "" || !seen[wire.EventQueued] {
			tk, err := e.cl.Submit(ctx, wire.SubmitRequest{Name: "echo"})
			require.NoError(t, err)
			id, seen = tk.ID, map[string]bool{}
		}
		for {
			select {
			case ev, ok := <-events:
				require.True(t, ok, "the stream ended")
				var got wire.Event
				require.NoError(t, json.Unmarshal([]byte(ev[1]), &got))
				require.Equal(t, ev[0], got.Kind, "the SSE event name is the kind")
				if got.ID == id {
					require.Equal(t, "echo", got.Name)
					seen[got.Kind] = true
				}
			case <-time.After(50 * time.Millisecond):
				return seen[wire.EventQueued] && seen[wire.EventStarted] && seen[wire.EventSucceeded]
			}
		}
	}, 15*time.Second, time.Millisecond)
}

// The dashboard's files are served without the token: they hold no data.
func TestDashboardIsServedWithoutTheToken(t *testing.T) {
	t.Parallel()
	e := setup(t, api.Config{Token: "s3cret"})
	get := func(method, path string) (int, string, string) {
		req, err := http.NewRequest(method, e.ts.URL+path, nil)
		require.NoError(t, err)
		resp, err := e.ts.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	status, ctype, body := get("GET", "/")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, ctype, "text/html")
	require.Contains(t, body, "<title>dueq")
	status, ctype, _ = get("GET", "/ui/app.js")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, ctype, "javascript")
	status, _, _ = get("POST", "/")
	require.Equal(t, http.StatusUnauthorized, status, "only reading the files is open")
	status, _, _ = get("GET", "/ui/nosuch.js")
	require.Equal(t, http.StatusNotFound, status)
	status, _, _ = get("GET", "/api/v1/stats")
	require.Equal(t, http.StatusUnauthorized, status, "the API still wants the token")
}
