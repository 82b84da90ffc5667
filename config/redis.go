package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ErrEmbedded is returned by RedisConn when redis.url is empty: the daemon
// then runs an embedded Redis.
var ErrEmbedded = errors.New("redis.url is empty: the daemon uses an embedded Redis")

// RedisKind is the kind of Redis deployment a redis.url names.
type RedisKind int

// The kinds of Redis deployment.
const (
	// RedisSingle is one server: redis:// or rediss://.
	RedisSingle RedisKind = iota
	// RedisCluster is a Redis Cluster, reached through seed nodes:
	// redis-cluster:// or rediss-cluster://.
	RedisCluster
	// RedisSentinel is a primary and its replicas watched by Sentinel,
	// reached through the sentinels: redis-sentinel:// or rediss-sentinel://.
	RedisSentinel
)

func (k RedisKind) String() string {
	switch k {
	case RedisCluster:
		return "cluster"
	case RedisSentinel:
		return "sentinel"
	}
	return "single"
}

// RedisConn is a parsed redis.url: the kind of deployment and the go-redis
// options of the one that applies.
type RedisConn struct {
	Kind     RedisKind
	Single   *redis.Options         // RedisSingle
	Cluster  *redis.ClusterOptions  // RedisCluster
	Sentinel *redis.FailoverOptions // RedisSentinel
}

// NewClient returns a client of the deployment: a *redis.Client for one
// server or a Sentinel-watched primary (which follows failovers), a
// *redis.ClusterClient for a cluster.
func (c RedisConn) NewClient() redis.UniversalClient {
	switch c.Kind {
	case RedisCluster:
		return redis.NewClusterClient(c.Cluster)
	case RedisSentinel:
		return redis.NewFailoverClient(c.Sentinel)
	}
	return redis.NewClient(c.Single)
}

// Addrs lists the addresses the URL names: the server, the seed nodes or
// the sentinels ("host:port"; none for a unix socket).
func (c RedisConn) Addrs() []string {
	switch c.Kind {
	case RedisCluster:
		return c.Cluster.Addrs
	case RedisSentinel:
		return c.Sentinel.SentinelAddrs
	}
	if c.Single.Network == "unix" {
		return nil
	}
	return []string{c.Single.Addr}
}

const urlForms = "write redis://[user:password@]host:port[/db] (rediss:// for TLS), " +
	"redis-cluster://[user:password@]host:port[,host:port...] for a Redis Cluster, or " +
	"redis-sentinel://[user:password@]host:port[,host:port...]/MASTER[?db=N] for Sentinel " +
	"(rediss-cluster://, rediss-sentinel:// for TLS)"

// RedisConn parses c.Redis.URL:
//
//	redis://[user:password@]host:port[/db]     one server (rediss:// for TLS)
//	redis-cluster://[user:password@]host:port[,host:port...]
//	                                           a Redis Cluster, by any of its nodes
//	redis-sentinel://[user:password@]host:port[,host:port...]/MASTER[?db=N]
//	                                           the primary Sentinel names MASTER
//
// rediss-cluster:// and rediss-sentinel:// use TLS. The user and password
// are the data nodes' (a cluster's nodes, or Sentinel's primary and
// replicas); sentinels that require their own give them as the query
// parameters sentinel_username and sentinel_password. go-redis's other
// query parameters (dial_timeout, pool_size, ...) are accepted. With
// several hosts and TLS, each connection verifies the certificate of the
// host it dials. Its errors never contain the password: they show the URL
// with RedactURL.
func (c *Config) RedisConn() (RedisConn, error) {
	raw := c.Redis.URL
	if raw == "" {
		return RedisConn{}, ErrEmbedded
	}
	safe := RedactURL(raw)
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return RedisConn{}, fmt.Errorf("redis.url: %q has no scheme: %s", safe, urlForms)
	}
	switch strings.ToLower(scheme) {
	case "redis", "rediss", "unix":
		return singleConn(raw, safe)
	case "redis-cluster", "rediss-cluster":
		return clusterConn(strings.TrimSuffix(strings.ToLower(scheme), "-cluster"), rest, safe)
	case "redis-sentinel", "rediss-sentinel":
		return sentinelConn(strings.TrimSuffix(strings.ToLower(scheme), "-sentinel"), rest, safe)
	}
	return RedisConn{}, fmt.Errorf("redis.url: %q: unknown scheme %q: %s", safe, scheme, urlForms)
}

