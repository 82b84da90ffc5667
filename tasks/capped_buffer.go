package tasks

import (
	"bytes"
	"fmt"
)

// cappedBuffer is an io.Writer that keeps the first limit bytes written to it
// and counts the rest. Writes never fail, so a program writing more than the
// cap is not stopped by a broken pipe. It is not safe for concurrent writes.
type cappedBuffer struct {
	limit   int
	buf     bytes.Buffer
	dropped int64
}

func newCappedBuffer(limit int) *cappedBuffer { return &cappedBuffer{limit: limit} }

// Write keeps what fits under the cap and drops the rest.
func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.buf.Len(); room < len(p) {
		b.dropped += int64(len(p) - max(room, 0))
		b.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	b.buf.Write(p)
	return len(p), nil
}

// String returns the kept text, ending with a note when bytes were dropped.
func (b *cappedBuffer) String() string {
	if b.dropped == 0 {
		return b.buf.String()
	}
	return b.buf.String() + truncationNote(b.limit, b.dropped)
}

// truncationNote is appended to output cut at limit bytes, dropping dropped
// more (a negative count when unknown).
func truncationNote(limit int, dropped int64) string {
	if dropped < 0 {
		return fmt.Sprintf("\n[dueq: truncated at %d bytes]", limit)
	}
	return fmt.Sprintf("\n[dueq: truncated at %d bytes; %d more bytes dropped]", limit, dropped)
}
