package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ErrEmbedded is returned by RedisOptions when redis.url is empty: the
// daemon then runs an embedded Redis.
var ErrEmbedded = errors.New("redis.url is empty: the daemon uses an embedded Redis")

// RedisOptions parses c.Redis.URL (redis://, rediss:// for TLS, with optional
// user, password and db) into go-redis options. Its errors never contain the
// password: they show the URL with RedactURL.
func (c *Config) RedisOptions() (*redis.Options, error) {
	raw := c.Redis.URL
	if raw == "" {
		return nil, ErrEmbedded
	}
	opts, err := redis.ParseURL(raw)
	if err == nil {
		return opts, nil
	}
	safe := RedactURL(raw)
	const how = "write redis://[user:password@]host:port[/db], or rediss://... for TLS"
	if !strings.Contains(raw, "://") {
		return nil, fmt.Errorf("redis.url: %q has no scheme: %s", safe, how)
	}
	// Describe the error by parsing the redacted URL, so no part of the
	// password can reach the message, not even quoted or escaped.
	if _, rerr := redis.ParseURL(safe); rerr != nil {
		msg := strings.TrimPrefix(rerr.Error(), "redis: ")
		return nil, fmt.Errorf("redis.url: %q: %s: %s", safe, msg, how)
	}
	return nil, fmt.Errorf("redis.url: %q: the user or password is malformed: percent-encode special characters (@ as %%40, : as %%3A, / as %%2F)", safe)
}

// RedactURL returns raw with the password (and a lone user name, which
// old-style URLs use as the password) replaced by "xxxxx", for messages and
// logs. A URL without credentials comes back unchanged.
func RedactURL(raw string) string {
	scheme, rest := "", raw
	if i := strings.Index(raw, "://"); i >= 0 {
		scheme, rest = raw[:i+3], raw[i+3:]
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return raw
	}
	user := rest[:at]
	if colon := strings.Index(user, ":"); colon >= 0 {
		user = user[:colon+1] + "xxxxx"
	} else {
		user = "xxxxx"
	}
	return scheme + user + rest[at:]
}
