package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

// writeFile writes a config file in a temporary directory.
func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dueq.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

// serveFlags is the flag set `dueq serve` defines, parsed from args.
func serveFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.String("redis", "", "")
	fs.Int("workers", 0, "")
	fs.StringSlice("queues", nil, "")
	fs.String("http", DefaultHTTPAddr, "")
	fs.String("token", "", "")
	require.NoError(t, fs.Parse(args))
	return fs
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c := Default()
	require.NoError(t, c.Validate())
	require.Equal(t, "", c.Redis.URL)
	require.False(t, c.Redis.AllowEviction)
	require.Equal(t, "dueq", c.Namespace)
	require.Equal(t, "127.0.0.1:7420", c.HTTP.Addr)
	require.Equal(t, runtime.NumCPU(), c.Workers)
	require.Equal(t, []string{"default"}, c.Queues)
	require.Equal(t, 15*time.Second, c.Lease)
	require.Equal(t, 10*time.Second, c.ShutdownGrace)
	require.Equal(t, 24*time.Hour, c.ResultTTL)
	require.Equal(t, 5, c.MaxRecoveries)
	require.Equal(t, Retry{Base: time.Second, Cap: 5 * time.Minute}, c.Retry)
	require.Equal(t, Log{Format: "text", Level: "info"}, c.Log)
	require.Empty(t, c.Handlers.Shell.Allow)
	require.Empty(t, c.Handlers.HTTP.Allow)
	require.Empty(t, c.Schedules)

	sc := c.Scheduler(nil)
	require.Equal(t, c.Workers, sc.Workers)
	require.Equal(t, c.Lease, sc.Lease)
	require.Equal(t, c.Retry.Cap, sc.RetryCap)
}

// The repository's config.yaml is the defaults, spelled out.
func TestRepositoryConfigIsTheDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load("../config.yaml", nil)
	require.NoError(t, err)
	c.File = ""
	require.Equal(t, Default(), c)
}

func TestLoadFile(t *testing.T) {
	t.Parallel()
	path := writeFile(t, `
redis: {url: "redis://localhost:6379/2"}
namespace: jobs
workers: 3
queues: [mail, reports]
lease: 30s
shutdown_grace: 0s
retry: {base: 2s, cap: 1m}
log: {format: json, level: debug}
handlers:
  shell: {allow: [rsync]}
  http: {allow: [example.com]}
schedules:
  - {name: tick, task: echo, every: 1m}
`)
	c, err := Load(path, nil)
	require.NoError(t, err)
	require.Equal(t, path, c.File)
	require.Equal(t, "redis://localhost:6379/2", c.Redis.URL)
	require.Equal(t, "jobs", c.Namespace)
	require.Equal(t, 3, c.Workers)
	require.Equal(t, []string{"mail", "reports"}, c.Queues)
	require.Equal(t, 30*time.Second, c.Lease)
	require.Equal(t, time.Duration(0), c.ShutdownGrace)
	require.Equal(t, Retry{Base: 2 * time.Second, Cap: time.Minute}, c.Retry)
	require.Equal(t, []tasks.ShellRule{{Program: "rsync"}}, c.Handlers.Shell.Allow)
	require.Equal(t, []string{"example.com"}, c.Handlers.HTTP.Allow)
	require.Len(t, c.Schedules, 1)
	require.Equal(t, Schedule{Name: "tick", Task: "echo", Every: time.Minute}, c.Schedules[0])
	require.Equal(t, 24*time.Hour, c.ResultTTL, "keys left out keep their defaults")

	sc := c.Scheduler(nil).WithDefaults()
	require.Equal(t, time.Duration(0), *sc.ShutdownGrace, "0s grace cancels at once in the engine too")

	conn, err := c.RedisConn()
	require.NoError(t, err)
	require.Equal(t, "localhost:6379", conn.Single.Addr)
	require.Equal(t, 2, conn.Single.DB)

	var buf bytes.Buffer
	logger, err := c.Logger(&buf)
	require.NoError(t, err)
	logger.Debug("hello", "k", 1)
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	require.Equal(t, "hello", line["msg"])
}

