package cli

import (
	"fmt"

	"github.com/alicebob/miniredis/v2"
)

// EmbeddedAddr is where the embedded Redis listens: a free loopback port.
const EmbeddedAddr = "127.0.0.1:0"

// StartEmbedded starts an in-memory Redis (miniredis) on addr, for a daemon
// with no redis.url. Its TTLs run on the real clock, so finished records
// expire after result_ttl as with a real Redis. Its state is lost when the
// process exits; other daemons may share it by its address while it runs.
// Close it when done.
func StartEmbedded(addr string) (*miniredis.Miniredis, error) {
	m := miniredis.NewMiniRedis()
	m.ClockTTL(true)
	if err := m.StartAddr(addr); err != nil {
		return nil, fmt.Errorf("start the embedded Redis on %s: %w: set redis.url (--redis) to use another Redis", addr, err)
	}
	return m, nil
}
