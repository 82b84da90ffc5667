package transport

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

// fuzzFields lists the record fields FuzzDecodeRecord sets from its
// arguments, in argument order; bit i of its "missing" argument leaves
// field i out of the hash.
var fuzzFields = []string{FVersion, FName, FQueue, FState, FArgs, FResult, FAttempts, FDue, FTimeout, FParents, FPolicy}

// FuzzDecodeRecord feeds DecodeRecord damaged hashes: it must never panic,
// every error must wrap ErrCorrupt, and a record it accepts must encode as
// a JSON answer and survive EncodeRecord and DecodeRecord again unchanged.
//
// extra holds more fields, one "field=value" a line; they override the
// others, so the fuzzer can reach every field (numbers, "o:PARENT", ...).
// outcome is stored as "o:P" for every parent P the parents field names.
// The seeds are in testdata/fuzz/FuzzDecodeRecord.
func FuzzDecodeRecord(f *testing.F) {
	f.Fuzz(func(t *testing.T, id, version, name, queue, state, args, result, attempts, due, timeout, parents, policy, outcome, extra string, missing uint16) {
		h := map[string]string{}
		for i, v := range []string{version, name, queue, state, args, result, attempts, due, timeout, parents, policy} {
			if missing&(1<<i) == 0 {
				h[fuzzFields[i]] = v
			}
		}
		var ids []string
		if json.Unmarshal([]byte(parents), &ids) == nil && missing&(1<<11) == 0 {
			for _, p := range ids {
				h[FOutcome+p] = outcome
			}
		}
		for line := range strings.SplitSeq(extra, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				h[k] = v
			}
		}
		checkRecordRoundTrip(t, id, h)
	})
}

// checkRecordRoundTrip decodes h and, when it is a record, checks that it
// encodes and decodes again to the same task.
func checkRecordRoundTrip(t *testing.T, id string, h map[string]string) {
	t.Helper()
	task, err := DecodeRecord(id, h)
	if err != nil {
		require.ErrorIs(t, err, ErrCorrupt, "fields %q", h)
		require.Nil(t, task)
		return
	}
	require.NotNil(t, task)
	require.Equal(t, id, task.ID)
	answer, err := json.Marshal(task)
	require.NoError(t, err, "accepted %q, which cannot be answered as JSON", h)
	require.True(t, utf8.Valid(answer), "accepted %q, whose answer is not UTF-8", h)
	// EncodeRecord writes what the task holds; the scripts write the parents'
	// outcomes, so carry those over as Redis would keep them.
	again := map[string]string{}
	pairs := EncodeRecord(task)
	for i := 0; i+1 < len(pairs); i += 2 {
		again[pairs[i].(string)] = fmt.Sprint(pairs[i+1])
	}
	for _, p := range task.Parents {
		if o, ok := h[FOutcome+p]; ok {
			again[FOutcome+p] = o
		}
	}
	back, err := DecodeRecord(id, again)
	require.NoError(t, err, "accepted %q, then re-encoded it as %q", h, again)
	require.Equal(t, normalTask(task), normalTask(back), "accepted %q, re-encoded as %q", h, again)
}

// normalTask returns a copy of t with the differences that do not survive
// a record unified: an empty parent list is no parent list.
func normalTask(t *tasks.Task) tasks.Task {
	c := *t
	if len(c.Parents) == 0 {
		c.Parents = nil
	}
	return c
}

// FuzzParseAnnounce: no panic; a message that parses encodes back to one
// that parses to the same Announce. Seeds: testdata/fuzz/FuzzParseAnnounce.
func FuzzParseAnnounce(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAnnounce(s)
		if err != nil {
			require.Equal(t, Announce{}, a)
			return
		}
		require.NotEmpty(t, a.ID)
		b, err := ParseAnnounce(a.String())
		require.NoError(t, err, "%q parsed to %+v, which encodes as %q", s, a, a.String())
		require.Equal(t, a, b)
	})
}

// FuzzParseEvents: no panic; the lines that parse are kept whatever the
// others hold, and each encodes back to one that parses to the same Event. Seeds:
// testdata/fuzz/FuzzParseEvents.
func FuzzParseEvents(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		es, err := ParseEvents(s)
		lines := strings.Count(s, "\n") + 1
		if err == nil {
			require.Len(t, es, lines, "%q: every line is an event", s)
		} else {
			require.Less(t, len(es), lines, "%q: an error means a line was left out", s)
		}
		for _, e := range es {
			require.NotEmpty(t, e.Kind)
			require.NotContains(t, e.Kind+e.ID+e.Queue, " ")
			require.NotContains(t, e.Name, "\n")
			again, err := ParseEvents(e.String())
			require.NoError(t, err, "%q parsed to %+v, which encodes as %q", s, e, e.String())
			require.Equal(t, []Event{e}, again)
		}
	})
}
