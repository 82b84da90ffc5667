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

// Done is one line of a message published on the done channel when tasks
// finish: "STATE ID". A message holds one line per task that one call
// finished, separated by newlines. API waiters listen to it; worker loops
// do not.
type Done struct {
	State string
	ID    string
}

// String encodes one line.
func (d Done) String() string { return d.State + " " + d.ID }

// ParseDone decodes a done message: one or more lines.
func ParseDone(s string) ([]Done, error) {
	var out []Done
	for line := range strings.SplitSeq(s, "\n") {
		st, id, ok := strings.Cut(line, " ")
		if !ok || st == "" || id == "" {
			return nil, fmt.Errorf("done message line %.80q: want \"STATE ID\"", line)
		}
		out = append(out, Done{State: st, ID: id})
	}
	return out, nil
}
