package store

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/internal/backoff"
)

// Subscriber keeps one pub/sub subscription to the store's channels alive
// and hands each message and each (re)subscribe to callbacks. go-redis
// reconnects and resubscribes after an error; a Subscriber backs off
// between failed attempts instead of spinning, and reports every
// (re)subscribe, after which messages may have been lost.
type Subscriber struct {
	ps          *redis.PubSub
	onMessage   func(channel, payload string)
	onSubscribe func()
	log         *slog.Logger
	cancel      context.CancelFunc
	done        chan struct{}
}

// Subscribe starts listening on channels. Callbacks run on the
// Subscriber's goroutine, one at a time, and must not block.
func Subscribe(rdb redis.UniversalClient, channels []string, onMessage func(channel, payload string), onSubscribe func(), log *slog.Logger) *Subscriber {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Subscriber{ps: rdb.Subscribe(ctx, channels...), onMessage: onMessage, onSubscribe: onSubscribe,
		log: log, cancel: cancel, done: make(chan struct{})}
	go s.listen(ctx)
	return s
}

func (s *Subscriber) listen(ctx context.Context) {
	defer close(s.done)
	wait := time.Duration(0)
	for {
		msg, err := s.ps.Receive(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			wait = backoff.Next(wait)
			if wait == backoff.First {
				s.log.Warn("pub/sub connection lost; resubscribing", "err", err)
			}
			if !backoff.Sleep(ctx, wait) {
				return
			}
			continue
		}
		wait = 0
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				s.onSubscribe()
			}
		case *redis.Message:
			s.onMessage(m.Channel, m.Payload)
		}
	}
}

// Close ends the subscription and waits for its goroutine.
func (s *Subscriber) Close() {
	s.cancel()
	_ = s.ps.Close()
	<-s.done
}
