package api

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// The workflow answer is wire.WorkflowAnswer's JSON with "retryable" added
// to each node's task, as every task answer has it, and reads back into
// wire.WorkflowAnswer.
func TestWorkflowAnswerIsTheWireAnswerWithRetryable(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 2, 15, 4, 5, 123e6, time.UTC)
	done := &tasks.Task{ID: "T1", Name: "echo", Queue: "q", State: tasks.Succeeded, CreatedAt: at, DueAt: at, MaxAttempts: 1}
	a := newWorkflowAnswer("W1", []client.WorkflowNode{{Name: "a", ID: "T1", Task: done}, {Name: "b", ID: "T2"}})
	b, err := json.Marshal(a)
	require.NoError(t, err)
	require.Equal(t, `{"id":"W1","states":{"expired":1,"succeeded":1},"nodes":[{"node":"a","id":"T1","task":{"id":"T1","name":"echo","args":null,"queue":"q","state":"succeeded","attempts":0,"max_attempts":1,"parents":[],"children":[],"on_parent_failure":"","due_at":"2030-01-02T15:04:05.123Z","created_at":"2030-01-02T15:04:05.123Z","started_at":null,"finished_at":null,"retryable":false}},{"node":"b","id":"T2","task":null}]}`, string(b))

	var back wire.WorkflowAnswer
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, "W1", back.ID)
	require.Equal(t, map[tasks.State]int{tasks.Succeeded: 1, wire.Expired: 1}, back.States)
	require.Len(t, back.Nodes, 2)
	require.Equal(t, "a", back.Nodes[0].Node)
	require.Equal(t, "T1", back.Nodes[0].Task.ID)
	require.Nil(t, back.Nodes[1].Task)
}
