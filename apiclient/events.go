package apiclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/dueq/dueq/wire"
)

// ErrStreamEnded is wrapped by the error Events returns when the event
// stream ends or breaks while ctx is still alive: the daemon stopped, the
// connection dropped, or nothing (not even a heartbeat) arrived for
// EventsIdle. Events sent until the next stream is open are lost, so a
// caller that reconnects re-reads what it shows.
var ErrStreamEnded = errors.New("the connection to the daemon ended")

// EventsIdle is how long Events waits for the next line of the stream
// before it takes the connection for dead: three of the daemon's
// heartbeats, which it sends every 15 s on an idle stream.
const EventsIdle = 3 * wire.EventsHeartbeat

// maxEventLine caps one line of the event stream; a dueq event is about
// 200 bytes.
const maxEventLine = 1 << 20

// Events follows the daemon's event stream (GET /api/v1/events) and calls
// fn with each event, in the order the daemon sent them, from one
// goroutine. Kinds are those of wire.Event: queued, started, retrying,
// succeeded, failed, canceled, and resync when the daemon may have missed
// some (re-read what you show). Events are fire-and-forget: none is sent
// again, and those before the stream opened are not sent at all.
//
// It returns nil when ctx ends, fn's error as is when fn returns one, an
// *Error when the daemon refuses the stream (e.g. 401 without the token),
// an error wrapping ErrUnreachable when no daemon answers, and an error
// wrapping ErrStreamEnded when the stream ends or breaks: call it again to
// reconnect.
//
// The stream is long-lived: it is sent with c.HTTP's transport but without
// its Timeout, and taken for dead when no line arrives for EventsIdle
// (not counting the time fn takes).
func (c *Client) Events(ctx context.Context, fn func(wire.Event) error) error {
	const path = "/api/v1/events"
	base := c.base()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return fmt.Errorf("server URL %q: %w: pass a URL such as %s", base, err, DefaultServer)
	}
	req.Header.Set("Accept", "text/event-stream")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	idle := time.AfterFunc(EventsIdle, func() { cancel(errIdle) })
	defer idle.Stop()
	resp, err := c.streamClient().Do(req)
	if err != nil {
		switch {
		case errors.Is(context.Cause(ctx), errIdle):
			return fmt.Errorf("%w: GET %s%s: no answer in %s", ErrStreamEnded, base, path, EventsIdle)
		case ctx.Err() != nil:
			return nil
		case unreachable(err):
			return fmt.Errorf("%w at %s: start it with `dueq serve` or pass --server: %w", ErrUnreachable, base, err)
		}
		return fmt.Errorf("GET %s%s: %w", base, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return answerError(resp.StatusCode, data)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		return fmt.Errorf("GET %s%s: the answer is not an event stream (Content-Type %q): check --server", base, path, resp.Header.Get("Content-Type"))
	}
	err = readEvents(resp.Body, func() { idle.Reset(EventsIdle) }, func(e wire.Event) error {
		idle.Stop() // the time fn takes is not the daemon's silence
		defer idle.Reset(EventsIdle)
		return fn(e)
	})
	var fe fnError
	switch {
	case errors.As(err, &fe):
		return fe.err
	case errors.Is(context.Cause(ctx), errIdle):
		return fmt.Errorf("%w: GET %s%s: nothing received for %s", ErrStreamEnded, base, path, EventsIdle)
	case ctx.Err() != nil:
		return nil
	case err == nil:
		return fmt.Errorf("%w: GET %s%s: the daemon closed the stream", ErrStreamEnded, base, path)
	case errors.Is(err, errBadEvent):
		return fmt.Errorf("GET %s%s: %w: check --server", base, path, err)
	}
	return fmt.Errorf("%w: GET %s%s: %w", ErrStreamEnded, base, path, err)
}

// streamClient is c.HTTP (or http.DefaultClient) without its Timeout, which
// would cut a long-lived stream; it shares the transport.
func (c *Client) streamClient() *http.Client {
	if c.HTTP == nil {
		return http.DefaultClient
	}
	if c.HTTP.Timeout == 0 {
		return c.HTTP
	}
	hc := *c.HTTP
	hc.Timeout = 0
	return &hc
}

var (
	errIdle     = errors.New("event stream idle")
	errBadEvent = errors.New("the event stream sent an event that is not a dueq event")
)

// fnError carries the error of Events' callback through readEvents.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// readEvents parses server-sent events from r until it ends (nil) or
// fails: "field: value" lines, an event ending at a blank line, lines
// ending in \n, \r\n or \r, comments (":...") ignored. Each event whose data
// is set is decoded as a wire.Event and handed to fn; its kind, when
// the data has none, is the event's name. seen is called for every line.
func readEvents(r io.Reader, seen func(), fn func(wire.Event) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxEventLine)
	sc.Split(scanLines)
	var (
		name    string
		data    []byte
		hasData bool
	)
	for sc.Scan() {
		seen()
		line := sc.Bytes()
		if len(line) == 0 {
			if hasData {
				if err := dispatch(name, data, fn); err != nil {
					return err
				}
			}
			name, data, hasData = "", data[:0], false
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			name = string(value)
		case "data":
			if hasData {
				data = append(data, '\n')
			}
			data, hasData = append(data, value...), true
		}
		// id and retry do not apply: the daemon sends no ids to resume from.
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return fmt.Errorf("%w: a line longer than %d bytes", errBadEvent, maxEventLine)
	}
	return sc.Err() // a partial event at the end is dropped, as EventSource does
}

// dispatch decodes one event's data and hands it to fn.
func dispatch(name string, data []byte, fn func(wire.Event) error) error {
	var e wire.Event
	if err := json.Unmarshal(data, &e); err != nil {
		return fmt.Errorf("%w: event %.40q with data %.80q (%v)", errBadEvent, name, data, err)
	}
	if e.Kind == "" {
		e.Kind = name
	}
	if err := fn(e); err != nil {
		return fnError{err}
	}
	return nil
}

// scanLines is bufio.ScanLines for server-sent events, whose lines end in
// "\n", "\r\n" or a lone "\r".
func scanLines(data []byte, atEOF bool) (int, []byte, error) {
	i := bytes.IndexAny(data, "\r\n")
	switch {
	case i < 0 && atEOF && len(data) > 0:
		return len(data), data, nil
	case i < 0:
		return 0, nil, nil
	case data[i] == '\n':
		return i + 1, data[:i], nil
	case i+1 < len(data) && data[i+1] == '\n':
		return i + 2, data[:i], nil
	case i+1 < len(data) || atEOF:
		return i + 1, data[:i], nil
	}
	return 0, nil, nil // a "\r" last: wait for what follows it
}