// Precedence: defaults < file < environment < flags. Not parallel: it sets
// environment variables.
func TestPrecedence(t *testing.T) {
	path := writeFile(t, "workers: 3\nnamespace: fromfile\nqueues: [a]\nhttp: {addr: '127.0.0.1:1111'}\nlease: 20s\n")
	t.Setenv("DUEQ_WORKERS", "5")
	t.Setenv("DUEQ_NAMESPACE", "fromenv")
	t.Setenv("DUEQ_HTTP_ADDR", "127.0.0.1:2222")
	t.Setenv("DUEQ_REDIS_URL", "redis://envhost:6379")
	t.Setenv("DUEQ_QUEUES", "b, c")
	t.Setenv("DUEQ_RETRY_CAP", "10m")

	c, err := Load(path, serveFlags(t))
	require.NoError(t, err)
	require.Equal(t, 5, c.Workers)
	require.Equal(t, "fromenv", c.Namespace)
	require.Equal(t, "127.0.0.1:2222", c.HTTP.Addr)
	require.Equal(t, "redis://envhost:6379", c.Redis.URL)
	require.Equal(t, []string{"b", "c"}, c.Queues)
	require.Equal(t, 10*time.Minute, c.Retry.Cap)
	require.Equal(t, 20*time.Second, c.Lease, "the file beats the defaults")

	c, err = Load(path, serveFlags(t, "--workers", "7", "--queues", "x,y", "--http", "127.0.0.1:3333", "--redis", "redis://flaghost:6380/1"))
	require.NoError(t, err)
	require.Equal(t, 7, c.Workers)
	require.Equal(t, []string{"x", "y"}, c.Queues)
	require.Equal(t, "127.0.0.1:3333", c.HTTP.Addr)
	require.Equal(t, "redis://flaghost:6380/1", c.Redis.URL)
	require.Equal(t, "fromenv", c.Namespace, "no flag for namespace: the environment wins")

	t.Setenv("DUEQ_WORKERS", "many")
	_, err = Load(path, serveFlags(t))
	require.ErrorContains(t, err, "workers (from DUEQ_WORKERS)")
	require.ErrorContains(t, err, `"many" is not a whole number`)
}

// http.token: the file, then DUEQ_HTTP_TOKEN, then --token, each winning
// over the one before. Not parallel: it sets an environment variable.
func TestTokenPrecedence(t *testing.T) {
	path := writeFile(t, "http: {addr: '0.0.0.0:7420', token: fromfile}\n")
	c, err := Load(path, serveFlags(t))
	require.NoError(t, err)
	require.Equal(t, "fromfile", c.HTTP.Token)

	t.Setenv("DUEQ_HTTP_TOKEN", "fromenv")
	c, err = Load(path, serveFlags(t))
	require.NoError(t, err)
	require.Equal(t, "fromenv", c.HTTP.Token)

	c, err = Load(path, serveFlags(t, "--token", "fromflag"))
	require.NoError(t, err)
	require.Equal(t, "fromflag", c.HTTP.Token)

	t.Setenv("DUEQ_HTTP_TOKEN", "")
	c, err = Load("", serveFlags(t, "--http", "0.0.0.0:7440", "--token", "s3cret"))
	require.NoError(t, err, "--token alone is the token a public address needs")
	require.Equal(t, "s3cret", c.HTTP.Token)
	require.Equal(t, "0.0.0.0:7440", c.HTTP.Addr)

	_, err = Load("", serveFlags(t, "--http", "0.0.0.0:7440"))
	require.ErrorContains(t, err, "http.token is required: set http.token (DUEQ_HTTP_TOKEN, or dueq serve --token)")
}

