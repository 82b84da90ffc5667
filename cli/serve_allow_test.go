package cli

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/testutil"
	"github.com/dueq/dueq/tasks"
)

// A daemon started with no registry builds the stock one, whose http
// handler knows the daemon's own addresses, the embedded Redis's and the
// API's, learnt at start; it warns of allow-list entries that allow any
// arguments or nothing.
func TestDaemonKeepsTheHTTPHandlerOffItsOwnAddresses(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Handlers.HTTP.Allow = []string{"127.0.0.1", "api.example.com"}
	cfg.Handlers.Shell.Allow = []tasks.ShellRule{{Program: "true"}, {Argv: []string{"date", "-u"}}}
	logs := &testutil.SyncBuffer{}
	d, err := StartDaemon(context.Background(), cfg, nil, slog.New(slog.NewJSONHandler(logs, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Stop(context.Background()) })

	own := d.ownAddrs()
	require.Equal(t, "this daemon's Redis", own[d.RedisAddr()], "%v", own)
	require.Equal(t, "this daemon's HTTP API", own[d.HTTPAddr()], "%v", own)
	require.Equal(t, "this daemon's HTTP API", own[cfg.HTTP.Addr], "%v", own)

	warn := logged(logs, "handlers.shell.allow: \"true\" allows any arguments (a task may pass it any option, such as one that runs a command or writes a file): list the argument vectors it may run instead, e.g. [\"true\", --flag, \"*\"]")
	require.NotNil(t, warn, logs.String())
	require.Equal(t, "WARN", warn["level"])
	require.NotNil(t, logged(logs, "handlers.http.allow: 127.0.0.1 allows nothing: 127.0.0.1 is a loopback address, reached only through an entry that writes its port, such as 127.0.0.1:80"), logs.String())
	require.Equal(t, []any{"echo", "http", "shell", "sleep"}, logged(logs, "dueq daemon running")["handlers"])
}

// Registry, for a daemon that is given one, keeps the http handler off the
// addresses of the configuration: http.addr and redis.url.
func TestRegistryKnowsTheConfiguredAddresses(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.HTTP.Addr = "127.0.0.1:7420"
	cfg.Redis.URL = "redis://alice:secret@redis.internal:6380/2"
	require.Equal(t, map[string]string{"127.0.0.1:7420": "this daemon's HTTP API", "redis.internal:6380": "this daemon's Redis"}, configuredAddrs(cfg))

	cfg.Redis.URL = "unix:///run/redis.sock"
	require.Equal(t, map[string]string{"127.0.0.1:7420": "this daemon's HTTP API"}, configuredAddrs(cfg))
}
