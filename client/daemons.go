package client

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// Daemons returns the live daemons, sorted by id, each with its info (nil
// when unknown; never an error for a bad record). It costs two round trips
// to Redis.
func (c *Client) Daemons(ctx context.Context) ([]wire.Daemon, error) {
	pipe := c.rdb.Pipeline()
	r, err := c.readDaemons(ctx, pipe)
	if err != nil {
		return nil, fmt.Errorf("read the daemon list: %w", err)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read the daemon list: %w", err)
	}
	pipe = c.rdb.Pipeline()
	if err := r.readInfo(ctx, pipe); err != nil {
		return nil, fmt.Errorf("read the daemon list: %w", err)
	}
	if r.info != nil {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("read the daemons' info: %w", err)
		}
	}
	return r.daemons(), nil
}

// daemonRead reads the live daemons in two pipelined steps, so Stats can
// share its round trips: readDaemons queues Redis's time and the daemon
// set, readInfo the info of the daemons alive by that time.
type daemonRead struct {
	keys   store.Keys
	window time.Duration // how recently a live daemon was seen
	now    *redis.Cmd    // Redis's time (store.QueueTime)
	set    *redis.ZSliceCmd
	live   []wire.Daemon
	info   *redis.SliceCmd // nil when no daemon is alive
}

// readDaemons queues the first step. The daemon set holds the daemons seen
// within the hour (the lease keepers trim it): few enough to read whole and
// filter by Redis's own time.
func (c *Client) readDaemons(ctx context.Context, pipe redis.Pipeliner) (*daemonRead, error) {
	home := c.stores.Home()
	now, err := home.QueueTime(ctx, pipe)
	if err != nil {
		return nil, err
	}
	return &daemonRead{keys: home.Keys(), window: 3 * c.cfg.SafetyWait,
		now: now, set: pipe.ZRangeWithScores(ctx, home.Keys().Daemons(), 0, -1)}, nil
}

// nowMs is Redis's time as the first step read it, ms.
func (r *daemonRead) nowMs() (int64, error) {
	us, err := store.RedisTime(r.now)
	return us / 1000, err
}

// readInfo picks the daemons alive by Redis's time and queues the read of
// their info. Call it once the step of readDaemons has run.
func (r *daemonRead) readInfo(ctx context.Context, pipe redis.Pipeliner) error {
	now, err := r.nowMs()
	if err != nil {
		return err
	}
	alive := now - r.window.Milliseconds()
	for _, z := range r.set.Val() {
		id, ok := z.Member.(string)
		if !ok || int64(z.Score) < alive {
			continue
		}
		r.live = append(r.live, wire.Daemon{ID: id, LastSeen: time.UnixMilli(int64(z.Score)).UTC()})
	}
	sort.Slice(r.live, func(i, j int) bool { return r.live[i].ID < r.live[j].ID })
	if len(r.live) == 0 {
		return nil
	}
	keys := make([]string, len(r.live))
	for i, d := range r.live {
		keys[i] = r.keys.Daemon(d.ID)
	}
	r.info = pipe.MGet(ctx, keys...)
	return nil
}

// daemons returns the live daemons with their info; call it once the step
// of readInfo has run.
func (r *daemonRead) daemons() []wire.Daemon {
	out := make([]wire.Daemon, len(r.live))
	copy(out, r.live)
	if r.info == nil {
		return out
	}
	vals := r.info.Val()
	for i := range out {
		if i < len(vals) {
			if s, ok := vals[i].(string); ok {
				out[i].Info = parseDaemonInfo(s)
			}
		}
	}
	return out
}

// parseDaemonInfo reads a daemon's info as keepalive.lua stored it, or
// returns nil when it cannot be read. Entries that cannot be queue or
// handler names are left out.
func parseDaemonInfo(s string) *wire.DaemonInfo {
	var info *wire.DaemonInfo
	if err := json.Unmarshal([]byte(s), &info); err != nil || info == nil {
		return nil
	}
	info.Queues = validOnly(info.Queues, tasks.ValidQueue)
	info.Handlers = validOnly(info.Handlers, tasks.ValidName)
	info.Workers = max(info.Workers, 0)
	return info
}

// validOnly returns the names ok accepts, sorted and never nil.
func validOnly(names []string, ok func(string) bool) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if ok(n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
