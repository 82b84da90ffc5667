package api

import (
	"context"
	"sync"
	"time"

	"github.com/dueq/dueq/wire"
)

// daemonCacheTTL is how long the Server keeps the live daemons it read:
// the handler check of a submit costs no round trip to Redis
// but the first in each such period, and a daemon that starts or stops is
// noticed within it.
const daemonCacheTTL = time.Second

// daemonCache holds the live daemons (client.Client.Daemons) for
// daemonCacheTTL. Concurrent readers of an expired cache wait for one read.
type daemonCache struct {
	read func(context.Context) ([]wire.Daemon, error)
	now  func() time.Time

	mu sync.Mutex
	at time.Time // when ds was read; zero: never
	ds []wire.Daemon
}

// get returns the live daemons as read at most daemonCacheTTL ago. A failed
// read is returned and not kept.
func (c *daemonCache) get(ctx context.Context) ([]wire.Daemon, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if !c.at.IsZero() && now.Sub(c.at) < daemonCacheTTL {
		return c.ds, nil
	}
	ds, err := c.read(ctx)
	if err != nil {
		return nil, err
	}
	c.ds, c.at = ds, now
	return ds, nil
}
