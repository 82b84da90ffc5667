package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/dashboard"
	"github.com/dueq/dueq/deps"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// routes registers the endpoints of the HTTP API.
func (s *Server) routes() {
	s.mux.HandleFunc("POST /api/v1/tasks", s.submit)
	s.mux.HandleFunc("GET /api/v1/tasks", s.list)
	s.mux.HandleFunc("GET /api/v1/tasks/{id}", s.get)
	s.mux.HandleFunc("GET /api/v1/tasks/{id}/wait", s.wait)
	s.mux.HandleFunc("DELETE /api/v1/tasks/{id}", s.cancel)
	s.mux.HandleFunc("POST /api/v1/workflows", s.submitWorkflow)
	s.mux.HandleFunc("GET /api/v1/workflows/{id}", s.getWorkflow)
	s.mux.HandleFunc("GET /api/v1/schedules", s.schedules)
	s.mux.HandleFunc("GET /api/v1/schedules/{id}", s.getSchedule)
	s.mux.HandleFunc("DELETE /api/v1/schedules/{id}", s.cancelSchedule)
	s.mux.HandleFunc("POST /api/v1/schedules/{id}/pause", s.pauseSchedule)
	s.mux.HandleFunc("POST /api/v1/schedules/{id}/resume", s.resumeSchedule)
	s.mux.HandleFunc("GET /api/v1/stats", s.stats)
	s.mux.HandleFunc("GET /api/v1/queues", s.queues)
	s.mux.HandleFunc("POST /api/v1/queues/{queue}/pause", s.pauseQueue)
	s.mux.HandleFunc("POST /api/v1/queues/{queue}/resume", s.resumeQueue)
	s.mux.HandleFunc("POST /api/v1/tasks/{id}/retry", s.retry)
	s.mux.HandleFunc("GET /api/v1/events", s.events)
	s.mux.HandleFunc("GET /healthz", s.healthz)
	if s.cfg.Metrics != nil {
		s.mux.Handle("GET /metrics", s.cfg.Metrics)
	}
	ui := dashboard.Handler(http.HandlerFunc(notFound))
	s.mux.Handle("GET /{$}", ui)
	s.mux.Handle("GET /ui/", ui)
}

// retry serves POST /api/v1/tasks/{id}/retry: 200 and the record of a
// failed or canceled task queued to run again now; 409 for any other state.
func (s *Server) retry(w http.ResponseWriter, r *http.Request) {
	t, err := s.c.Retry(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, taskAnswer{t: t})
}

// fail answers with the status and message statusOf gives err, and logs
// server-side failures.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := statusOf(err)
	if status >= 500 {
		s.log.Warn("HTTP API request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	writeError(w, status, msg)
}

// submit serves POST /api/v1/tasks: 201 and the new record, or 200 and the
// first record when the idempotency key was used before. With every or cron
// it creates a schedule instead: 201 and the schedule's record. Nothing is
// written for a rejected request. The handler rule (checkHandler) refuses a
// handler no live daemon has, and adds "warning" to the answer when no live
// daemon will run the task as things stand.
func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	var req wire.SubmitRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Recurring() {
		s.submitSchedule(w, r, req)
		return
	}
	spec, err := req.Spec()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	warning, err := s.checkHandler(r.Context(), spec.Queue, spec.Name, "the task")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t, created, err := s.c.SubmitCreated(r.Context(), spec)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK // an earlier submit with the same key made it
	}
	addWarnings(w, warning)
	writeJSON(w, status, taskAnswer{t: t, warning: warning})
}

// submitWorkflow serves POST /api/v1/workflows: the body is a workflow
// document, JSON or YAML whatever the Content-Type says; 201 and
// {"NAME": "ID", ...}. The document is validated whole, every node passes
// the handler rule (checkHandler; a refusal names the node, and warnings,
// "node NAME: ...", go in wire.WarningHeader lines), and the whole graph is
// written in one atomic step: a rejected workflow writes nothing.
func (s *Server) submitWorkflow(w http.ResponseWriter, r *http.Request) {
	doc, err := readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	wf, err := deps.Parse(doc)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var warnings []string
	for _, n := range wf.Nodes {
		warning, err := s.checkHandler(r.Context(), n.Spec.Queue, n.Spec.Name, "the task")
		if err != nil {
			s.fail(w, r, fmt.Errorf("node %s: %w", n.Name, err))
			return
		}
		if warning != "" {
			warnings = append(warnings, "node "+n.Name+": "+warning)
		}
	}
	sw, err := s.c.SubmitWorkflow(r.Context(), wf)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	addWarnings(w, warnings...)
	w.Header().Set(wire.WorkflowHeader, sw.ID)
	w.Header().Set("Location", "/api/v1/workflows/"+sw.ID)
	writeJSON(w, http.StatusCreated, sw.Tasks)
}