// singleConn parses a redis://, rediss:// or unix:// URL.
func singleConn(raw, safe string) (RedisConn, error) {
	opts, err := redis.ParseURL(raw)
	if err != nil {
		return RedisConn{}, describe(err, safe)
	}
	return RedisConn{Kind: RedisSingle, Single: opts}, nil
}

// describe turns a go-redis error on a URL into one about redis.url that
// cannot hold the password: it parses the redacted URL to describe it,
// so no part of the password can reach the message, not even quoted or
// escaped.
func describe(err error, safe string) error {
	if _, rerr := redis.ParseURL(safe); rerr != nil {
		msg := strings.TrimPrefix(rerr.Error(), "redis: ")
		return fmt.Errorf("redis.url: %q: %s: %s", safe, msg, urlForms)
	}
	return fmt.Errorf("redis.url: %q: the user or password is malformed: percent-encode special characters (@ as %%40, : as %%3A, / as %%2F)", safe)
}

// multiHost is a URL with several hosts, taken apart: what go-redis's
// url.Parse cannot read ("h1:1,h2:2").
type multiHost struct {
	userinfo string // as written, "" for none
	hosts    []string
	path     string // without the leading slash
	query    url.Values
}

// splitMultiHost takes apart what follows the scheme of a cluster or
// sentinel URL.
func splitMultiHost(rest, safe string) (multiHost, error) {
	var m multiHost
	rest, rawQuery, _ := strings.Cut(rest, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return m, fmt.Errorf("redis.url: %q: the query is malformed (%v): %s", safe, err, urlForms)
	}
	m.query = q
	hostPart, path, _ := strings.Cut(rest, "/")
	if at := strings.LastIndex(hostPart, "@"); at >= 0 {
		m.userinfo, hostPart = hostPart[:at], hostPart[at+1:]
		if _, err := url.Parse("redis://" + m.userinfo + "@h"); err != nil {
			return m, fmt.Errorf("redis.url: %q: the user or password is malformed: percent-encode special characters (@ as %%40, : as %%3A, / as %%2F, , as %%2C)", safe)
		}
	}
	m.path = path
	for _, h := range strings.Split(hostPart, ",") {
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" || port == "" {
			return m, fmt.Errorf("redis.url: %q: %q is not host:port: name each node as host:port, separated by commas: %s", safe, h, urlForms)
		}
		m.hosts = append(m.hosts, net.JoinHostPort(host, port))
	}
	return m, nil
}

