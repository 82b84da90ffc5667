package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/transport"
	"github.com/dueq/dueq/wire"
)

// eventBuffer is how many events a slow reader may fall behind before it
// misses some (and is sent a Resync once it catches up).
const eventBuffer = 1024

// Events streams the namespace's events until ctx ends, then closes the
// channel. All of a client's streams share one pub/sub connection, opened
// by the first, which returns once Redis has confirmed the subscription
// (or after SafetyWait, if Redis is slow to: the stream then starts when
// it does), so that events after Events returns are not missed.
func (c *Client) Events(ctx context.Context) (<-chan wire.Event, error) {
	ch, ready, err := c.events.add(ctx)
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

// eventHub fans one subscription to the events channel out to streams.
type eventHub struct {
	rdb     redis.UniversalClient
	channel string
	log     *slog.Logger

	mu         sync.Mutex
	sub        *subscriber
	subscribed bool          // the first subscribe happened: later ones are resyncs
	ready      chan struct{} // closed at the first subscribe
	streams    map[*eventStream]struct{}
	closed     bool
}

type eventStream struct {
	ch     chan wire.Event
	missed bool // events were dropped: send a Resync when there is room
}

func newEventHub(rdb redis.UniversalClient, channel string, log *slog.Logger) *eventHub {
	return &eventHub{rdb: rdb, channel: channel, log: log, streams: map[*eventStream]struct{}{}, ready: make(chan struct{})}
}

// add registers a stream that ends with ctx; ready is closed once the
// subscription is up.
func (h *eventHub) add(ctx context.Context) (ch <-chan wire.Event, ready <-chan struct{}, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, nil, errors.New("events: the client is closed")
	}
	if h.sub == nil {
		h.sub = subscribe(h.rdb, []string{h.channel}, h.onMessage, h.onSubscribe, h.log)
	}
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

func (h *eventHub) onSubscribe() {
	h.mu.Lock()
	defer h.mu.Unlock()
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
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range es {
		h.sendLocked(wire.Event{Kind: e.Kind, ID: e.ID, Queue: e.Queue, Name: e.Name, At: now})
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
		sub.close()
	}
}
