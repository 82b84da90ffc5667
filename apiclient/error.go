package apiclient

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// Error is a non-2xx answer of the API, as the Client returns it. Message is
// the body's "error" text, which says what to fix.
//
// errors.Is matches an Error against the sentinels a client.Client would
// return for the same problem: 400 is tasks.ErrInvalid, 404 is
// wire.ErrNotFound and 409 is wire.ErrFinished (from a cancel) or
// wire.ErrNotRetryable (from a retry), so code works the same over HTTP
// and over Redis.
type Error struct {
	Status  int    // HTTP status, e.g. 404
	Message string // what went wrong and what to fix
}

// Error returns the message and the status.
func (e *Error) Error() string {
	return fmt.Sprintf("%s (HTTP %d %s)", e.Message, e.Status, http.StatusText(e.Status))
}

// Is reports whether e stands for target: see Error.
func (e *Error) Is(target error) bool {
	switch e.Status {
	case http.StatusBadRequest:
		return target == tasks.ErrInvalid
	case http.StatusNotFound:
		return target == wire.ErrNotFound
	case http.StatusConflict:
		return target == wire.ErrFinished || target == wire.ErrNotRetryable
	}
	return false
}

// errorBody is the JSON form of every error answer: {"error": "..."}.
type errorBody struct {
	Error string `json:"error"`
}

// answerError builds the *Error of a non-2xx answer from its body.
func answerError(status int, body []byte) *Error {
	var eb errorBody
	if err := json.Unmarshal(body, &eb); err == nil && eb.Error != "" {
		return &Error{Status: status, Message: eb.Error}
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &Error{Status: status, Message: "the server answered without a dueq error (is --server a dueq daemon?): " + msg}
}
