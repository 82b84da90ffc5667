package client

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// merged reads several sorted sets (one per partition) as one, in score
// order (highest first with rev), members of equal score in set order:
// each set is read a chunk at a time, as far as the merge has reached.
type merged struct {
	rdb   redis.UniversalClient
	rev   bool
	chunk int64
	sets  []*mergedSet
}

// mergedSet is one set of a merge: its key, what was read of it and not
// yet taken, and where the next read starts.
type mergedSet struct {
	key   string
	buf   []redis.Z
	start int64
	done  bool // read to its end
}

func newMerged(rdb redis.UniversalClient, keys []string, rev bool, chunk int) *merged {
	m := &merged{rdb: rdb, rev: rev, chunk: int64(chunk)}
	for _, k := range keys {
		m.sets = append(m.sets, &mergedSet{key: k})
	}
	return m
}

// next returns up to n more members, in order; fewer only at the end.
func (m *merged) next(ctx context.Context, n int) ([]string, error) {
	var out []string
	for len(out) < n {
		if err := m.fill(ctx); err != nil {
			return nil, err
		}
		var best *mergedSet
		for _, s := range m.sets {
			if len(s.buf) == 0 {
				continue
			}
			if best == nil || (m.rev && s.buf[0].Score > best.buf[0].Score) || (!m.rev && s.buf[0].Score < best.buf[0].Score) {
				best = s
			}
		}
		if best == nil {
			return out, nil
		}
		id, _ := best.buf[0].Member.(string)
		best.buf = best.buf[1:]
		out = append(out, id)
	}
	return out, nil
}

// fill reads the next chunk of every set whose buffer is empty and which
// has more, in one round trip.
func (m *merged) fill(ctx context.Context) error {
	var todo []*mergedSet
	for _, s := range m.sets {
		if len(s.buf) == 0 && !s.done {
			todo = append(todo, s)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	pipe := m.rdb.Pipeline()
	cmds := make([]*redis.ZSliceCmd, len(todo))
	for i, s := range todo {
		stop := s.start + m.chunk - 1
		if m.rev {
			cmds[i] = pipe.ZRevRangeWithScores(ctx, s.key, s.start, stop)
		} else {
			cmds[i] = pipe.ZRangeWithScores(ctx, s.key, s.start, stop)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("read %s: %w", todo[0].key, err)
	}
	for i, s := range todo {
		s.buf = cmds[i].Val()
		s.start += m.chunk
		s.done = int64(len(s.buf)) < m.chunk
	}
	return nil
}
