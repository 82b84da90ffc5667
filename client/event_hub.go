package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/transport"
	"github.com/dueq/dueq/wire"
)

// eventBuffer is how many events a slow reader may fall behind before it
// misses some (and is sent a Resync once it catches up).
const eventBuffer = 1024

// Events streams the namespace's events until ctx ends, then closes the
// channel. The streams and waits of a client share its one subscription,
// opened by the first of them; Events returns once Redis has confirmed it
// (or after SafetyWait, if Redis is slow to: the stream then starts when
// it does), so that events after Events returns are not missed.
func (c *Client) Events(ctx context.Context) (<-chan wire.Event, error) {
	ch, ready, err := c.events.stream(ctx)
	if err != nil {
		return nil, err
	}
	t := time.NewTimer(c.cfg.SafetyWait)
	defer t.Stop()
	select {
	case <-ready:
	case <-t.C:
	case <-ctx.Done():
	}
	return ch, nil
}

// eventHub holds a client's one subscription to the events channel,
// opened at the first stream or watch, and hands each message to both: to
// the streams as events, and to the watches of the tasks it says finished.
// A (re)subscribe after the first sends the streams a Resync and wakes
// every watch, since a message may have been lost before it.
type eventHub struct {
	rdb      redis.UniversalClient
	channels []string
	log      *slog.Logger

	mu         sync.Mutex
	sub        *store.Subscriber
	subscribed bool          // the first subscribe happened: later ones are resyncs
	ready      chan struct{} // closed at the first subscribe
	streams    map[*eventStream]struct{}
	watches    map[string]map[chan struct{}]struct{} // by task id
	closed     bool
}

type eventStream struct {
	ch     chan wire.Event
	missed bool // events were dropped: send a Resync when there is room
}

func newEventHub(rdb redis.UniversalClient, channels []string, log *slog.Logger) *eventHub {
	return &eventHub{rdb: rdb, channels: channels, log: log, ready: make(chan struct{}),
		streams: map[*eventStream]struct{}{}, watches: map[string]map[chan struct{}]struct{}{}}
}

// subscribeLocked opens the subscription, unless it is open.
func (h *eventHub) subscribeLocked() {
	if h.sub == nil {
		h.sub = store.Subscribe(h.rdb, h.channels, h.onMessage, h.onSubscribe, h.log)
	}
}

// stream registers a stream that ends with ctx; ready is closed once the
// subscription is up.
func (h *eventHub) stream(ctx context.Context) (ch <-chan wire.Event, ready <-chan struct{}, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, nil, errors.New("events: the client is closed")
	}
	h.subscribeLocked()
	st := &eventStream{ch: make(chan wire.Event, eventBuffer)}
	h.streams[st] = struct{}{}
	go func() {
		<-ctx.Done()
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.streams[st]; ok {
			delete(h.streams, st)
			close(st.ch)
		}
	}()
	return st.ch, h.ready, nil
}

// watch returns a channel that receives when task id may have finished,
// and a function that ends the watch.
func (h *eventHub) watch(id string) (<-chan struct{}, func(), error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, nil, fmt.Errorf("wait for %s: the client is closed", id)
	}
	h.subscribeLocked()
	ch := make(chan struct{}, 1)
	if h.watches[id] == nil {
		h.watches[id] = map[chan struct{}]struct{}{}
	}
	h.watches[id][ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.watches[id], ch)
		if len(h.watches[id]) == 0 {
			delete(h.watches, id)
		}
	}, nil
}

func (h *eventHub) onSubscribe() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.wakeLocked(func(string) bool { return true })
	if !h.subscribed {
		h.subscribed = true
		close(h.ready)
		return
	}
	h.sendLocked(wire.Event{Kind: wire.EventResync, At: time.Now()})
}

func (h *eventHub) onMessage(_, payload string) {
	es, err := transport.ParseEvents(payload)
	if err != nil {
		h.log.Warn("ignoring malformed lines of an events message", "err", err)
	}
	now := time.Now()
	done := make(map[string]bool, len(es))
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range es {
		h.sendLocked(wire.Event{Kind: e.Kind, ID: e.ID, Queue: e.Queue, Name: e.Name, At: now})
		if e.Finished() {
			done[e.ID] = true
		}
	}
	if len(h.watches) > 0 && len(done) > 0 {
		h.wakeLocked(func(id string) bool { return done[id] })
	}
}

// wakeLocked wakes the watches of the tasks match selects.
func (h *eventHub) wakeLocked(match func(id string) bool) {
	for id, chs := range h.watches {
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

// sendLocked hands e to every stream without blocking; a full stream
// misses it and gets a Resync once it has room.
func (h *eventHub) sendLocked(e wire.Event) {
	for st := range h.streams {
		if st.missed {
			select {
			case st.ch <- wire.Event{Kind: wire.EventResync, At: e.At}:
				st.missed = false
			default:
				continue
			}
		}
		select {
		case st.ch <- e:
		default:
			st.missed = true
		}
	}
}

// close ends the subscription and the streams; watches from then on are
// refused, and those open hear nothing more (their waits go on re-reading
// every SafetyWait).
func (h *eventHub) close() {
	h.mu.Lock()
	sub := h.sub
	h.closed, h.sub = true, nil
	for st := range h.streams {
		delete(h.streams, st)
		close(st.ch)
	}
	h.mu.Unlock()
	if sub != nil {
		sub.Close()
	}
}
