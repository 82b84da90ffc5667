package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/dueq/dueq/internal/rediserr"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
	"github.com/dueq/dueq/wire"
)

// errorBody is the JSON form of every error answer.
type errorBody struct {
	Error string `json:"error"`
}

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encode the answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeError answers with status and {"error": msg}.
func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(errorBody{Error: msg}) // a string always encodes
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// statusOf maps an error of the scheduler, the registry or the request to
// an HTTP status and a message that says what to fix. A refusal of Redis
// (out of memory, a read-only replica: package rediserr) is 503 with what
// Redis said; any other error is 503 "Redis is not available".
func statusOf(err error) (int, string) {
	var (
		tooBig *http.MaxBytesError
		bad    *requestError
	)
	switch {
	case errors.As(err, &bad):
		return http.StatusBadRequest, bad.msg
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes: send less, e.g. keep large data elsewhere and pass a reference in args", tooBig.Limit)
	case errors.Is(err, tasks.ErrInvalid), errors.Is(err, tasks.ErrUnknownHandler):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, wire.ErrNotFound):
		return http.StatusNotFound, err.Error() + ": check the id; finished records are kept for result_ttl"
	case errors.Is(err, wire.ErrFinished):
		return http.StatusConflict, err.Error() + ": only scheduled, waiting or running tasks can be canceled"
	case errors.Is(err, wire.ErrNotRetryable):
		return http.StatusConflict, err.Error()
	case errors.Is(err, wire.ErrNotReplicated):
		return http.StatusServiceUnavailable, err.Error() + ": check the tasks it names before you submit again, or submit with an idempotency key"
	case errors.Is(err, transport.ErrCorrupt):
		return http.StatusInternalServerError, err.Error() + ": the record in Redis cannot be read by this version of dueq"
	case rediserr.Refused(err):
		// Redis runs and answers, but declines (out of memory, a replica...):
		// say what Redis said, not that it is unreachable.
		return http.StatusServiceUnavailable, rediserr.Describe(err).Error()
	}
	return http.StatusServiceUnavailable, "Redis is not available: " + err.Error() + ": check that Redis is running and that redis.url points to it"
}

// requestError is a malformed request: bad JSON, an unknown field, a bad
// query parameter. It maps to 400.
type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }

// badRequest returns a requestError with a formatted message.
func badRequest(format string, a ...any) error {
	return &requestError{msg: fmt.Sprintf(format, a...)}
}

// submitFields lists wire.SubmitRequest's JSON field names, for the error
// answer to an unknown field.
var submitFields = func() string {
	t := reflect.TypeFor[wire.SubmitRequest]()
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}()
