package scheduler

import (
	"sort"

	"github.com/dueq/dueq/internal/store"
)

// lane is one queue of one partition: the unit a daemon waits on and
// claims from, each with its own timing index and lease set.
type lane struct {
	part  int
	queue string
}

// less orders lanes for ties: by queue, then partition.
func (l lane) less(o lane) bool {
	if l.queue != o.queue {
		return l.queue < o.queue
	}
	return l.part < o.part
}

// heads is what a daemon knows of the front of each lane's timing index:
// the first entries, in due order. It is refreshed by every claim, finish and
// re-read, and by announcements; it may be stale (a head another daemon
// claimed), which a claim corrects, but never misses an earlier task unless a
// message was lost, which the safety wait bounds.
type heads map[lane][]store.Head

// set replaces a lane's entries with a fresh read.
func (h heads) set(l lane, hs []store.Head) { h[l] = hs }

// add merges announced entries into a lane's, keeping due order and at most
// limit entries. An announcement is newer than what was known of its task
// (a task canceled and retried, or re-queued, is due at another time now),
// so its due time replaces the one known.
func (h heads) add(l lane, announced []store.Head, limit int) {
	cur := h[l]
	for _, a := range announced {
		known := false
		for i, c := range cur {
			if c.ID == a.ID {
				cur[i].Due, known = a.Due, true
				break
			}
		}
		if !known {
			cur = append(cur, a)
		}
	}
	sort.SliceStable(cur, func(i, j int) bool {
		if cur[i].Due != cur[j].Due {
			return cur[i].Due < cur[j].Due
		}
		return cur[i].ID < cur[j].ID
	})
	if len(cur) > limit {
		cur = cur[:limit]
	}
	h[l] = cur
}

// earliest returns the lane whose head is due first and that head's due
// time (the partition's Redis time); ok is false when every lane is
// empty. Partitions on several servers may see clocks apart by a few ms:
// their due times are compared as they are.
func (h heads) earliest() (l lane, due int64, ok bool) {
	for k, hs := range h {
		if len(hs) == 0 {
			continue
		}
		if !ok || hs[0].Due < due || (hs[0].Due == due && k.less(l)) {
			l, due, ok = k, hs[0].Due, true
		}
	}
	return l, due, ok
}

// dueBy lists up to n ids of lane l due by now, in due order.
func (h heads) dueBy(l lane, now int64, n int) []string {
	var ids []string
	for _, e := range h[l] {
		if e.Due > now || len(ids) == n {
			break
		}
		ids = append(ids, e.ID)
	}
	return ids
}
