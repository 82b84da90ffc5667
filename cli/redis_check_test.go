package cli

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/testutil"
)

const evictFix = "run CONFIG SET maxmemory-policy noeviction there (and set it in redis.conf), or set redis.allow_eviction: true (DUEQ_REDIS_ALLOW_EVICTION=true) to run anyway"

func TestRedisVerdict(t *testing.T) {
	t.Parallel()
	const at = "redis://h:6379"
	for _, c := range []struct {
		name  string
		facts redisFacts
		allow bool
		err   string // the whole error, or "" for none
		warn  string // in the warning, or "" for none
	}{
		{"noeviction 7.0", redisFacts{Version: "7.0.15", Policy: "noeviction"}, false, "", ""},
		{"noeviction 8", redisFacts{Version: "8.0.2", Policy: "noeviction"}, false, "", ""},
		{"noeviction valkey", redisFacts{Version: "7.2.4", Policy: "noeviction"}, true, "", ""},
		{"allkeys-lru", redisFacts{Version: "7.2.4", Policy: "allkeys-lru"}, false,
			"the Redis at redis://h:6379 evicts keys when full (maxmemory-policy allkeys-lru): dueq would lose tasks: " + evictFix, ""},
		{"volatile-ttl", redisFacts{Version: "7.2.4", Policy: "volatile-ttl"}, false,
			"the Redis at redis://h:6379 evicts keys when full (maxmemory-policy volatile-ttl): dueq would lose tasks: " + evictFix, ""},
		{"allkeys-lru allowed", redisFacts{Version: "7.2.4", Policy: "allkeys-lru"}, true, "",
			"the Redis at redis://h:6379 evicts keys when full (maxmemory-policy allkeys-lru): tasks may be lost; redis.allow_eviction is true, so the daemon runs anyway: run CONFIG SET maxmemory-policy noeviction there to be safe"},
		{"policy unknown", redisFacts{Version: "7.0.0", PolicyErr: errorString("CONFIG GET maxmemory-policy: ERR unknown command")}, false,
			"cannot read the maxmemory-policy of the Redis at redis://h:6379 (CONFIG GET maxmemory-policy: ERR unknown command), so dueq cannot tell whether it evicts keys when full: make sure it is noeviction, then set redis.allow_eviction: true (DUEQ_REDIS_ALLOW_EVICTION=true) to run anyway", ""},
		{"policy unknown allowed", redisFacts{Version: "7.0.0", PolicyErr: errorString("nope")}, true, "",
			"cannot read the maxmemory-policy of the Redis at redis://h:6379 (nope); redis.allow_eviction is true, so the daemon runs anyway"},
		{"6.2", redisFacts{Version: "6.2.14", Policy: "noeviction"}, false,
			"the Redis at redis://h:6379 is version 6.2.14: dueq needs Redis 7.0 or newer: upgrade Redis", ""},
		{"6.2 even when eviction is allowed", redisFacts{Version: "6.2.14", Policy: "allkeys-lru"}, true,
			"the Redis at redis://h:6379 is version 6.2.14: dueq needs Redis 7.0 or newer: upgrade Redis", ""},
		{"no version", redisFacts{Policy: "noeviction"}, false,
			"the Redis at redis://h:6379 does not report its version (INFO server has no redis_version): dueq needs Redis 7.0 or newer", ""},
		{"odd version", redisFacts{Version: "seven", Policy: "noeviction"}, false,
			`the Redis at redis://h:6379 reports the version "seven", which dueq cannot read: dueq needs Redis 7.0 or newer`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			warn, err := c.facts.verdict(at, c.allow)
			if c.err == "" {
				require.NoError(t, err)
			} else {
				require.EqualError(t, err, c.err)
			}
			if c.warn == "" {
				require.Empty(t, warn)
			} else {
				require.Contains(t, warn, c.warn)
			}
		})
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

func TestInfoFieldAndVersion(t *testing.T) {
	t.Parallel()
	info := "# Server\r\nredis_version:7.2.4\r\nredis_git_sha1:00000000\r\n\r\n# Memory\r\nmaxmemory_policy:allkeys-lru\r\nmaxmemory_policy_x:no\r\n"
	require.Equal(t, "7.2.4", infoField(info, "redis_version"))
	require.Equal(t, "allkeys-lru", infoField(info, "maxmemory_policy"))
	require.Empty(t, infoField(info, "maxmemory"))
	require.Empty(t, infoField("", "redis_version"))

	for s, want := range map[string][2]int{"7.0.15": {7, 0}, "7.2": {7, 2}, "255.255.255": {255, 255}, "10.1.0-rc1": {10, 1}} {
		v, ok := parseVersion(s)
		require.True(t, ok, s)
		require.Equal(t, want, v, s)
	}
	for _, s := range []string{"", "7", "x.y", "-1.0", "7.x"} {
		_, ok := parseVersion(s)
		require.False(t, ok, s)
	}
}

// checkRedis reads a real Redis's version and policy from INFO.
func TestCheckRealRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := func(addr string) *redis.Client {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { _ = rdb.Close() })
		return rdb
	}
	evicting := client(testutil.RedisServer(t, "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"))
	facts, err := readRedisFacts(ctx, evicting)
	require.NoError(t, err)
	require.Equal(t, "allkeys-lru", facts.Policy)
	require.NotEmpty(t, facts.Version)
	_, err = checkRedis(ctx, evicting, "redis://e", false)
	require.ErrorContains(t, err, "the Redis at redis://e evicts keys when full (maxmemory-policy allkeys-lru): dueq would lose tasks: "+evictFix)
	warn, err := checkRedis(ctx, evicting, "redis://e", true)
	require.NoError(t, err)
	require.Contains(t, warn, "maxmemory-policy allkeys-lru")

	warn, err = checkRedis(ctx, client(testutil.RedisServer(t)), "redis://ok", false)
	require.NoError(t, err, "the default policy is noeviction")
	require.Empty(t, warn)
}