// base is the one-host redis:// or rediss:// URL go-redis parses for m,
// with the other hosts as addr parameters and without user and password.
func (m multiHost) base(scheme, path string) string {
	q := url.Values{}
	for k, v := range m.query {
		q[k] = v
	}
	for _, h := range m.hosts[1:] {
		q.Add("addr", h)
	}
	u := scheme + "://" + m.hosts[0] + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// credentials returns the user and password of m.
func (m multiHost) credentials() (user, password string) {
	if m.userinfo == "" {
		return "", ""
	}
	u, _ := url.Parse("redis://" + m.userinfo + "@h") // checked by splitMultiHost
	p, _ := u.User.Password()
	return u.User.Username(), p
}

// clusterConn parses what follows redis-cluster:// (scheme is redis or
// rediss).
func clusterConn(scheme, rest, safe string) (RedisConn, error) {
	m, err := splitMultiHost(rest, safe)
	if err != nil {
		return RedisConn{}, err
	}
	if m.path != "" {
		return RedisConn{}, fmt.Errorf("redis.url: %q: a Redis Cluster has one database: remove /%s", safe, m.path)
	}
	opts, err := redis.ParseClusterURL(m.base(scheme, ""))
	if err != nil {
		return RedisConn{}, fmt.Errorf("redis.url: %q: %s: %s", safe, strings.TrimPrefix(err.Error(), "redis: "), urlForms)
	}
	opts.Username, opts.Password = m.credentials()
	if opts.TLSConfig != nil {
		opts.TLSConfig.ServerName = "" // each node's own name
	}
	return RedisConn{Kind: RedisCluster, Cluster: opts}, nil
}

// sentinelConn parses what follows redis-sentinel:// (scheme is redis or
// rediss).
func sentinelConn(scheme, rest, safe string) (RedisConn, error) {
	m, err := splitMultiHost(rest, safe)
	if err != nil {
		return RedisConn{}, err
	}
	if m.path == "" || strings.Contains(m.path, "/") {
		return RedisConn{}, fmt.Errorf("redis.url: %q: name the primary as Sentinel knows it, after the hosts: redis-sentinel://host:port,.../MASTER (the db, if not 0, as ?db=N)", safe)
	}
	master, err := url.PathUnescape(m.path)
	if err != nil || master == "" {
		return RedisConn{}, fmt.Errorf("redis.url: %q: the primary's name %q is malformed: percent-encode it", safe, m.path)
	}
	for _, k := range []string{"master_name", "username", "password"} {
		if m.query.Has(k) {
			return RedisConn{}, fmt.Errorf("redis.url: %q: %s is not a parameter here: the user and password go before the hosts, the primary's name after them", safe, k)
		}
	}
	sentinelUser, sentinelPassword := m.query.Get("sentinel_username"), m.query.Get("sentinel_password")
	m.query.Del("sentinel_username")
	m.query.Del("sentinel_password")
	m.query.Set("master_name", master)
	opts, err := redis.ParseFailoverURL(m.base(scheme, ""))
	if err != nil {
		return RedisConn{}, fmt.Errorf("redis.url: %q: %s: %s", safe, strings.TrimPrefix(err.Error(), "redis: "), urlForms)
	}
	opts.Username, opts.Password = m.credentials()
	opts.SentinelUsername, opts.SentinelPassword = sentinelUser, sentinelPassword
	if opts.TLSConfig != nil {
		opts.TLSConfig.ServerName = ""
	}
	return RedisConn{Kind: RedisSentinel, Sentinel: opts}, nil
}

// RedactURL returns raw with the password (and a lone user name, which
// old-style URLs use as the password) replaced by "xxxxx", for messages and
// logs, and the sentinel_password parameter's value as well. A URL without
// credentials comes back unchanged.
func RedactURL(raw string) string {
	scheme, rest := "", raw
	if i := strings.Index(raw, "://"); i >= 0 {
		scheme, rest = raw[:i+3], raw[i+3:]
	}
	rest = redactParam(rest, "sentinel_password")
	at := strings.LastIndex(rest, "@")
	if q := strings.Index(rest, "?"); q >= 0 && at > q {
		at = strings.LastIndex(rest[:q], "@") // an @ in the query is not the userinfo's
	}
	if at < 0 {
		return scheme + rest
	}
	user := rest[:at]
	if colon := strings.Index(user, ":"); colon >= 0 {
		user = user[:colon+1] + "xxxxx"
	} else {
		user = "xxxxx"
	}
	return scheme + user + rest[at:]
}

// redactParam replaces the value of query parameter name in s.
func redactParam(s, name string) string {
	q := strings.Index(s, "?")
	if q < 0 {
		return s
	}
	parts := strings.Split(s[q+1:], "&")
	for i, p := range parts {
		if k, _, ok := strings.Cut(p, "="); ok && k == name {
			parts[i] = k + "=xxxxx"
		}
	}
	return s[:q+1] + strings.Join(parts, "&")
}
