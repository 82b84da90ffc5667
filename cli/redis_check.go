package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// MinRedisVersion is the oldest Redis a daemon starts on.
const MinRedisVersion = "7.0"

var minRedis = [2]int{7, 0}

// redisFacts is what a daemon checks of a Redis server before it starts.
type redisFacts struct {
	// Version is INFO server's redis_version, e.g. "7.2.4"; "" when the
	// server did not report one.
	Version string
	// Policy is the maxmemory-policy, e.g. "noeviction"; "" when it could
	// not be read, and then PolicyErr says why.
	Policy    string
	PolicyErr error
}

// checkRedis checks the one Redis server c talks to, named name (a URL
// without its password, or a cluster node's address) in messages: it must
// be Redis 7.0 or newer, and its maxmemory-policy must be noeviction, since
// an evicted key is a lost task. With allowEviction, a policy that may evict
// (or one that cannot be read) is a warning to log instead of an error.
// The error names what to fix.
//
// It is meant for every server the daemon writes to: with a Redis Cluster,
// call it on each primary (ClusterClient.ForEachMaster).
func checkRedis(ctx context.Context, c redis.Cmdable, name string, allowEviction bool) (warning string, err error) {
	facts, err := readRedisFacts(ctx, c)
	if err != nil {
		return "", fmt.Errorf("read the version of the Redis at %s: %w: dueq needs Redis %s or newer, and INFO (with ACLs: +info)", name, err, MinRedisVersion)
	}
	return facts.verdict(name, allowEviction)
}

// readRedisFacts reads the version (INFO server) and the maxmemory-policy
// (INFO memory, which managed Redis services allow, else CONFIG GET) of the
// server c talks to. Only a failing INFO server is an error.
func readRedisFacts(ctx context.Context, c redis.Cmdable) (redisFacts, error) {
	server, err := c.Info(ctx, "server").Result()
	if err != nil {
		return redisFacts{}, fmt.Errorf("INFO server: %w", err)
	}
	f := redisFacts{Version: infoField(server, "redis_version")}
	memory, err := c.Info(ctx, "memory").Result()
	if err == nil {
		f.Policy = infoField(memory, "maxmemory_policy")
	}
	if f.Policy == "" {
		got, cerr := c.ConfigGet(ctx, "maxmemory-policy").Result()
		f.Policy = got["maxmemory-policy"]
		switch {
		case cerr != nil && err != nil:
			f.PolicyErr = fmt.Errorf("INFO memory: %w; CONFIG GET maxmemory-policy: %w", err, cerr)
		case cerr != nil:
			f.PolicyErr = fmt.Errorf("INFO memory has no maxmemory_policy, and CONFIG GET maxmemory-policy: %w", cerr)
		case f.Policy == "":
			f.PolicyErr = errors.New("neither INFO memory nor CONFIG GET maxmemory-policy reports it")
		}
	}
	return f, nil
}

// verdict decides whether a daemon may start on the Redis f describes: an
// error says why not and what to do; a warning, with allowEviction, says
// what the daemon runs despite.
func (f redisFacts) verdict(name string, allowEviction bool) (warning string, err error) {
	v, ok := parseVersion(f.Version)
	switch {
	case f.Version == "":
		return "", fmt.Errorf("the Redis at %s does not report its version (INFO server has no redis_version): dueq needs Redis %s or newer", name, MinRedisVersion)
	case !ok:
		return "", fmt.Errorf("the Redis at %s reports the version %q, which dueq cannot read: dueq needs Redis %s or newer", name, f.Version, MinRedisVersion)
	case v[0] < minRedis[0] || v[0] == minRedis[0] && v[1] < minRedis[1]:
		return "", fmt.Errorf("the Redis at %s is version %s: dueq needs Redis %s or newer: upgrade Redis", name, f.Version, MinRedisVersion)
	}
	const allow = "set redis.allow_eviction: true (DUEQ_REDIS_ALLOW_EVICTION=true) to run anyway"
	switch {
	case f.Policy == "noeviction":
		return "", nil
	case f.Policy == "" && allowEviction:
		return fmt.Sprintf("cannot read the maxmemory-policy of the Redis at %s (%v); redis.allow_eviction is true, so the daemon runs anyway: make sure it is noeviction, or tasks may be lost when Redis is full", name, f.PolicyErr), nil
	case f.Policy == "":
		return "", fmt.Errorf("cannot read the maxmemory-policy of the Redis at %s (%v), so dueq cannot tell whether it evicts keys when full: make sure it is noeviction, then %s", name, f.PolicyErr, allow)
	case allowEviction:
		return fmt.Sprintf("the Redis at %s evicts keys when full (maxmemory-policy %s): tasks may be lost; redis.allow_eviction is true, so the daemon runs anyway: run CONFIG SET maxmemory-policy noeviction there to be safe", name, f.Policy), nil
	}
	return "", fmt.Errorf("the Redis at %s evicts keys when full (maxmemory-policy %s): dueq would lose tasks: run CONFIG SET maxmemory-policy noeviction there (and set it in redis.conf), or %s", name, f.Policy, allow)
}

// parseVersion reads the major and minor numbers of a Redis version such
// as "7.2.4" (Valkey reports a Redis-compatible redis_version too).
func parseVersion(s string) ([2]int, bool) {
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return [2]int{}, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || major < 0 || minor < 0 {
		return [2]int{}, false
	}
	return [2]int{major, minor}, true
}

// infoField returns the value of field in the text of an INFO answer
// ("# Section" headers and "field:value" lines), or "" when it is absent.
func infoField(info, field string) string {
	for line := range strings.Lines(info) {
		k, v, ok := strings.Cut(strings.TrimRight(line, "\r\n"), ":")
		if ok && k == field {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
