package cli

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/apiclient"
	"github.com/dueq/dueq/config"
	"github.com/dueq/dueq/internal/testutil"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// The secrets of these tests: the Redis default user's password, the
// password of the ACL user alice, and the API token. None may reach a log
// line or an error message.
const (
	secretRedisPassword = "s3cr3t-pw"
	secretAlicePassword = "al1ce-pw"
	secretToken         = "t0ken-Never-Logged-7f3a"
)

// secretRedis is a redis-server that requires a password (requirepass)
// and knows the ACL user alice.
type secretRedis struct {
	port string
}

// passwordURL is the URL of db with the default user's password.
func (r *secretRedis) passwordURL(password string, db int) string {
	return "redis://:" + password + "@127.0.0.1:" + r.port + "/" + strconv.Itoa(db)
}

// aliceURL is the URL of db as the ACL user alice.
func (r *secretRedis) aliceURL(password string, db int) string {
	return "redis://alice:" + password + "@127.0.0.1:" + r.port + "/" + strconv.Itoa(db)
}

// startSecretRedis starts a redis-server with a password and an ACL user on
// a free port in a temporary directory, stopped when the test ends. Without
// a redis-server binary the test is skipped, unless DUEQ_REQUIRE_REDIS=1.
func startSecretRedis(t *testing.T) *secretRedis {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("DUEQ_REQUIRE_REDIS") == "1" {
			t.Fatal("redis-server is not installed and DUEQ_REQUIRE_REDIS=1: install it (apt-get install -y redis-server)")
		}
		t.Skip("redis-server is not installed: skipping the password and ACL tests (set DUEQ_REQUIRE_REDIS=1 to fail instead)")
	}
	dir := t.TempDir()
	r := &secretRedis{port: strconv.Itoa(testutil.FreePort(t))}
	cmd := exec.Command(path, "--port", r.port, "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log"),
		"--requirepass", secretRedisPassword,
		"--user", "alice", "on", ">"+secretAlicePassword, "~*", "&*", "+@all")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + r.port, Password: secretRedisPassword})
	defer rdb.Close()
	require.Eventually(t, func() bool { return rdb.Ping(context.Background()).Err() == nil },
		10*time.Second, 10*time.Millisecond, "redis-server did not start on port %s", r.port)
	return r
}

// secretConfig is a daemon configuration on redisURL with the API token on
// a free loopback port, logging everything down to debug in format.
func secretConfig(t *testing.T, redisURL, format string) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Redis.URL = redisURL
	cfg.HTTP.Addr = "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
	cfg.HTTP.Token = secretToken
	cfg.Workers = 2
	cfg.ShutdownGrace = time.Second
	cfg.Log.Format, cfg.Log.Level = format, "debug"
	require.NoError(t, cfg.Validate())
	return cfg
}

// requireNoSecret fails when text holds any of the secrets.
func requireNoSecret(t *testing.T, text, what string) {
	t.Helper()
	for _, s := range []string{secretRedisPassword, secretAlicePassword, secretToken} {
		require.NotContains(t, text, s, "%s show a secret:\n%s", what, text)
	}
}

// runEchoThroughAPI submits an echo task to the daemon at addr with the
// token, waits for it to succeed, and returns its id. A request without
// the token is refused.
func runEchoThroughAPI(t *testing.T, addr string) string {
	t.Helper()
	ctx := context.Background()
	anon := &apiclient.Client{BaseURL: "http://" + addr}
	_, err := anon.Submit(ctx, wire.SubmitRequest{Name: "echo"})
	var ae *apiclient.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, 401, ae.Status)

	cl := &apiclient.Client{BaseURL: "http://" + addr, Token: secretToken}
	require.NoError(t, cl.Health(ctx))
	tk, err := cl.Submit(ctx, wire.SubmitRequest{Name: "echo", Args: []byte(`{"hello":"secret-free"}`)})
	require.NoError(t, err)
	tk, err = cl.Wait(ctx, tk.ID, 20*time.Second)
	require.NoError(t, err)
	require.Equal(t, tasks.Succeeded, tk.State, "error: %s", tk.Error)
	require.Contains(t, string(tk.Result), "secret-free")
	return tk.ID
}

