package transport

import (
	"fmt"
	"strconv"
	"strings"
)

// Announce is the message published on a queue's announce channel when a
// task becomes the head of that queue's timing index: "DUE_MS ID".
type Announce struct {
	DueMs int64
	ID    string
}

// String encodes the message.
func (a Announce) String() string { return strconv.FormatInt(a.DueMs, 10) + " " + a.ID }

// ParseAnnounce decodes an announce message.
func ParseAnnounce(s string) (Announce, error) {
	ms, id, ok := strings.Cut(s, " ")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || id == "" {
		return Announce{}, fmt.Errorf("announce message %.80q: want \"DUE_MS ID\"", s)
	}
	return Announce{DueMs: n, ID: id}, nil
}

// Event is one line of a message on the events channel: "KIND ID QUEUE
// NAME", where KIND is queued, started, retrying, succeeded, failed or
// canceled. One script call publishes one message, a line per task it
// changed. API waiters and event streams listen to it; worker loops do not.
type Event struct {
	Kind  string
	ID    string
	Queue string
	Name  string
}

// String encodes one line.
func (e Event) String() string { return e.Kind + " " + e.ID + " " + e.Queue + " " + e.Name }

// Finished reports whether the event ends its task: succeeded, failed or
// canceled.
func (e Event) Finished() bool {
	return e.Kind == "succeeded" || e.Kind == "failed" || e.Kind == "canceled"
}

// EventWord returns s as a field of an events line, or "?" when s is empty
// or holds white space (a name from a damaged record), so that every line
// parses.
func EventWord(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\r\n\v\f") {
		return "?"
	}
	return s
}

// ParseEvents decodes an events message: one or more lines. A line that is
// not "KIND ID QUEUE NAME" is left out, and the error names it; the other
// lines are returned whatever the error.
func ParseEvents(s string) ([]Event, error) {
	var (
		out []Event
		bad []string
	)
	for line := range strings.SplitSeq(s, "\n") {
		f := strings.SplitN(line, " ", 4)
		if len(f) != 4 || f[0] == "" || f[1] == "" || f[2] == "" || f[3] == "" {
			bad = append(bad, fmt.Sprintf("%.80q", line))
			continue
		}
		out = append(out, Event{Kind: f[0], ID: f[1], Queue: f[2], Name: f[3]})
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("events message: left out %d malformed line(s) (want \"KIND ID QUEUE NAME\"): %s", len(bad), strings.Join(bad[:min(len(bad), 3)], ", "))
	}
	return out, nil
}
