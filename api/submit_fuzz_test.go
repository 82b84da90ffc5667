package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/api"
	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
)

// Parents that FuzzSubmitBody's seeds may name in "after": one finished,
// one still running.
const (
	fuzzParentDone    = "01FUZZPARENTDONE0000000000"
	fuzzParentRunning = "01FUZZPARENTRUNNING0000000"
)

// fuzzServer is one API server on one miniredis, shared by every input of
// a fuzz run so that an input costs two HTTP requests and no set-up.
type fuzzServer struct {
	mr   *miniredis.Miniredis
	rdb  *redis.Client
	url  string
	http *http.Client
}

func newFuzzServer(f *testing.F) *fuzzServer {
	f.Helper()
	s := &fuzzServer{mr: miniredis.RunT(f)}
	s.rdb = redis.NewClient(&redis.Options{Addr: s.mr.Addr()})
	f.Cleanup(func() { _ = s.rdb.Close() })
	reg := tasks.NewRegistry()
	reg.Register("echo", func(_ context.Context, c *tasks.Call) (any, error) {
		return map[string]any{"args": c.Task.Args}, nil
	})
	sc, err := client.New(s.rdb, client.Config{})
	require.NoError(f, err)
	f.Cleanup(func() { _ = sc.Close() })
	srv, err := api.New(sc, reg, nil, api.Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(f, err)
	ts := httptest.NewServer(srv.Handler())
	f.Cleanup(ts.Close)
	s.url, s.http = ts.URL, ts.Client()
	s.reset(f)
	return s
}

// reset empties Redis but for the two parents.
func (s *fuzzServer) reset(t testing.TB) {
	t.Helper()
	s.mr.FlushAll()
	keys, err := store.NewKeys(scheduler.Config{}.WithDefaults().Namespace)
	require.NoError(t, err)
	now := time.Now().UTC().Truncate(time.Millisecond)
	for id, st := range map[string]tasks.State{fuzzParentDone: tasks.Succeeded, fuzzParentRunning: tasks.Running} {
		rec := &tasks.Task{ID: id, Name: "echo", Args: json.RawMessage(`{}`), Queue: tasks.DefaultQueue,
			State: st, CreatedAt: now, DueAt: now, MaxAttempts: 1, OnParentFailure: tasks.PolicyFail}
		if st.Finished() {
			rec.Result, rec.FinishedAt = json.RawMessage(`{"ok":true}`), now
		}
		require.NoError(t, s.rdb.HSet(context.Background(), keys.Task(id), transport.EncodeRecord(rec)...).Err())
	}
}

// post sends body to path and returns the status and the answer.
func (s *fuzzServer) post(t *testing.T, path string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"), "POST %s %q: answer %s", path, body, b)
	return resp.StatusCode, b
}

// readBack checks that what a submit to path accepted (answer obj) reads
// back: each task's GET answers 200 with UTF-8 JSON, and the listing of
// its state holds it. A schedule (no task id in the answer) is skipped.
func (s *fuzzServer) readBack(t *testing.T, path string, body []byte, obj map[string]json.RawMessage) {
	t.Helper()
	var ids []string
	if path == "/api/v1/tasks" {
		var id string
		if json.Unmarshal(obj["id"], &id) != nil || strings.HasPrefix(id, "S") {
			return // a schedule's answer
		}
		ids = append(ids, id)
	} else {
		for _, raw := range obj {
			var id string
			if json.Unmarshal(raw, &id) == nil {
				ids = append(ids, id)
			}
		}
	}
	for _, id := range ids {
		status, b := s.get(t, "/api/v1/tasks/"+id)
		require.Equal(t, http.StatusOK, status, "POST %s %q accepted %s, whose GET answers %s", path, body, id, b)
		require.True(t, utf8.Valid(b), "POST %s %q: GET %s is not UTF-8", path, body, id)
		var tk tasks.Task
		require.NoError(t, json.Unmarshal(b, &tk), "POST %s %q: GET %s: %s", path, body, id, b)
		status, b = s.get(t, "/api/v1/tasks?limit=1000&state="+string(tk.State))
		require.Equal(t, http.StatusOK, status, "POST %s %q accepted %s, then listing %s answers %s", path, body, id, tk.State, b)
		require.True(t, utf8.Valid(b))
		require.Contains(t, string(b), `"id":"`+id+`"`, "POST %s %q: %s is not listed among the %s tasks", path, body, id, tk.State)
	}
}

// get sends GET path and returns the status and the answer.
func (s *fuzzServer) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	resp, err := s.http.Get(s.url + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// FuzzSubmitBody posts arbitrary bodies to both submit endpoints. Every
// answer is a JSON object: 201 (or 200 for a known idempotency key) with
// the record, or a 4xx whose "error" says what to fix; never a 5xx, never
// a panic. A refused body leaves Redis exactly as it was; what is accepted
// reads back and is listed.
func FuzzSubmitBody(f *testing.F) {
	s := newFuzzServer(f)
	for _, seed := range []string{
		`{"name":"echo","args":` + strings.Repeat("[", 1001) + strings.Repeat("]", 1001) + `}`,
		`{"name":"echo","args":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}`,
		"{\"name\":\"echo\",\"args\":\"\xff\"}",
		`{"name":"echo","at":"9999-12-31T23:59:59-23:59"}`,
		`{"name":"echo","in":"2562047h"}`,
		`{"name":"echo","cron":"@every 1ms"}`,
		`{"nodes":[{"name":"a","task":"echo","at":"9999-12-31T23:59:59.999Z"},{"name":"b","task":"echo","after":["a"]}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(s.mr.Keys()) > 100 {
			s.reset(t) // keep Keys and Dump cheap
		}
		for _, path := range []string{"/api/v1/tasks", "/api/v1/workflows"} {
			before := s.mr.Dump()
			status, answer := s.post(t, path, body)
			var obj map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(answer, &obj), "POST %s %q: status %d, answer %s is not a JSON object", path, body, status, answer)
			switch {
			case status == http.StatusCreated, status == http.StatusOK && path == "/api/v1/tasks":
				require.NotEmpty(t, obj, "POST %s %q: answer %s", path, body, answer)
				s.readBack(t, path, body, obj)
			case status >= 400 && status < 500:
				var e struct {
					Error string `json:"error"`
				}
				require.NoError(t, json.Unmarshal(answer, &e))
				require.NotEmpty(t, e.Error, "POST %s %q: answer %s", path, body, answer)
				require.Len(t, obj, 1, "POST %s %q: an error answer holds only \"error\": %s", path, body, answer)
				require.Equal(t, before, s.mr.Dump(), "POST %s %q was refused (%d %s) but Redis changed", path, body, status, answer)
			default:
				t.Fatalf("POST %s %q: status %d, answer %s", path, body, status, answer)
			}
		}
	})
}