// redis.allow_eviction is read from the file and from
// DUEQ_REDIS_ALLOW_EVICTION, which wins. Not parallel: it sets an
// environment variable.
func TestAllowEviction(t *testing.T) {
	c, err := Load(writeFile(t, "redis:\n  url: redis://localhost:6379\n  allow_eviction: true\n"), nil)
	require.NoError(t, err)
	require.True(t, c.Redis.AllowEviction)
	require.Equal(t, "DUEQ_REDIS_ALLOW_EVICTION", EnvName("redis.allow_eviction"))

	t.Setenv("DUEQ_REDIS_ALLOW_EVICTION", "false")
	c, err = Load(writeFile(t, "redis: {allow_eviction: true}\n"), nil)
	require.NoError(t, err)
	require.False(t, c.Redis.AllowEviction, "the environment beats the file")

	t.Setenv("DUEQ_REDIS_ALLOW_EVICTION", "true")
	c, err = Load("", nil)
	require.NoError(t, err)
	require.True(t, c.Redis.AllowEviction)

	t.Setenv("DUEQ_REDIS_ALLOW_EVICTION", "sometimes")
	_, err = Load("", nil)
	require.ErrorContains(t, err, `redis.allow_eviction (from DUEQ_REDIS_ALLOW_EVICTION): "sometimes" is not a boolean: write true or false`)
}

// Flags that were not given do not override the file with their defaults.
func TestFlagDefaultsDoNotOverride(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "workers: 3\nhttp: {addr: '127.0.0.1:1111'}\n")
	c, err := Load(path, serveFlags(t))
	require.NoError(t, err)
	require.Equal(t, 3, c.Workers)
	require.Equal(t, "127.0.0.1:1111", c.HTTP.Addr)
}

func TestMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	require.ErrorContains(t, err, "nope.yaml does not exist")
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"unknown key", "worker: 4\n", []string{`unknown key "worker"`, `did you mean "workers"?`}},
		{"unknown nested key", "retry: {base: 1s, maximum: 5m}\n", []string{`unknown key "retry.maximum"`}},
		{"section as scalar", "redis: localhost\n", []string{"redis (from", "must be a map with the keys url"}},
		{"int as word", "workers: many\n", []string{"workers (from", `"many" is not a whole number`}},
		{"int as fraction", "workers: 2.5\n", []string{"workers (from", "2.5 is not a whole number"}},
		{"bad duration", "lease: 5 apples\n", []string{"lease (from", `"5 apples" is not a duration`, "15s"}},
		{"duration without unit", "lease: 5\n", []string{"lease (from", "5 has no unit", "5s"}},
		{"negative duration", "result_ttl: -1h\n", []string{"result_ttl (from", "negative"}},
		{"negative grace", "shutdown_grace: -1s\n", []string{"shutdown_grace", "negative"}},
		{"string as list", "queues: {a: 1}\n", []string{"queues (from", "not a list"}},
		{"list of numbers", "handlers: {shell: {allow: [1]}}\n", []string{"handlers.shell.allow", "entry 0 is a whole number"}},
		{"schedule not a map", "schedules: [hourly]\n", []string{"schedules[0] (from", "is a string, not a map"}},
		{"schedules not a list", "schedules: hourly\n", []string{"schedules (from", "not a list"}},
		{"number as string", "namespace: 42\n", []string{"namespace (from", `quote it, e.g. "42"`}},
		{"log format", "log: {format: xml}\n", []string{"log.format", "text or json"}},
		{"log level", "log: {level: loud}\n", []string{"log.level", "debug, info, warn or error"}},
		{"bad queue", "queues: ['no spaces']\n", []string{"queues", "not a queue name"}},
		{"empty queues", "queues: []\n", []string{"queues: empty"}},
		{"cap below base", "retry: {base: 1m, cap: 1s}\n", []string{"retry.cap"}},
		{"public addr without token", "http: {addr: '0.0.0.0:7420'}\n", []string{"http.token is required"}},
		{"bad addr", "http: {addr: 'localhost'}\n", []string{"http.addr", "host:port"}},
		{"bad redis url", "redis: {url: 'localhost:6379'}\n", []string{"redis.url", "no scheme", "redis://"}},
		{"allow_eviction not a boolean", "redis: {allow_eviction: yes}\n", []string{"redis.allow_eviction (from", `"yes" is not a boolean: write true or false`}},
		{"allow_eviction a number", "redis: {allow_eviction: 1}\n", []string{"redis.allow_eviction (from", "whole number, not a boolean"}},
		{"yaml syntax", "workers: [\n", []string{"config file"}},
		{"duplicate key", "workers: 1\nworkers: 2\n", []string{"config file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(writeFile(t, tc.file), nil)
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

func TestPublicAddrWithToken(t *testing.T) {
	t.Parallel()
	c, err := Load(writeFile(t, "http: {addr: '0.0.0.0:7420', token: s3cret}\n"), nil)
	require.NoError(t, err)
	require.Equal(t, "s3cret", c.HTTP.Token)
}

func TestRedisPasswordRedacted(t *testing.T) {
	t.Parallel()
	const pw = "hunter2-S3CRET"
	for _, url := range []string{
		"redis://alice:" + pw + "@localhost:6379/notadb",
		"redis://alice:" + pw + "@localhost:notaport",
		"rediss://:" + pw + "@[::1:6379/0",
		"http://alice:" + pw + "@localhost:6379",
		"redis://alice:" + pw + " with space@localhost:6379",
		"redis://alice:" + pw + "%zz@localhost:6379",
		"alice:" + pw + "@localhost:6379",
		"redis://" + pw + "@localhost:6379/x",
	} {
		c := Default()
		c.Redis.URL = url
		_, err := c.RedisConn()
		require.Error(t, err, url)
		require.NotContains(t, err.Error(), "hunter2", url)
		require.Contains(t, err.Error(), "redis.url")

		_, err = Load(writeFile(t, "redis: {url: '"+url+"'}\n"), nil)
		require.Error(t, err, url)
		require.NotContains(t, err.Error(), "hunter2", url)
	}
	// A password in a wrongly typed value is not echoed either.
	_, err := Load(writeFile(t, "redis: {url: [hunter2]}\n"), nil)
	require.ErrorContains(t, err, "redis.url")
	require.NotContains(t, err.Error(), "hunter2")
	_, err = Load(writeFile(t, "http: {token: [hunter2]}\n"), nil)
	require.ErrorContains(t, err, "http.token")
	require.NotContains(t, err.Error(), "hunter2")
}

func TestRedisConn(t *testing.T) {
	t.Parallel()
	c := Default()
	_, err := c.RedisConn()
	require.ErrorIs(t, err, ErrEmbedded)

	c.Redis.URL = "rediss://bob:pa%40ss@cache.example.com:6380/3"
	conn, err := c.RedisConn()
	require.NoError(t, err)
	require.Equal(t, RedisSingle, conn.Kind)
	opts := conn.Single
	require.Equal(t, "cache.example.com:6380", opts.Addr)
	require.Equal(t, "bob", opts.Username)
	require.Equal(t, "pa@ss", opts.Password)
	require.Equal(t, 3, opts.DB)
	require.NotNil(t, opts.TLSConfig)
	require.Equal(t, []string{"cache.example.com:6380"}, conn.Addrs())
}

func TestRedisConnCluster(t *testing.T) {
	t.Parallel()
	c := Default()
	c.Redis.URL = "redis-cluster://bob:pa%40ss@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002?dial_timeout=2s"
	conn, err := c.RedisConn()
	require.NoError(t, err)
	require.Equal(t, RedisCluster, conn.Kind)
	require.Equal(t, []string{"10.0.0.1:7000", "10.0.0.2:7001", "[::1]:7002"}, conn.Cluster.Addrs)
	require.Equal(t, "bob", conn.Cluster.Username)
	require.Equal(t, "pa@ss", conn.Cluster.Password)
	require.Equal(t, 2*time.Second, conn.Cluster.DialTimeout)
	require.Nil(t, conn.Cluster.TLSConfig)
	require.Equal(t, conn.Cluster.Addrs, conn.Addrs())

	c.Redis.URL = "rediss-cluster://h1:7000"
	conn, err = c.RedisConn()
	require.NoError(t, err)
	require.NotNil(t, conn.Cluster.TLSConfig)
	require.Empty(t, conn.Cluster.TLSConfig.ServerName, "each node's certificate is checked against the name dialed")
	require.Equal(t, []string{"h1:7000"}, conn.Cluster.Addrs)
}

func TestRedisConnSentinel(t *testing.T) {
	t.Parallel()
	c := Default()
	c.Redis.URL = "redis-sentinel://bob:secret@10.0.0.1:26379,10.0.0.2:26379/my%20primary?db=2&sentinel_password=s3"
	conn, err := c.RedisConn()
	require.NoError(t, err)
	require.Equal(t, RedisSentinel, conn.Kind)
	o := conn.Sentinel
	require.Equal(t, "my primary", o.MasterName)
	require.Equal(t, []string{"10.0.0.1:26379", "10.0.0.2:26379"}, o.SentinelAddrs)
	require.Equal(t, "bob", o.Username, "the user and password are the data nodes'")
	require.Equal(t, "secret", o.Password)
	require.Equal(t, "s3", o.SentinelPassword)
	require.Empty(t, o.SentinelUsername)
	require.Equal(t, 2, o.DB)
	require.Equal(t, o.SentinelAddrs, conn.Addrs())

	c.Redis.URL = "rediss-sentinel://h:26379/mymaster"
	conn, err = c.RedisConn()
	require.NoError(t, err)
	require.NotNil(t, conn.Sentinel.TLSConfig)
	require.Equal(t, "mymaster", conn.Sentinel.MasterName)
}

func TestRedisConnRefusesMalformedURLs(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]string{
		"redis-cluster://h1:7000/0":                 "one database",
		"redis-cluster://h1":                        `"h1" is not host:port`,
		"redis-cluster://h1:7000,,h2:7001":          `"" is not host:port`,
		"redis-cluster://h1:7000?bogus=1":           "bogus",
		"redis-sentinel://h1:26379":                 "name the primary",
		"redis-sentinel://h1:26379/":                "name the primary",
		"redis-sentinel://h1:26379/a/b":             "name the primary",
		"redis-sentinel://h1:26379/m?master_name=x": "master_name is not a parameter here",
		"redis-sentinel://h1:26379/m?password=x":    "password is not a parameter here",
		"redis-sentinel://h1:26379/m?db=x":          "database",
		"redis-sentinel://h1:26379/m?q=%zz":         "query is malformed",
		"memcached://h1:11211":                      `unknown scheme "memcached"`,
		"redis-cluster://u:p%zz@h1:7000":            "user or password is malformed",
	} {
		c := Default()
		c.Redis.URL = url
		_, err := c.RedisConn()
		require.ErrorContains(t, err, want, url)
		require.ErrorContains(t, err, "redis.url", url)
	}
	// No password reaches a message, whatever the form.
	for _, url := range []string{
		"redis-cluster://u:hunter2@h1",
		"redis-cluster://u:hunter2%zz@h1:7000",
		"redis-sentinel://u:hunter2@h1:26379",
		"redis-sentinel://h1:26379/m?sentinel_password=hunter2&db=x",
		"redis-sentinel://h1:26379?sentinel_password=hunter2",
	} {
		c := Default()
		c.Redis.URL = url
		_, err := c.RedisConn()
		require.Error(t, err, url)
		require.NotContains(t, err.Error(), "hunter2", url)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"redis://localhost:6379":          "redis://localhost:6379",
		"redis://u:p@h:1/2":               "redis://u:xxxxx@h:1/2",
		"redis://:p@h":                    "redis://:xxxxx@h",
		"redis://secret@h":                "redis://xxxxx@h",
		"rediss://u:p@ss:w@rd@h:6379/0":   "rediss://u:xxxxx@h:6379/0",
		"u:p@h:6379":                      "u:xxxxx@h:6379",
		"":                                "",
		"redis://u:p%40ss@h.example:6379": "redis://u:xxxxx@h.example:6379",
		"redis-sentinel://u:p@h1:1,h2:2/m?sentinel_password=s&db=1": "redis-sentinel://u:xxxxx@h1:1,h2:2/m?sentinel_password=xxxxx&db=1",
		"redis-cluster://h1:1,h2:2?client_name=a@b":                 "redis-cluster://h1:1,h2:2?client_name=a@b",
	} {
		require.Equal(t, want, RedactURL(in), in)
	}
}

func TestKnownKeysAreTheSpecs(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{
		"redis.url", "redis.allow_eviction", "redis.wait_replicas", "namespace", "partitions", "http.addr", "http.token", "workers", "queues", "lease",
		"shutdown_grace", "result_ttl", "max_recoveries", "retry.base", "retry.cap",
		"log.format", "log.level", "handlers.shell.allow", "handlers.http.allow", "schedules",
	}, KnownKeys())
	require.Equal(t, "DUEQ_REDIS_URL", EnvName("redis.url"))
	require.Equal(t, "DUEQ_HANDLERS_SHELL_ALLOW", EnvName("handlers.shell.allow"))
	require.True(t, strings.HasPrefix(EnvName("shutdown_grace"), "DUEQ_SHUTDOWN_GRACE"))
}

