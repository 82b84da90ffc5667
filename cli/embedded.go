package cli

import (
	"fmt"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
)

// EmbeddedAddr is where the embedded Redis listens: a free loopback port.
const EmbeddedAddr = "127.0.0.1:0"

// StartEmbedded starts an in-memory Redis (miniredis) on addr, for a daemon
// with no redis.url. Its TTLs run on the real clock, so finished records
// expire after result_ttl as with a real Redis. Its state is lost when the
// process exits; other daemons may share it by its address while it runs
// (it answers the start check of checkRedis: see embeddedInfo). Close it
// when done.
func StartEmbedded(addr string) (*miniredis.Miniredis, error) {
	m := miniredis.NewMiniRedis()
	m.ClockTTL(true)
	if err := m.StartAddr(addr); err != nil {
		return nil, fmt.Errorf("start the embedded Redis on %s: %w: set redis.url (--redis) to use another Redis", addr, err)
	}
	m.Server().SetPreHook(embeddedInfo) // before anyone knows the address
	return m, nil
}

// embeddedInfo is a miniredis command hook that answers INFO server and
// INFO memory, which miniredis does not implement, so that a daemon joining
// an embedded Redis by its address passes checkRedis: miniredis implements
// the commands of Redis 7.0 (its CHANGELOG, v2.30) and never evicts a key.
// It answers at once, also inside MULTI; other commands go to miniredis.
func embeddedInfo(c *server.Peer, cmd string, args ...string) bool {
	if cmd != "INFO" || len(args) != 1 {
		return false
	}
	switch strings.ToLower(args[0]) {
	case "server":
		c.WriteBulk("# Server\r\nredis_version:7.0.0\r\nserver_name:miniredis\r\nredis_mode:standalone\r\n")
	case "memory":
		c.WriteBulk("# Memory\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\n")
	default:
		return false
	}
	return true
}
