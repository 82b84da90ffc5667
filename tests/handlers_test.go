package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// Daemons with different handlers share one Redis: a daemon claims only
// the tasks whose handler it has, so the shell tasks all run on the daemon
// that allows shell, and none is failed by the one that does not.
func TestDaemonsWithDifferentHandlersRunOnlyWhatTheyHave(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	withShell := startDaemon(t, r.URL, "--workers", "2", "--config", shellConfig(t))
	startDaemon(t, r.URL, "--workers", "2") // shell is off here
	var ids []string
	for i := range 20 {
		args := json.RawMessage(fmt.Sprintf(`{"cmd":["sh","-c","echo %d"]}`, i))
		ids = append(ids, post(t, withShell.URL, map[string]any{"name": "shell", "args": args}).ID)
	}
	ran := map[string]int{}
	for _, id := range ids {
		rec := waitDone(t, withShell.URL, id)
		require.Equal(t, "succeeded", rec.State, "task %s: %s", id, rec.Error)
		require.Equal(t, 1, rec.Attempts)
		ran[daemonOf(t, withShell.URL, id)]++
	}
	require.Len(t, ran, 1, "every shell task ran on the daemon that allows shell: %v", ran)
}

// daemonOf reads which daemon ran task id.
func daemonOf(t *testing.T, server, id string) string {
	t.Helper()
	resp, err := http.Get(server + "/api/v1/tasks/" + id)
	require.NoError(t, err)
	defer resp.Body.Close()
	var rec struct {
		Daemon string `json:"daemon"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&rec))
	require.NotEmpty(t, rec.Daemon, "task %s names the daemon that ran it", id)
	return rec.Daemon
}
