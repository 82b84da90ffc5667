package store

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/internal/backoff"
)

// Subscriber keeps pub/sub subscriptions to the store's channels alive
// and hands each message and each (re)subscribe to callbacks. go-redis
// reconnects and resubscribes after an error; a Subscriber backs off
// between failed attempts instead of spinning, and reports every
// (re)subscribe, after which messages may have been lost.
//
// On one server (or Sentinel's primary) it is one subscription to every
// channel. On a Redis Cluster the channels are sharded (SSUBSCRIBE, the
// scripts SPUBLISH): each partition's channels share its hash tag and so
// its slot, and a sharded subscription covers one slot, so there is one
// per partition, each on the shard that owns it.
type Subscriber struct {
	groups      []*redis.PubSub
	onMessage   func(channel, payload string)
	onSubscribe func()
	log         *slog.Logger
	cancel      context.CancelFunc
	wg          sync.WaitGroup

	mu      sync.Mutex
	started int // groups subscribed to all their channels at least once
}

// Subscribe starts listening on channels. Callbacks may run on several
// goroutines at once (one per subscription) and must not block. The first
// onSubscribe comes once every channel is subscribed; each after it, once
// a subscription lost and made again covers its channels again.
func Subscribe(rdb redis.UniversalClient, channels []string, onMessage func(channel, payload string), onSubscribe func(), log *slog.Logger) *Subscriber {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Subscriber{onMessage: onMessage, onSubscribe: onSubscribe, log: log, cancel: cancel}
	var groups [][]string
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		byTag := map[string]int{}
		for _, ch := range channels {
			tag, _, _ := strings.Cut(ch, "}")
			i, ok := byTag[tag]
			if !ok {
				i = len(groups)
				byTag[tag] = i
				groups = append(groups, nil)
			}
			groups[i] = append(groups[i], ch)
		}
		for _, g := range groups {
			s.groups = append(s.groups, cc.SSubscribe(ctx, g...))
		}
	} else {
		groups = [][]string{channels}
		s.groups = []*redis.PubSub{rdb.Subscribe(ctx, channels...)}
	}
	for i, ps := range s.groups {
		s.wg.Add(1)
		go s.listen(ctx, ps, len(groups[i]))
	}
	return s
}

// listen receives the messages of ps, a subscription to n channels.
func (s *Subscriber) listen(ctx context.Context, ps *redis.PubSub, n int) {
	defer s.wg.Done()
	wait := time.Duration(0)
	left, once := n, false // confirmations until every channel is subscribed again
	for {
		msg, err := ps.Receive(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			wait = backoff.Next(wait)
			if wait == backoff.First {
				s.log.Warn("pub/sub connection lost; resubscribing", "err", err)
			}
			left = n
			if !backoff.Sleep(ctx, wait) {
				return
			}
			continue
		}
		wait = 0
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" && m.Kind != "ssubscribe" {
				continue
			}
			if left--; left > 0 {
				continue
			}
			left = n
			s.subscribed(!once)
			once = true
		case *redis.Message:
			s.onMessage(m.Channel, m.Payload)
		}
	}
}

// subscribed reports a subscription that covers its channels again; first
// is its first time. The first report waits for every subscription.
func (s *Subscriber) subscribed(first bool) {
	s.mu.Lock()
	if first {
		s.started++
	}
	all := s.started == len(s.groups)
	s.mu.Unlock()
	if all {
		s.onSubscribe()
	}
}

// Close ends the subscriptions and waits for their goroutines.
func (s *Subscriber) Close() {
	s.cancel()
	for _, ps := range s.groups {
		_ = ps.Close()
	}
	s.wg.Wait()
}
