package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
)

// EchoResult is the result of the echo handler.
type EchoResult struct {
	// Args are the task's args, exactly as submitted.
	Args json.RawMessage `json:"args"`
	// Parents are the parents' outcomes in declared order; an empty list
	// when the task has no parents.
	Parents []Outcome `json:"parents"`
}

// Echo is the echo handler: it returns the task's args and its parents'
// outcomes, {"args": ARGS, "parents": [OUTCOME, ...]}. It never fails for a
// valid task, which makes it the handler to try workflows with.
func Echo(_ context.Context, call *Call) (any, error) {
	if call == nil || call.Task == nil {
		return nil, errors.New("echo: no task to run")
	}
	args := call.Task.Args
	if len(bytes.TrimSpace(args)) == 0 {
		args = nil // encodes as null
	} else if !json.Valid(args) {
		return nil, errors.New("echo: args are not valid JSON")
	}
	return EchoResult{Args: args, Parents: parentOutcomes(call)}, nil
}