func TestLoopback(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"127.0.0.1": true, "::1": true, "localhost": true, "127.1.2.3": true,
		"": false, "0.0.0.0": false, "10.0.0.1": false, "example.com": false,
	} {
		require.Equal(t, want, Loopback(host), host)
	}
}

// A value means in config.yaml what it means in scheduler.Config:
// max_recoveries: 0 never re-runs a task whose daemon died, shutdown_grace:
// 0s cancels at once, and 0 asks for the default of the settings where 0 is
// no usable value.
func TestZeroMeansWhatItMeansInTheEngine(t *testing.T) {
	t.Parallel()
	c, err := Load(writeFile(t, "max_recoveries: 0\nshutdown_grace: 0s\n"), nil)
	require.NoError(t, err)
	require.Equal(t, 0, c.MaxRecoveries)
	require.Equal(t, time.Duration(0), c.ShutdownGrace)
	sc := c.Scheduler(nil).WithDefaults()
	require.Equal(t, 0, *sc.MaxRecoveries)
	require.Equal(t, time.Duration(0), *sc.ShutdownGrace)

	c, err = Load(writeFile(t, "namespace: ''\nworkers: 0\nlease: 0s\nresult_ttl: 0s\nretry: {base: 0s, cap: 0s}\n"), nil)
	require.NoError(t, err)
	c.File = ""
	require.Equal(t, Default(), c, "0 asks for the default of the others")
}

