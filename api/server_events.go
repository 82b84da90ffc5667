package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/dueq/dueq/wire"
)

// events serves GET /api/v1/events: server-sent events, one per thing that
// happens to a task on any daemon ("event: KIND", data: the event as JSON
// {"kind","id","queue","name","at"}), until the client leaves or the server
// stops. Kinds: queued, started, retrying, succeeded, failed, canceled, and
// resync when events may have been missed (re-read what you show). A
// browser's EventSource may send the token as ?access_token=TOKEN.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	stream, err := s.c.Events(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(format string, a ...any) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(wire.EventsHeartbeat + 10*time.Second))
		if _, err := fmt.Fprintf(w, format, a...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write(": dueq events\n\n") {
		return
	}
	beat := time.NewTicker(wire.EventsHeartbeat)
	defer beat.Stop()
	for {
		select {
		case e, ok := <-stream:
			if !ok {
				return
			}
			b, _ := json.Marshal(e) // an Event always marshals
			if !write("event: %s\ndata: %s\n\n", e.Kind, b) {
				return
			}
		case <-beat.C:
			if !write(": ping\n\n") {
				return
			}
		case <-s.quit.Done():
			return
		case <-ctx.Done():
			return
		}
	}
}