// getWorkflow serves GET /api/v1/workflows/{id}: the workflow's id, the
// count of its nodes by state, and each node ({"node", "id", "task"}, task
// null once its record expired), parents first.
func (s *Server) getWorkflow(w http.ResponseWriter, r *http.Request) {
	nodes, err := s.c.GetWorkflow(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newWorkflowAnswer(r.PathValue("id"), nodes))
}

// get serves GET /api/v1/tasks/{id}; for a schedule id, the schedule's
// record.
func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	if client.IsScheduleID(r.PathValue("id")) {
		s.getSchedule(w, r)
		return
	}
	t, err := s.c.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, taskAnswer{t: t})
}

// wait serves GET /api/v1/tasks/{id}/wait?timeout=30s: it answers when the
// task finishes, or with the current record when the timeout passes or the
// server stops. The caller tells which by the record's state.
func (s *Server) wait(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if client.IsScheduleID(id) {
		s.fail(w, r, badRequest("%s is a schedule, which never finishes: wait for one of its occurrences, whose records name it in \"schedule\" (GET /api/v1/tasks?name=TASK lists them)", id))
		return
	}
	d := wire.DefaultWait
	if v := r.URL.Query().Get("timeout"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			s.fail(w, r, badRequest("timeout %.60q is not a duration: write it like 30s or 5m", v))
			return
		}
		if d < 0 || d > wire.MaxWait {
			s.fail(w, r, badRequest("timeout %s is out of range: use 0 to %s (poll again to wait longer)", v, wire.MaxWait))
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	defer cancel()
	defer context.AfterFunc(s.quit, cancel)()
	t, err := s.c.Wait(ctx, id)
	if err != nil && ctx.Err() != nil && r.Context().Err() == nil {
		// The timeout passed or the server is stopping: the current record.
		t, err = s.c.Get(r.Context(), id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, taskAnswer{t: t})
}

// cancel serves DELETE /api/v1/tasks/{id}: 200 and the canceled record, or
// 409 when the task had already finished. For a schedule id it cancels the
// schedule (see cancelSchedule).
func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	if client.IsScheduleID(r.PathValue("id")) {
		s.cancelSchedule(w, r)
		return
	}
	t, err := s.c.Cancel(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, taskAnswer{t: t})
}

// listAnswer is the body of GET /api/v1/tasks.
type listAnswer struct {
	Tasks []taskAnswer `json:"tasks"`
}

// listParams are the query parameters of GET /api/v1/tasks.
var listParams = []string{"state", "name", "queue", "limit"}

// list serves GET /api/v1/tasks?state=&name=&queue=&limit=. Any other
// parameter, or one given twice, is a 400: a misspelt filter must not
// list everything.
func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for _, k := range slices.Sorted(maps.Keys(q)) {
		switch {
		case !slices.Contains(listParams, k):
			s.fail(w, r, badRequest("unknown query parameter %.30q: GET /api/v1/tasks takes %s", k, strings.Join(listParams, ", ")))
			return
		case len(q[k]) > 1:
			s.fail(w, r, badRequest("query parameter %s is given %d times: give it once", k, len(q[k])))
			return
		}
	}
	var opts wire.ListOptions
	if v := q.Get("state"); v != "" {
		st, err := tasks.ParseState(v)
		if err != nil {
			s.fail(w, r, badRequest("state: %v", err))
			return
		}
		opts.State = st
	}
	opts.Name = q.Get("name")
	if v := q.Get("queue"); v != "" {
		if !tasks.ValidQueue(v) {
			s.fail(w, r, badRequest("queue %.70q: a queue name is 1-64 letters, digits or _.-", v))
			return
		}
		opts.Queue = v
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > wire.MaxListLimit {
			s.fail(w, r, badRequest("limit %.30q: use a whole number from 1 to %d", v, wire.MaxListLimit))
			return
		}
		opts.Limit = n
	}
	ts, err := s.c.List(r.Context(), opts)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := listAnswer{Tasks: make([]taskAnswer, len(ts))}
	for i, t := range ts {
		out.Tasks[i] = taskAnswer{t: t}
	}
	writeJSON(w, http.StatusOK, out)
}

