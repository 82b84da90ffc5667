package apiclient_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/apiclient"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

func TestClientUnreachable(t *testing.T) {
	t.Parallel()
	// Port 1: no test listens there (they take free ephemeral ports), so
	// nothing answers; a port freed by this test could be taken meanwhile
	// by another package's server running beside it.
	addr := "127.0.0.1:1"
	cl := &apiclient.Client{BaseURL: "http://" + addr + "/"}
	_, err := cl.Get(context.Background(), "x")
	require.ErrorIs(t, err, apiclient.ErrUnreachable)
	require.ErrorContains(t, err, "http://"+addr)
	require.ErrorContains(t, err, "dueq serve")
	require.ErrorContains(t, err, "--server")
	require.False(t, errors.Is(err, wire.ErrNotFound))
}

func TestClientNotDueq(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	t.Cleanup(ts.Close)
	cl := &apiclient.Client{BaseURL: ts.URL}
	err := cl.Health(context.Background())
	var apiErr *apiclient.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusBadGateway, apiErr.Status)
	require.Contains(t, apiErr.Message, "is --server a dueq daemon?")
	require.Contains(t, apiErr.Message, "bad gateway")
}

// An error answer matches the sentinel the engine would return for the
// same problem, and nothing else.
func TestErrorMatchesTheEnginesSentinels(t *testing.T) {
	t.Parallel()
	sentinels := []error{tasks.ErrInvalid, wire.ErrNotFound, wire.ErrFinished, wire.ErrNotRetryable}
	for status, want := range map[int][]error{
		http.StatusBadRequest:          {tasks.ErrInvalid},
		http.StatusNotFound:            {wire.ErrNotFound},
		http.StatusConflict:            {wire.ErrFinished, wire.ErrNotRetryable},
		http.StatusUnauthorized:        nil,
		http.StatusServiceUnavailable:  nil,
		http.StatusInternalServerError: nil,
	} {
		err := error(&apiclient.Error{Status: status, Message: "m"})
		for _, s := range sentinels {
			require.Equal(t, slices.Contains(want, s), errors.Is(err, s), "status %d, %v", status, s)
		}
	}
}

// A workflow's id comes from its header, each warning of an accepted
// request goes to Warn, and the error text of a refusal is the body's.
func TestClientReadsHeadersAndErrorBodies(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/workflows":
			require.Equal(t, "application/yaml", r.Header.Get("Content-Type"))
			w.Header().Add(wire.WarningHeader, "node a: careful")
			w.Header().Add(wire.WarningHeader, "node b: careful too")
			w.Header().Set(wire.WorkflowHeader, "W01")
			w.WriteHeader(http.StatusCreated)
			_, _ = fmt.Fprint(w, `{"a":"T1","b":"T2"}`)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = fmt.Fprint(w, `{"error":"task x: task not found: check the id"}`)
		}
	}))
	t.Cleanup(ts.Close)
	var warned []string
	cl := &apiclient.Client{BaseURL: ts.URL, Warn: func(w string) { warned = append(warned, w) }}
	id, ids, err := cl.SubmitWorkflow(context.Background(), []byte("nodes: []"))
	require.NoError(t, err)
	require.Equal(t, "W01", id)
	require.Equal(t, map[string]string{"a": "T1", "b": "T2"}, ids)
	require.Equal(t, []string{"node a: careful", "node b: careful too"}, warned)

	_, err = cl.Get(context.Background(), "x")
	require.ErrorIs(t, err, wire.ErrNotFound)
	require.EqualError(t, err, "task x: task not found: check the id (HTTP 404 Not Found)")
}

// A recurring request is refused by Submit, a one-off one by
// SubmitSchedule, before anything is sent.
func TestSubmitsGoToTheirOwnMethod(t *testing.T) {
	t.Parallel()
	cl := &apiclient.Client{BaseURL: "http://127.0.0.1:1"} // nothing is sent
	_, err := cl.Submit(context.Background(), wire.SubmitRequest{Name: "echo", Every: "8s"})
	require.ErrorIs(t, err, tasks.ErrInvalid)
	require.ErrorContains(t, err, "SubmitSchedule")
	_, err = cl.SubmitSchedule(context.Background(), wire.SubmitRequest{Name: "echo"})
	require.ErrorIs(t, err, tasks.ErrInvalid)
	require.ErrorContains(t, err, "with Submit")
}

// The HTTP client must not link the engine or a Redis client (CONVENTIONS:
// layering): a program that only talks to a daemon stays small, and the
// engine can change without touching it.
func TestLinksNeitherTheEngineNorRedis(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/dueq/dueq/apiclient").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	banned := []string{"github.com/redis/go-redis", "github.com/dueq/dueq/scheduler", "github.com/dueq/dueq/client", "github.com/alicebob/miniredis", "github.com/dueq/dueq/api"}
	for _, dep := range strings.Fields(string(out)) {
		for _, b := range banned {
			if dep == b || strings.HasPrefix(dep, b+"/") {
				t.Errorf("package apiclient links %s: keep what needs it out of apiclient (wire types belong in package wire)", dep)
			}
		}
	}
}
