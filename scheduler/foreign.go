package scheduler

import "github.com/dueq/dueq/internal/store"

// foreign is, per lane, the due tasks a daemon knows it cannot run: it
// does not have their handler. They are left due for a daemon that has it
// (claim.lua refuses them to this one), kept out of this daemon's heads so
// it neither waits for them nor claims them again, and looked past: its
// reads of the index reach that many entries further, so the tasks behind
// them are not held up.
type foreign map[lane]map[string]bool

// maxForeign bounds the due tasks per lane a daemon looks past. Past that
// many, it claims from the queue only at its safety wakes (or when told of
// a new head), once each: it does not spin on tasks it cannot run.
const maxForeign = 1000

// filter is hs without lane l's foreign tasks.
func (f foreign) filter(l lane, hs []store.Head) []store.Head {
	ids := f[l]
	if len(ids) == 0 {
		return hs
	}
	out := hs[:0:0]
	for _, h := range hs {
		if !ids[h.ID] {
			out = append(out, h)
		}
	}
	return out
}

// learn records ids as foreign in lane l, up to maxForeign; it reports
// whether any was new, and whether any did not fit.
func (f foreign) learn(l lane, ids []string) (added, full bool) {
	if len(ids) == 0 {
		return false, false
	}
	known := f[l]
	if known == nil {
		known = map[string]bool{}
		f[l] = known
	}
	for _, id := range ids {
		switch {
		case known[id]:
		case len(known) < maxForeign:
			known[id] = true
			added = true
		default:
			full = true
		}
	}
	return added, full
}

// prune forgets the foreign tasks of lane l missing from hs, a read that
// reached past all of them: they have left the index.
func (f foreign) prune(l lane, hs []store.Head) {
	known := f[l]
	if len(known) == 0 {
		return
	}
	seen := make(map[string]bool, len(hs))
	for _, h := range hs {
		seen[h.ID] = true
	}
	for id := range known {
		if !seen[id] {
			delete(known, id)
		}
	}
}