// stats serves GET /api/v1/stats.
func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	st, err := s.c.Stats(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// queues serves GET /api/v1/queues: 200 and every queue that has had
// tasks or is paused, by name, with its counts and paused state.
func (s *Server) queues(w http.ResponseWriter, r *http.Request) {
	qs, err := s.c.Queues(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, qs)
}

// pauseQueue serves POST /api/v1/queues/{queue}/pause: from its answer on,
// no daemon claims the queue's tasks. 200 and the queue.
func (s *Server) pauseQueue(w http.ResponseWriter, r *http.Request) {
	s.setPaused(w, r, s.c.PauseQueue)
}

// resumeQueue serves POST /api/v1/queues/{queue}/resume: the daemons claim
// the queue's tasks again. 200 and the queue.
func (s *Server) resumeQueue(w http.ResponseWriter, r *http.Request) {
	s.setPaused(w, r, s.c.ResumeQueue)
}

// setPaused runs pause or resume on the request's queue and answers the
// queue as it is now.
func (s *Server) setPaused(w http.ResponseWriter, r *http.Request, set func(context.Context, string) error) {
	q := r.PathValue("queue")
	if err := set(r.Context(), q); err != nil {
		s.fail(w, r, err)
		return
	}
	qs, err := s.c.Queues(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, e := range qs {
		if e.Name == q {
			writeJSON(w, http.StatusOK, e)
			return
		}
	}
	writeJSON(w, http.StatusOK, wire.Queue{Name: q}) // resumed before its first task
}

// healthAnswer is the body of a healthy GET /healthz.
type healthAnswer struct {
	Status string `json:"status"`
}

// healthz serves GET /healthz: 200 {"status":"ok"}, or 503 and the reason.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if err := s.health(r.Context()); err != nil {
		s.log.Warn("health check failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "unhealthy: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, healthAnswer{Status: "ok"})
}

// readBody reads r's body, at most wire.MaxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > wire.MaxBodyBytes {
		return nil, &http.MaxBytesError{Limit: wire.MaxBodyBytes}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, wire.MaxBodyBytes))
	switch {
	case errors.As(err, new(*http.MaxBytesError)):
		return nil, err
	case err != nil:
		return nil, badRequest("request body cannot be read: %v", err)
	}
	return b, nil
}

// decodeBody reads r's body, at most wire.MaxBodyBytes, as exactly one JSON
// object into v, refusing fields v does not have.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	if r.ContentLength > wire.MaxBodyBytes {
		return &http.MaxBytesError{Limit: wire.MaxBodyBytes}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, wire.MaxBodyBytes))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			return err
		}
		return badRequest("reading the request body: %v", err)
	}
	// JSON decoding would turn invalid UTF-8 into other characters: what
	// was stored would not be what was sent.
	if !utf8.Valid(body) {
		return badRequest("request body holds invalid UTF-8 at byte %d: send JSON text in UTF-8", tasks.InvalidUTF8At(body))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, v)
	}
	switch _, err := dec.Token(); {
	case err == io.EOF:
		return nil
	case errors.As(err, new(*http.MaxBytesError)):
		return err
	}
	return badRequest("request body holds more than one JSON value: send a single JSON object")
}

// example is a request body to show in error messages.
const example = `{"name": "echo", "args": {"hello": "world"}}`

// decodeError turns a json.Decoder error into one that says what to fix.
func decodeError(err error, v any) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, new(*http.MaxBytesError)):
		return err
	case errors.Is(err, io.EOF):
		return badRequest("request body is empty: send a JSON object such as %s", example)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("request body ends in the middle of a JSON value: send a complete JSON object such as %s", example)
	case errors.As(err, &syntax):
		return badRequest("request body is not valid JSON (at byte %d: %v): send a JSON object such as %s", syntax.Offset, err, example)
	case errors.As(err, &typ) && typ.Field == "":
		return badRequest("request body is a JSON %s: send a JSON object such as %s", typ.Value, example)
	case errors.As(err, &typ):
		return badRequest("field %q is a JSON %s: it must be %s", typ.Field, typ.Value, kindName(typ.Type))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		known := ""
		if _, ok := v.(*wire.SubmitRequest); ok {
			known = ": the fields are " + submitFields
		}
		return badRequest("unknown field %s in the request body%s", field, known)
	}
	return badRequest("request body: %v: send a JSON object such as %s", err, example)
}

// kindName names what a JSON value must be to decode into t.
func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return fmt.Sprintf("of Go type %s", t)
}
