package api

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/wire"
)

// A write the replicas did not confirm is a 503 that keeps the error's
// words (the tasks it names) and says what to do.
func TestAnUnreplicatedWriteIsA503ThatNamesItsTasks(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("tasks 01A, 01B: written to the Redis primary, but only 0 of 1 replicas confirmed it: %w", wire.ErrNotReplicated)
	status, msg := statusOf(err)
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Contains(t, msg, "tasks 01A, 01B")
	require.Contains(t, msg, "idempotency key")
}