// The engine's limits are the library's, and errors say what to write.
func TestEngineLimitsAreTheLibrarys(t *testing.T) {
	t.Parallel()
	for file, want := range map[string]string{
		"max_recoveries: -1\n":       "max_recoveries: -1 is negative: use 0 or more, or leave it out for the default 5",
		"lease: 100ms\n":             "lease: 100ms is too short: use 300ms or more, or leave it out for the default 15s",
		"result_ttl: 500ms\n":        "result_ttl: 500ms is too short: use 1s or more, or leave it out for the default 24h",
		"retry: {base: 100us}\n":     "retry.base: 100µs is too short: use 1ms or more, or leave it out for the default 1s",
		"workers: 20000\n":           "workers: 20000 is out of range: use 1 to 10000, or leave it out for the CPU count",
		"namespace: 'a b'\n":         `namespace: "a b" is not a namespace: use 1-64 letters, digits or _.-, or leave it out for the default dueq`,
		"queues: []\n":               "queues: empty: list at least one queue, e.g. queues: [default], or leave it out for the default [default]",
		"retry: {base: 1m, cap: 1s}": "retry.cap: 1s is less than retry.base (1m): make the cap at least the base, or leave both out for the defaults",
	} {
		_, err := Load(writeFile(t, file), nil)
		require.EqualError(t, err, want, file)
	}
}
