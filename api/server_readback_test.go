package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
)

// Cron specs that the cron parser rejects are rejected also when they end
// in "@every D": an unknown time zone, and a spec over the 200-character
// limit.
func TestCronEverySpecsAreCheckedWhole(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, cron := range []string{
		"CRON_TZ=Mars/Olympus 0 9 * * *", // the parser's reason: unknown time zone
		"CRON_TZ=Mars/Olympus @every 1s",
		"CRON_TZ=" + strings.Repeat("x", 100000) + " @every 1s",
	} {
		status, b := e.call(t, "POST", "/api/v1/tasks", `{"name":"echo","cron":"`+cron+`"}`)
		if status != http.StatusBadRequest {
			t.Errorf("cron %.50q: status %d, want 400: %.200s", cron, status, b)
		}
	}
}

// An at in the last millisecond of 9999, with finer digits, is cut to the
// ms as every record time is, and reads back as that ms.
func TestAtLateIn9999(t *testing.T) {
	t.Parallel()
	e := setup(t)
	status, b := e.call(t, "POST", "/api/v1/tasks", `{"name":"echo","at":"9999-12-31T23:59:59.9995Z"}`)
	if status != http.StatusCreated {
		t.Fatalf("status %d: %s", status, b)
	}
	_, g := e.call(t, "GET", "/api/v1/tasks/"+task(t, b).ID, "")
	if due := task(t, g).DueAt; !due.Equal(tasks.MaxTime) {
		t.Errorf("due reads back as %s", due)
	}
}

// A damaged schedule record (args not UTF-8, a next time past 9999) is
// skipped as corrupt, as damaged task records are (transport.DecodeRecord
// got these checks); it must not make GET /api/v1/schedules answer
// something that is not UTF-8 or that the Client cannot read.
func TestDamagedScheduleRecords(t *testing.T) {
	t.Parallel()
	e := setup(t)
	status, b := e.call(t, "POST", "/api/v1/tasks", `{"name":"echo","every":"1h"}`)
	if status != http.StatusCreated {
		t.Fatalf("%d %s", status, b)
	}
	var sc struct{ ID string }
	if err := json.Unmarshal(b, &sc); err != nil {
		t.Fatal(err)
	}
	keys, _ := store.NewKeys(scheduler.Config{}.WithDefaults().Namespace)
	ctx := context.Background()
	for field, value := range map[string]string{"args": "[\"\xff\"]", "next": "253402300800000"} {
		e.mr.FlushAll()
		status, b = e.call(t, "POST", "/api/v1/tasks", `{"name":"echo","every":"1h"}`)
		if err := json.Unmarshal(b, &sc); err != nil {
			t.Fatal(err)
		}
		if err := e.rdb.HSet(ctx, keys.Schedule(sc.ID), field, value).Err(); err != nil {
			t.Fatal(err)
		}
		status, b = e.call(t, "GET", "/api/v1/schedules", "")
		if !utf8.Valid(b) {
			t.Errorf("schedule %s %q: GET /api/v1/schedules answers %d, not UTF-8: %q", field, value, status, b)
		}
		if _, err := e.cl.Schedules(ctx); err != nil {
			t.Errorf("schedule %s %q: the Client cannot read the list: %v", field, value, err)
		}
	}
}

// Invalid UTF-8 reaching a workflow's args by other paths.
func TestWorkflowArgsNotUTF8(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, doc := range []string{
		"{\"nodes\":[{\"name\":\"a\",\"task\":\"echo\",\"args\":\"\xff\"}]}",
		"nodes:\n- name: a\n  task: echo\n  args: \"\xff\"\n",
		"nodes:\n- name: a\n  task: echo\n  args: !!binary /w==\n",
		"nodes:\n- name: a\n  task: echo\n  args: {k: !!binary /w==}\n",
	} {
		status, b := e.call(t, "POST", "/api/v1/workflows", doc)
		if status == http.StatusCreated {
			t.Errorf("%q: accepted (%s), though its args are not UTF-8", doc, b)
			var ids map[string]string
			_ = json.Unmarshal(b, &ids)
			_, g := e.call(t, "GET", "/api/v1/tasks/"+ids["a"], "")
			var r struct{ Args json.RawMessage }
			_ = json.Unmarshal(g, &r)
			t.Logf("  stored args %s", r.Args)
		}
	}
}

// Durations finer than a millisecond would not read back as answered
// (records hold ms): they are refused, and whole ms read back as given.
func TestSubMillisecondDurationsAreRefused(t *testing.T) {
	t.Parallel()
	e := setup(t)
	before := keys(e)
	for _, body := range []string{`{"name":"echo","in":"1h","timeout":"500us"}`, `{"name":"echo","in":"1h","timeout":"1.5ms"}`, `{"name":"echo","every":"100.9ms"}`, `{"name":"echo","cron":"@every 1.0005s"}`} {
		status, b := e.call(t, "POST", "/api/v1/tasks", body)
		if status != http.StatusBadRequest || !strings.Contains(errorMessage(t, b), "whole milliseconds") {
			t.Errorf("%s: %d %s", body, status, b)
		}
	}
	if !slices.Equal(before, keys(e)) {
		t.Error("a refused submit wrote keys")
	}
	status, b := e.call(t, "POST", "/api/v1/tasks", `{"name":"echo","in":"1h","timeout":"1500ms"}`)
	if status != http.StatusCreated {
		t.Fatalf("%d %s", status, b)
	}
	_, g := e.call(t, "GET", "/api/v1/tasks/"+task(t, b).ID, "")
	if got := task(t, g).Timeout; got != 1500*time.Millisecond {
		t.Errorf("timeout reads back as %s", got)
	}
}
