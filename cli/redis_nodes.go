package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/config"
)

// checkNodes runs checkRedis on every server of the deployment rdb talks
// to, since any of them may hold the fleet's tasks: the one server; every
// primary and replica of a cluster (a replica becomes a primary when its
// primary fails); Sentinel's primary and every replica it knows. It
// returns the warnings to log (with allowEviction) and the addresses of
// the servers it checked, which the http handler never reaches. name is
// the URL without its password, for messages.
func checkNodes(ctx context.Context, rdb redis.UniversalClient, conn config.RedisConn, name string, allowEviction bool) (warnings, addrs []string, err error) {
	switch conn.Kind {
	case config.RedisCluster:
		nodes, err := clusterNodes(ctx, rdb, conn.Cluster)
		if err != nil {
			return nil, nil, fmt.Errorf("list the nodes of the Redis Cluster at %s: %w", name, err)
		}
		return checkEach(ctx, nodes, allowEviction, func(i int, addr string) (*redis.Options, string) {
			return clusterNodeOptions(conn.Cluster, addr), "cluster node " + addr + " of " + name
		})
	case config.RedisSentinel:
		nodes, err := sentinelNodes(ctx, conn.Sentinel)
		if err != nil {
			return nil, nil, fmt.Errorf("ask Sentinel at %s for the primary %q and its replicas: %w", name, conn.Sentinel.MasterName, err)
		}
		return checkEach(ctx, nodes, allowEviction, func(i int, addr string) (*redis.Options, string) {
			role := "replica"
			if i == 0 {
				role = "primary"
			}
			return sentinelDataOptions(conn.Sentinel, addr), fmt.Sprintf("%s %s (Sentinel's %q) of %s", role, addr, conn.Sentinel.MasterName, name)
		})
	}
	w, err := checkRedis(ctx, rdb, name, allowEviction)
	if w != "" {
		warnings = append(warnings, w)
	}
	return warnings, nil, err
}

// checkEach runs checkRedis on the server at each of addrs, reached with
// the options and named as server says, and returns every warning, the
// addresses, and every error.
func checkEach(ctx context.Context, addrs []string, allowEviction bool, server func(i int, addr string) (*redis.Options, string)) (warnings, checked []string, err error) {
	var errs []error
	for i, addr := range addrs {
		opts, label := server(i, addr)
		c := redis.NewClient(opts)
		w, err := checkRedis(ctx, c, label, allowEviction)
		_ = c.Close()
		checked = append(checked, addr)
		if w != "" {
			warnings = append(warnings, w)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return warnings, checked, errors.Join(errs...)
}

// clusterNodes lists the address of every node of the cluster rdb talks
// to that is not known to have failed, primaries and replicas, from
// CLUSTER SHARDS: go-redis's own view (CLUSTER SLOTS) leaves out a replica
// until its primary has sent it a first write, which on a new or idle
// cluster can take a while.
func clusterNodes(ctx context.Context, rdb redis.UniversalClient, o *redis.ClusterOptions) ([]string, error) {
	shards, err := rdb.ClusterShards(ctx).Result()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, sh := range shards {
		for _, n := range sh.Nodes {
			if n.Health == "fail" {
				continue // down now; checked by the daemon that starts once it is back
			}
			host := n.IP
			if host == "" || host == "?" {
				host = n.Endpoint
			}
			port := n.Port
			if o.TLSConfig != nil && n.TLSPort != 0 {
				port = n.TLSPort
			}
			out = append(out, net.JoinHostPort(host, strconv.FormatInt(port, 10)))
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// clusterNodeOptions are the options of a client of the one cluster node
// at addr, with the cluster's credentials and TLS.
func clusterNodeOptions(o *redis.ClusterOptions, addr string) *redis.Options {
	return &redis.Options{Addr: addr, Username: o.Username, Password: o.Password, TLSConfig: o.TLSConfig,
		DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout}
}

// sentinelNodes asks the sentinels of o, in turn until one answers, for
// the address of the primary named o.MasterName and those of its replicas
// that Sentinel sees up; the primary's comes first.
func sentinelNodes(ctx context.Context, o *redis.FailoverOptions) ([]string, error) {
	var errs []error
	for _, s := range o.SentinelAddrs {
		sc := redis.NewSentinelClient(&redis.Options{Addr: s, Username: o.SentinelUsername, Password: o.SentinelPassword,
			TLSConfig: o.TLSConfig, DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout})
		nodes, err := askSentinel(ctx, sc, o.MasterName)
		_ = sc.Close()
		if err == nil {
			return nodes, nil
		}
		errs = append(errs, fmt.Errorf("sentinel %s: %w", s, err))
	}
	return nil, errors.Join(errs...)
}

func askSentinel(ctx context.Context, sc *redis.SentinelClient, master string) ([]string, error) {
	m, err := sc.GetMasterAddrByName(ctx, master).Result()
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("it watches no primary named %q: fix the name after the hosts in redis.url", master)
		}
		return nil, err
	}
	if len(m) != 2 {
		return nil, fmt.Errorf("it answered the primary's address as %q", m)
	}
	nodes := []string{net.JoinHostPort(m[0], m[1])}
	replicas, err := sc.Replicas(ctx, master).Result()
	if err != nil {
		return nil, err
	}
	for _, r := range replicas {
		if strings.Contains(r["flags"], "down") || strings.Contains(r["flags"], "disconnected") {
			continue // not reachable now; checked by the daemon that starts when it is
		}
		nodes = append(nodes, net.JoinHostPort(r["ip"], r["port"]))
	}
	return nodes, nil
}

// sentinelDataOptions are the options of a client of one data node at
// addr of the Sentinel deployment o.
func sentinelDataOptions(o *redis.FailoverOptions, addr string) *redis.Options {
	return &redis.Options{Addr: addr, Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLSConfig,
		DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout}
}
