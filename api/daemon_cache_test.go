package api

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/wire"
)

func TestDaemonCacheReadsAtMostOncePerTTL(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	reads := 0
	var fail error
	c := &daemonCache{
		now: func() time.Time { return now },
		read: func(context.Context) ([]wire.Daemon, error) {
			reads++
			if fail != nil {
				return nil, fail
			}
			return []wire.Daemon{{ID: "d"}}, nil
		},
	}
	ctx := context.Background()
	for range 100 {
		ds, err := c.get(ctx)
		require.NoError(t, err)
		require.Len(t, ds, 1)
	}
	require.Equal(t, 1, reads, "submits within a TTL share one read")

	now = now.Add(daemonCacheTTL - time.Millisecond)
	_, err := c.get(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, reads)

	now = now.Add(time.Millisecond)
	fail = errors.New("redis down")
	_, err = c.get(ctx)
	require.ErrorIs(t, err, fail)
	_, err = c.get(ctx)
	require.ErrorIs(t, err, fail, "a failed read is not kept")
	require.Equal(t, 3, reads)

	fail = nil
	_, err = c.get(ctx)
	require.NoError(t, err)
	require.Equal(t, 4, reads)
}
