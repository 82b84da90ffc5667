package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

// nested returns a JSON value nesting depth arrays: [[...[1]...]].
func nested(depth int) string {
	return strings.Repeat("[", depth) + "1" + strings.Repeat("]", depth)
}

// requireListed checks that GET /api/v1/tasks?state=STATE answers 200 with
// valid JSON holding id.
func requireListed(t *testing.T, e *env, state tasks.State, id string) {
	t.Helper()
	status, b := e.call(t, "GET", "/api/v1/tasks?state="+string(state), "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	require.True(t, utf8.Valid(b), "the listing is not UTF-8")
	var list struct {
		Tasks []tasks.Task `json:"tasks"`
	}
	require.NoError(t, json.Unmarshal(b, &list), "%s", b)
	for _, tk := range list.Tasks {
		if tk.ID == id {
			return
		}
	}
	require.Failf(t, "not listed", "task %s is not in the %s listing: %.300s", id, state, b)
}

// Args nested deeper than the limit are refused at submit; at the limit
// they are accepted, and then the echo's result (one level deeper) fails
// its own task with the reason, is never stored, and the task stays
// readable and listed.
func TestArgsTooDeepAreRefusedAndADeepResultFailsItsTask(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.runScheduler(t)
	before := keys(e)
	status, b := e.call(t, "POST", "/api/v1/tasks", `{"name":"echo","args":`+nested(tasks.MaxJSONDepth+1)+`}`)
	require.Equal(t, http.StatusBadRequest, status, "%s", b)
	require.Contains(t, errorMessage(t, b), "nested 1001 levels deep, more than the 1000")
	require.Equal(t, before, keys(e), "a refused submit writes nothing")

	status, b = e.call(t, "POST", "/api/v1/tasks", `{"name":"echo","args":`+nested(tasks.MaxJSONDepth)+`}`)
	require.Equal(t, http.StatusCreated, status, "%s", b)
	id := task(t, b).ID
	status, b = e.call(t, "GET", "/api/v1/tasks/"+id+"/wait?timeout=20s", "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	tk := task(t, b)
	require.Equal(t, tasks.Failed, tk.State, "%s", b)
	require.Contains(t, tk.Error, "handler result cannot be stored: result: JSON nested 1001 levels deep")
	require.Empty(t, tk.Result, "the result that could not be stored is not stored")
	requireListed(t, e, tasks.Failed, id)
}

// Times a record cannot hold are refused at submit, and nothing is
// written; the last millisecond of 9999 is accepted and reads back.
func TestTimesOutsideTheYears1970To9999AreRefused(t *testing.T) {
	t.Parallel()
	e := setup(t)
	before := keys(e)
	for at, want := range map[string]string{
		"9999-12-31T23:59:59-23:59": "outside the years 1970 to 9999", // 10000-01-01 in UTC
		"1969-12-31T23:59:59Z":      "outside the years 1970 to 9999",
		"0001-01-01T00:00:00Z":      "outside the years 1970 to 9999",
		"10000-01-01T00:00:00Z":     "not an RFC 3339 time",
	} {
		status, b := e.call(t, "POST", "/api/v1/tasks", `{"name":"echo","at":"`+at+`"}`)
		require.Equal(t, http.StatusBadRequest, status, "at %s: %s", at, b)
		require.Contains(t, errorMessage(t, b), want, "at %s", at)
	}
	require.Equal(t, before, keys(e), "a refused submit writes nothing")

	for _, body := range []string{`{"name":"echo","at":"9999-12-31T23:59:59.999Z"}`, `{"name":"echo","in":"2562047h"}`} {
		status, b := e.call(t, "POST", "/api/v1/tasks", body)
		require.Equal(t, http.StatusCreated, status, "%s: %s", body, b)
		id := task(t, b).ID
		status, b = e.call(t, "GET", "/api/v1/tasks/"+id, "")
		require.Equal(t, http.StatusOK, status, "%s: %s", body, b)
		requireListed(t, e, tasks.Scheduled, id)
		status, b = e.call(t, "DELETE", "/api/v1/tasks/"+id, "")
		require.Equal(t, http.StatusOK, status, "%s: cancel: %s", body, b)
		require.Equal(t, tasks.Canceled, task(t, b).State)
	}
}

// Invalid UTF-8 in args or a key is refused: an answer echoing it would
// not be valid JSON text.
func TestInvalidUTF8IsRefused(t *testing.T) {
	t.Parallel()
	e := setup(t)
	before := keys(e)
	for _, body := range []string{
		"{\"name\":\"echo\",\"args\":{\"s\":\"\xff\xfe\"}}",
		"{\"name\":\"echo\",\"args\":[\"ok\",\"\xc3\"]}",
		"{\"name\":\"echo\",\"key\":\"k\xff\"}",
	} {
		status, b := e.call(t, "POST", "/api/v1/tasks", body)
		require.Equal(t, http.StatusBadRequest, status, "%q: %s", body, b)
		require.Contains(t, errorMessage(t, b), "UTF-8", "%q", body)
	}
	require.Equal(t, before, keys(e))
}

// A path under the dashboard that names no file answers a JSON 404, as
// every other unknown path does.
func TestUnknownDashboardFilesAnswerJSON404(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, path := range []string{"/ui/nope.js", "/ui/", "/ui/x/y", "/ui/%2e%2e/index.html"} {
		status, b := e.call(t, "GET", path, "")
		require.Equal(t, http.StatusNotFound, status, "%s: %s", path, b)
		require.Contains(t, errorMessage(t, b), "no endpoint", path)
	}
	req, err := http.NewRequest("GET", e.ts.URL+"/ui/app.js", nil)
	require.NoError(t, err)
	resp, err := e.ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the dashboard's own files are served")
}
