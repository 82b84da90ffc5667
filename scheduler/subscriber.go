package scheduler

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// subscriber keeps one pub/sub subscription alive and hands each message and
// each (re)subscribe to callbacks. go-redis reconnects and resubscribes after
// an error; subscriber backs off between failed attempts instead of spinning,
// and reports every (re)subscribe, after which messages may have been lost.
type subscriber struct {
	ps          *redis.PubSub
	onMessage   func(channel, payload string)
	onSubscribe func()
	log         *slog.Logger
	cancel      context.CancelFunc
	done        chan struct{}
}

// subscribe starts listening on channels. Callbacks run on the subscriber's
// goroutine, one at a time, and must not block.
func subscribe(rdb redis.UniversalClient, channels []string, onMessage func(channel, payload string), onSubscribe func(), log *slog.Logger) *subscriber {
	ctx, cancel := context.WithCancel(context.Background())
	s := &subscriber{ps: rdb.Subscribe(ctx, channels...), onMessage: onMessage, onSubscribe: onSubscribe,
		log: log, cancel: cancel, done: make(chan struct{})}
	go s.listen(ctx)
	return s
}

func (s *subscriber) listen(ctx context.Context) {
	defer close(s.done)
	backoff := time.Duration(0)
	for {
		msg, err := s.ps.Receive(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			backoff = nextBackoff(backoff)
			if backoff == firstBackoff {
				s.log.Warn("pub/sub connection lost; resubscribing", "err", err)
			}
			if !sleepCtx(ctx, backoff) {
				return
			}
			continue
		}
		backoff = 0
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

// close ends the subscription and waits for its goroutine.
func (s *subscriber) close() {
	s.cancel()
	_ = s.ps.Close()
	<-s.done
}

const (
	firstBackoff = 50 * time.Millisecond
	maxBackoff   = 5 * time.Second
)

// nextBackoff doubles a backoff from firstBackoff up to maxBackoff.
func nextBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return firstBackoff
	}
	return min(2*d, maxBackoff)
}

// sleepCtx waits d or until ctx is done; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