// Without maxmemory_policy in INFO memory, checkRedis asks CONFIG GET; with
// neither, it cannot tell and refuses unless eviction is allowed.
func TestCheckFallsBackToConfigGet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := func(version, policy string) *redis.Client {
		mr := miniredis.RunT(t)
		mr.Server().SetPreHook(func(c *server.Peer, cmd string, args ...string) bool {
			switch {
			case cmd == "INFO" && len(args) == 1 && args[0] == "server":
				c.WriteBulk("# Server\r\nredis_version:" + version + "\r\n")
			case cmd == "CONFIG" && policy != "":
				c.WriteMapLen(1)
				c.WriteBulk("maxmemory-policy")
				c.WriteBulk(policy)
			default:
				return false // INFO memory: miniredis has no such section; CONFIG: unknown
			}
			return true
		})
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		return rdb
	}
	_, err := checkRedis(ctx, fake("7.4.0", "volatile-lru"), "redis://f", false)
	require.ErrorContains(t, err, "(maxmemory-policy volatile-lru): dueq would lose tasks")
	warn, err := checkRedis(ctx, fake("7.4.0", "noeviction"), "redis://f", false)
	require.NoError(t, err)
	require.Empty(t, warn)

	_, err = checkRedis(ctx, fake("7.4.0", ""), "redis://f", false)
	require.ErrorContains(t, err, "cannot read the maxmemory-policy of the Redis at redis://f (INFO memory: ")
	require.ErrorContains(t, err, "CONFIG GET maxmemory-policy: ERR unknown command")
	warn, err = checkRedis(ctx, fake("7.4.0", ""), "redis://f", true)
	require.NoError(t, err)
	require.Contains(t, warn, "cannot read the maxmemory-policy")

	_, err = checkRedis(ctx, fake("6.0.9", "noeviction"), "redis://f", true)
	require.ErrorContains(t, err, "the Redis at redis://f is version 6.0.9: dueq needs Redis 7.0 or newer: upgrade Redis")

	plain := miniredis.RunT(t) // answers no INFO server
	rdb := redis.NewClient(&redis.Options{Addr: plain.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	_, err = checkRedis(ctx, rdb, "redis://m", true)
	require.ErrorContains(t, err, "read the version of the Redis at redis://m: INFO server: ")
	require.ErrorContains(t, err, "dueq needs Redis 7.0 or newer")
}

// Daemons may join an embedded Redis by its address: it passes the check.
func TestEmbeddedPassesCheck(t *testing.T) {
	t.Parallel()
	m := embedded(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	warn, err := checkRedis(context.Background(), rdb, "redis://"+m.Addr(), false)
	require.NoError(t, err)
	require.Empty(t, warn)
	info, err := rdb.Info(context.Background(), "clients").Result()
	require.NoError(t, err, "other sections are miniredis's own")
	require.Contains(t, info, "connected_clients")
}

// StartDaemon refuses an evicting Redis, naming the fix and never the
// password, and starts on it with a warning when eviction is allowed.
func TestDaemonRefusesEvictingRedis(t *testing.T) {
	t.Parallel()
	addr := testutil.RedisServer(t, "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru", "--requirepass", "hunter2")
	cfg := testConfig()
	cfg.Redis.URL = "redis://:hunter2@" + addr + "/0"
	_, err := StartDaemon(context.Background(), cfg, Registry(cfg), slog.New(slog.DiscardHandler))
	require.EqualError(t, err, "the Redis at redis://:xxxxx@"+addr+"/0 evicts keys when full (maxmemory-policy allkeys-lru): dueq would lose tasks: "+evictFix)

	cfg.Redis.AllowEviction = true
	logs := &testutil.SyncBuffer{}
	d, err := StartDaemon(context.Background(), cfg, Registry(cfg), slog.New(slog.NewJSONHandler(logs, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Stop(context.Background()) })
	require.Contains(t, logs.String(), `"level":"WARN","msg":"the Redis at redis://:xxxxx@`+addr+`/0 evicts keys when full (maxmemory-policy allkeys-lru): tasks may be lost; redis.allow_eviction is true`)
	require.False(t, strings.Contains(logs.String(), "hunter2"), logs.String())
}
