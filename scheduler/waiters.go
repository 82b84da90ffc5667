package scheduler

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/transport"
)

// waiters shares one subscription to the events channel among all of a
// client's Wait calls. It subscribes on the first watch. A (re)subscribe
// wakes every watcher, since a message may have been lost before it.
type waiters struct {
	rdb     redis.UniversalClient
	channel string
	log     *slog.Logger

	mu     sync.Mutex
	sub    *subscriber
	byID   map[string]map[chan struct{}]struct{}
	closed bool
}

func newWaiters(rdb redis.UniversalClient, channel string, log *slog.Logger) *waiters {
	return &waiters{rdb: rdb, channel: channel, log: log, byID: map[string]map[chan struct{}]struct{}{}}
}

// watch returns a channel that receives when id may have finished, and a
// function that ends the watch.
func (w *waiters) watch(id string) (<-chan struct{}, func(), error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, nil, fmt.Errorf("wait for %s: the client is closed", id)
	}
	if w.sub == nil {
		w.sub = subscribe(w.rdb, []string{w.channel}, w.onMessage,
			func() { w.notify(func(string) bool { return true }) }, w.log)
	}
	ch := make(chan struct{}, 1)
	if w.byID[id] == nil {
		w.byID[id] = map[chan struct{}]struct{}{}
	}
	w.byID[id][ch] = struct{}{}
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.byID[id], ch)
		if len(w.byID[id]) == 0 {
			delete(w.byID, id)
		}
	}, nil
}

func (w *waiters) onMessage(_, payload string) {
	es, err := transport.ParseEvents(payload)
	if err != nil {
		w.log.Warn("ignoring malformed lines of an events message", "err", err)
	}
	done := make(map[string]bool, len(es))
	for _, e := range es {
		if e.Finished() {
			done[e.ID] = true
		}
	}
	w.notify(func(id string) bool { return done[id] })
}

func (w *waiters) notify(match func(id string) bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, chs := range w.byID {
		if !match(id) {
			continue
		}
		for ch := range chs {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

func (w *waiters) close() error {
	w.mu.Lock()
	sub := w.sub
	w.closed, w.sub = true, nil
	w.mu.Unlock()
	if sub != nil {
		sub.close()
	}
	return nil
}
