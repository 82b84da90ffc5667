package wire

import "github.com/dueq/dueq/tasks"

// Expired counts, in WorkflowAnswer.States, the nodes whose task records
// expired (they finished more than the result TTL ago).
const Expired tasks.State = "expired"

// WorkflowAnswer is the answer of GET /api/v1/workflows/{id}: the
// workflow's id, its nodes counted by state, and its nodes, parents first
// (the order of its document).
type WorkflowAnswer struct {
	ID     string              `json:"id"`
	States map[tasks.State]int `json:"states"` // nodes by state; Expired for records gone
	Nodes  []WorkflowNode      `json:"nodes"`
}

// WorkflowNode is one node of a WorkflowAnswer: its name, its task's id
// and its task's record (nil once the record expired). The API writes each
// task as it writes every task answer, with "retryable" added; decoding
// into tasks.Task drops that field.
type WorkflowNode struct {
	Node string      `json:"node"`
	ID   string      `json:"id"`
	Task *tasks.Task `json:"task"`
}
