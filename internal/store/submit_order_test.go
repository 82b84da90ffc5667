package store

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

// slowConn is a connection to Redis over a slow link: what it writes
// arrives a piece at a time, so Redis runs the first calls of a long
// pipeline while the rest is still on its way.
type slowConn struct{ net.Conn }

func (c slowConn) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		piece := b[:min(len(b), 2048)]
		m, err := c.Conn.Write(piece)
		n += m
		if err != nil {
			return n, err
		}
		b = b[len(piece):]
		time.Sleep(time.Millisecond)
	}
	return n, nil
}

// A bulk submit's round trip whose tasks depend on each other (here: two
// tasks of one key, in different calls of the trip) runs its calls in
// order even when Redis has not loaded the script yet: a trip sent
// alongside it that loads the script while the first trip's calls are
// still arriving would let its later calls run before its earlier ones are
// sent again, and the later task would take the key.
func TestABulkSubmitRunsTheCallsOfADependentTripInOrder(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		return slowConn{c}, err
	}})
	t.Cleanup(func() { _ = rdb.Close() })
	keys, err := NewKeys("dueq")
	require.NoError(t, err)
	st := New(rdb, keys, time.Hour, systemClock{})

	ts := make([]*tasks.Task, submitPerChunk+1) // two trips, the second of one task
	for i := range ts {
		ts[i] = newTask("default")
	}
	// The second trip's task is large, so that trip gets its NOSCRIPT and
	// loads the script while the first trip's calls are arriving.
	ts[submitPerChunk].Args = json.RawMessage(`"` + strings.Repeat("x", 64<<10) + `"`)
	first, second := ts[50], ts[submitPerChunk-50]
	first.Key, second.Key = "nightly", "nightly"
	out, err := st.Submit(context.Background(), SubmitParams{Tasks: ts, NewQueue: func(*tasks.Task) bool { return true }})
	require.NoError(t, err)
	require.True(t, out[50].Created, "the first task of the key")
	require.False(t, out[submitPerChunk-50].Created)
	require.Equal(t, first.ID, out[submitPerChunk-50].ID, "the later task of the key gets the first")
}
