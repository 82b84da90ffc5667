package scheduler

import (
	"sort"

	"github.com/dueq/dueq/internal/store"
)

// heads is what a daemon knows of the front of each queue's timing index:
// the first entries, in due order. It is refreshed by every claim, finish and
// re-read, and by announcements; it may be stale (a head another daemon
// claimed), which a claim corrects, but never misses an earlier task unless a
// message was lost, which the safety wait bounds.
type heads map[string][]store.Head

// set replaces a queue's entries with a fresh read.
func (h heads) set(queue string, hs []store.Head) { h[queue] = hs }

// add merges announced entries into a queue's, keeping due order and at most
// limit entries. An announcement is newer than what was known of its task
// (a task canceled and retried, or re-queued, is due at another time now),
// so its due time replaces the one known.
func (h heads) add(queue string, announced []store.Head, limit int) {
	cur := h[queue]
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
	h[queue] = cur
}

// earliest returns the queue whose head is due first and that head's due
// time; ok is false when every queue is empty.
func (h heads) earliest() (queue string, due int64, ok bool) {
	for q, hs := range h {
		if len(hs) == 0 {
			continue
		}
		if !ok || hs[0].Due < due || (hs[0].Due == due && q < queue) {
			queue, due, ok = q, hs[0].Due, true
		}
	}
	return queue, due, ok
}

// dueBy lists up to n ids of queue due by now, in due order.
func (h heads) dueBy(queue string, now int64, n int) []string {
	var ids []string
	for _, e := range h[queue] {
		if e.Due > now || len(ids) == n {
			break
		}
		ids = append(ids, e.ID)
	}
	return ids
}