// A daemon on a Redis with a password, or as an ACL user on another db,
// works, and its logs, JSON or text, never show the password or the token.
func TestServeKeepsSecretsOutOfLogs(t *testing.T) {
	t.Parallel()
	r := startSecretRedis(t)
	for _, c := range []struct {
		name string
		url  string
		db   int
		opts redis.Options
	}{
		{"password", r.passwordURL(secretRedisPassword, 0), 0, redis.Options{Password: secretRedisPassword}},
		{"acl-user", r.aliceURL(secretAlicePassword, 2), 2, redis.Options{Username: "alice", Password: secretAlicePassword, DB: 2}},
	} {
		for _, format := range []string{"json", "text"} {
			t.Run(c.name+"/"+format, func(t *testing.T) {
				cfg := secretConfig(t, c.url, format)
				logs := &testutil.SyncBuffer{}
				logger, err := cfg.Logger(logs)
				require.NoError(t, err)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				done := make(chan error, 1)
				go func() { done <- Serve(ctx, cfg, Registry(cfg), logger) }()
				require.Eventually(t, func() bool { return strings.Contains(logs.String(), "dueq daemon running") },
					10*time.Second, 10*time.Millisecond, "the daemon did not start: %s", logs)

				id := runEchoThroughAPI(t, cfg.HTTP.Addr)
				opts := c.opts
				opts.Addr = "127.0.0.1:" + r.port
				rdb := redis.NewClient(&opts)
				defer rdb.Close()
				n, err := rdb.Exists(context.Background(), "{dueq}:t:"+id).Result()
				require.NoError(t, err)
				require.EqualValues(t, 1, n, "the task's record is in db %d", c.db)

				cancel()
				select {
				case err := <-done:
					require.NoError(t, err)
				case <-time.After(30 * time.Second):
					t.Fatal("Serve did not return after its context ended")
				}
				out := logs.String()
				require.Contains(t, out, "dueq daemon stopped")
				require.Contains(t, out, "127.0.0.1:"+r.port, "the logs name the Redis, redacted")
				require.Contains(t, out, "xxxxx", "the logs name the Redis, redacted")
				requireNoSecret(t, out, "the "+format+" logs")
			})
		}
	}
}

// A wrong password stops the start with an error that says so without
// showing the password it was given, nor the token.
func TestServeWrongRedisPasswordIsNotShown(t *testing.T) {
	t.Parallel()
	r := startSecretRedis(t)
	const wrong = "wr0ng-Passw0rd-42"
	for _, url := range []string{r.passwordURL(wrong, 0), r.aliceURL(wrong, 2), r.aliceURL(secretRedisPassword, 2)} {
		for _, format := range []string{"json", "text"} {
			cfg := secretConfig(t, url, format)
			logs := &testutil.SyncBuffer{}
			logger, err := cfg.Logger(logs)
			require.NoError(t, err)
			err = Serve(context.Background(), cfg, Registry(cfg), logger)
			require.Error(t, err)
			msg := err.Error()
			require.Contains(t, msg, "cannot reach Redis at "+config.RedactURL(url))
			require.True(t, strings.Contains(msg, "WRONGPASS") || strings.Contains(msg, "invalid username-password"),
				"the error says the credentials were refused: %s", msg)
			for _, text := range []string{msg, logs.String()} {
				require.NotContains(t, text, wrong)
				requireNoSecret(t, text, "the error and logs of a failed start")
			}
		}
	}
}

// `dueq serve` itself (configuration file, go-redis's own log lines routed
// to the daemon's logger, exit codes) keeps the secrets out of its stderr.
// Not parallel: the command sets go-redis's process-wide logger.
func TestServeCommandKeepsSecretsOutOfStderr(t *testing.T) {
	r := startSecretRedis(t)
	t.Cleanup(func() { redis.SetLogger(redisLogger{slog.New(slog.NewTextHandler(os.Stderr, nil))}) })
	none := func(string) string { return "" }
	for _, c := range []struct {
		url, format string
	}{
		{r.passwordURL(secretRedisPassword, 0), "json"},
		{r.aliceURL(secretAlicePassword, 2), "text"},
	} {
		addr := "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
		path := filepath.Join(t.TempDir(), "dueq.yaml")
		doc := "redis:\n  url: " + c.url + "\nhttp:\n  addr: " + addr + "\n  token: " + secretToken +
			"\nworkers: 2\nshutdown_grace: 1s\nlog:\n  format: " + c.format + "\n  level: debug\n"
		require.NoError(t, os.WriteFile(path, []byte(doc), 0o600))

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stdout, stderr := &testutil.SyncBuffer{}, &testutil.SyncBuffer{}
		code := make(chan int, 1)
		go func() {
			code <- run(ctx, []string{"serve", "--config", path}, strings.NewReader(""), stdout, stderr, none)
		}()
		require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "dueq daemon running") },
			10*time.Second, 10*time.Millisecond, "the daemon did not start: %s", stderr)
		runEchoThroughAPI(t, addr)
		cancel()
		select {
		case c := <-code:
			require.Equal(t, ExitOK, c, stderr.String())
		case <-time.After(30 * time.Second):
			t.Fatal("dueq serve did not return after its context ended")
		}
		require.Contains(t, stderr.String(), "configuration read")
		requireNoSecret(t, stderr.String()+stdout.String(), "the output of dueq serve --config")
	}

	// A wrong password, from the file or from --redis, exits 2 and is not shown.
	const wrong = "wr0ng-Passw0rd-42"
	path := filepath.Join(t.TempDir(), "dueq.yaml")
	require.NoError(t, os.WriteFile(path, []byte("redis:\n  url: "+r.aliceURL(wrong, 2)+"\nhttp:\n  addr: 127.0.0.1:0\n  token: "+secretToken+"\n"), 0o600))
	for _, args := range [][]string{
		{"serve", "--config", path},
		{"serve", "--config", path, "--redis", r.passwordURL(wrong, 1)},
	} {
		var stdout, stderr bytes.Buffer
		c := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr, none)
		require.Equal(t, ExitError, c, stderr.String())
		require.Contains(t, stderr.String(), "dueq: cannot reach Redis at ")
		require.NotContains(t, stderr.String()+stdout.String(), wrong)
		requireNoSecret(t, stderr.String()+stdout.String(), "the output of a failed dueq serve")
	}
}
