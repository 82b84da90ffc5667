package scheduler

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

// A format 3 record that names parents in x but has lost its pending field
// (damaged: this build always writes it for a task with parents) is read by
// its claim as a first attempt, 10 fields (HMGET), without the parents'
// outcomes, so it runs although its parent failed and its policy is fail.
// Get reads the same record whole, outcomes included: the claim and the
// record disagree. It must either be refused as corrupt or read whole.
func TestAFormat3RecordWithParentsButNoPendingIsNotRunPastItsFailedParent(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	k := e.keys
	past := strconv.FormatInt(time.Now().Add(-time.Minute).UnixMilli(), 10)
	e.mr.HSet(k.Task("01CHILDNOPENDING"), "v", "3", "name", "record", "queue", "default", "state", "scheduled",
		"x", `{"a":{},"m":1,"p":["01PARENTFAILED"]}`, "due", past, "created", past,
		"o:01PARENTFAILED", `{"id":"01PARENTFAILED","name":"record","state":"failed","result":null,"error":"boom"}`)
	_, err := e.mr.ZAdd(k.Due("default"), 1, "01CHILDNOPENDING")
	require.NoError(t, err)
	e.start()
	got := e.wait("01CHILDNOPENDING", 5*time.Second)
	require.Zero(t, e.runs.count("01CHILDNOPENDING"), "it ran past its failed parent")
	require.Equal(t, tasks.Failed, got.State)
}
