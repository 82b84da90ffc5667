package store

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// Each script carries the prelude functions it calls, and those they call,
// and no others.
func TestScriptsCarryThePreludeFunctionsTheyCall(t *testing.T) {
	t.Parallel()
	defined := func(src string) []string {
		var names []string
		for _, m := range regexp.MustCompile(`(?m)^local function (\w+)\(`).FindAllStringSubmatch(src, -1) {
			names = append(names, m[1])
		}
		return names
	}
	require.Equal(t, []string{"clock", "int", "attempt_errors", "companion_done", "doomed", "counts_kids", "kids_changed", "outcome", "release"}, defined(preludeFor(preludeLua, finishLua)),
		"release calls doomed")
	require.Equal(t, []string{"clock", "int", "word"}, defined(preludeFor(preludeLua, claimLua)))
	require.Equal(t, []string{"clock", "int", "due_time", "joined", "chunked", "doomed", "counts_kids", "kid_added", "outcome"}, defined(preludeFor(preludeLua, submitLua)))
	require.Empty(t, defined(preludeFor(preludeLua, "return 1")))
	require.Len(t, preludeFunc.FindAllString(preludeLua, -1), len(defined(preludeLua)), "every function of the prelude is found whole")
}
