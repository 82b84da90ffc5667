package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// taskAnswer is a task record as the API answers it: the fields of
// tasks.Task plus "retryable", whether POST /api/v1/tasks/{id}/retry would
// accept it (client.Retryable, the rule Retry applies), and "warning"
// when a submit has one.
type taskAnswer struct {
	t       *tasks.Task
	warning string
}

// MarshalJSON writes the record with the answer's fields added.
func (a taskAnswer) MarshalJSON() ([]byte, error) {
	return withFields(a.t, struct {
		Retryable bool   `json:"retryable"`
		Warning   string `json:"warning,omitempty"`
	}{client.Retryable(a.t) == nil, a.warning})
}

// scheduleAnswer is a schedule's record with the warning of its submit.
type scheduleAnswer struct {
	sc      *wire.Schedule
	warning string
}

// MarshalJSON writes the record with "warning" added when set.
func (a scheduleAnswer) MarshalJSON() ([]byte, error) {
	return withFields(a.sc, struct {
		Warning string `json:"warning,omitempty"`
	}{a.warning})
}

// withFields returns the JSON object of v with the fields of extra's JSON
// object appended.
func withFields(v, extra any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	e, err := json.Marshal(extra)
	if err != nil {
		return nil, err
	}
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return nil, fmt.Errorf("answer is not a JSON object: %.40s", b)
	}
	if len(e) <= 2 { // {}: nothing to add
		return b, nil
	}
	if len(b) == 2 {
		return e, nil
	}
	return append(append(b[:len(b)-1:len(b)-1], ','), e[1:]...), nil
}

// addWarnings sets a wire.WarningHeader line for each warning.
func addWarnings(w http.ResponseWriter, warnings ...string) {
	for _, msg := range warnings {
		if msg != "" {
			w.Header().Add(wire.WarningHeader, headerSafe(msg))
		}
	}
}

// headerSafe replaces what an HTTP header value cannot hold with '?'.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r >= 0x7f {
			return '?'
		}
		return r
	}, s)
}

// workflowAnswer is a wire.WorkflowAnswer as the API writes it: the same
// fields, each node's task written as every task answer is.
type workflowAnswer struct {
	ID     string              `json:"id"`
	States map[tasks.State]int `json:"states"`
	Nodes  []workflowNode      `json:"nodes"`
}

// workflowNode is a wire.WorkflowNode as the API writes it.
type workflowNode wire.WorkflowNode

// MarshalJSON writes the node with its task as every task answer is
// written (with "retryable").
func (n workflowNode) MarshalJSON() ([]byte, error) {
	var task any // null once the record expired
	if n.Task != nil {
		task = taskAnswer{t: n.Task}
	}
	return json.Marshal(struct {
		Node string `json:"node"`
		ID   string `json:"id"`
		Task any    `json:"task"`
	}{n.Node, n.ID, task})
}

// newWorkflowAnswer builds the answer of GET /api/v1/workflows/{id} from
// the nodes client.Client.GetWorkflow read.
func newWorkflowAnswer(id string, nodes []client.WorkflowNode) workflowAnswer {
	a := workflowAnswer{ID: id, States: map[tasks.State]int{}, Nodes: make([]workflowNode, len(nodes))}
	for i, n := range nodes {
		a.Nodes[i] = workflowNode{Node: n.Name, ID: n.ID, Task: n.Task}
		if n.Task == nil {
			a.States[wire.Expired]++
		} else {
			a.States[n.Task.State]++
		}
	}
	return a
}
