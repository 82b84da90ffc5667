package tasks_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

func TestCheckJSON(t *testing.T) {
	t.Parallel()
	deep := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
	for _, ok := range []string{
		`{}`, `1`, `"x"`, deep(tasks.MaxJSONDepth),
		`"` + strings.Repeat("[", 5000) + `"`,       // brackets inside a string do not nest
		`["\"[[[[", "\\", "\\\"{{{"]`,               // nor after escaped quotes and backslashes
		`{"é":"日本","emoji":"\ud83d\ude00"}`,         // UTF-8 and escapes
		"[" + strings.Repeat("[1],", 3000) + "[1]]", // wide is not deep
	} {
		require.NoError(t, tasks.CheckJSON("args", []byte(ok)), "%.80s", ok)
	}
	for bad, want := range map[string]string{
		deep(tasks.MaxJSONDepth + 1):                            "args: JSON nested 1001 levels deep, more than the 1000 that can be stored",
		strings.Repeat("[", 20000) + strings.Repeat("]", 20000): "nested 20000 levels deep",
		"{\"s\":\"ok\xff\"}":                                    "args: invalid UTF-8 at byte 8",
		"\"\xc3\"":                                              "invalid UTF-8 at byte 1",
		`{"a":`:                                                 "args: not valid JSON",
		``:                                                      "not valid JSON",
	} {
		err := tasks.CheckJSON("args", []byte(bad))
		require.Error(t, err, "%.80q", bad)
		require.Contains(t, err.Error(), want, "%.80q", bad)
	}
}

func TestParseAt(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]time.Time{
		"1970-01-01T00:00:00Z":          time.Unix(0, 0),
		"9999-12-31T23:59:59.999Z":      tasks.MaxTime,
		"2030-01-02T17:04:05+02:00":     time.Date(2030, 1, 2, 15, 4, 5, 0, time.UTC),
		"9999-12-31T23:59:59.999+01:00": time.Date(9999, 12, 31, 22, 59, 59, 999e6, time.UTC),
	} {
		got, err := tasks.ParseAt(s)
		require.NoError(t, err, s)
		require.True(t, want.Equal(got), "%s: got %s", s, got)
	}
	for s, want := range map[string]string{
		"9999-12-31T23:59:59-23:59": "outside the years 1970 to 9999",
		"1969-12-31T23:59:59Z":      "outside the years 1970 to 9999",
		"0001-01-01T00:00:00Z":      "outside the years 1970 to 9999",
		"10000-01-01T00:00:00Z":     "not an RFC 3339 time",
		"tomorrow":                  "not an RFC 3339 time",
	} {
		_, err := tasks.ParseAt(s)
		require.Error(t, err, s)
		require.Contains(t, err.Error(), want, s)
	}
}

// What Normalize accepts is what a record can hold: args nested at most
// MaxJSONDepth, UTF-8 text, times in the years 1970 to 9999.
func TestNormalizeRefusesWhatCannotBeReadBack(t *testing.T) {
	t.Parallel()
	for name, spec := range map[string]tasks.Spec{
		"deep args":     {Name: "echo", Args: []byte(strings.Repeat("[", 1001) + strings.Repeat("]", 1001))},
		"utf-8 args":    {Name: "echo", Args: []byte("[\"\xff\"]")},
		"utf-8 key":     {Name: "echo", Key: "k\xff"},
		"utf-8 parent":  {Name: "echo", After: []string{"01\xff"}},
		"at year 10000": {Name: "echo", At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"at 1969":       {Name: "echo", At: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)},
	} {
		err := spec.Normalize()
		require.ErrorIs(t, err, tasks.ErrInvalid, name)
	}
	ok := tasks.Spec{Name: "echo", At: tasks.MaxTime, Args: []byte(strings.Repeat("[", 1000) + strings.Repeat("]", 1000))}
	require.NoError(t, ok.Normalize())
}
