package transport

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// rec3 is a format 3 record with field x.
func rec3(x string) map[string]string {
	return map[string]string{FVersion: Version, FName: "echo", FQueue: "default", FState: "scheduled", FImmutable: x}
}

// A format 3 record keeps args in field x: an error about them names x,
// not field args, which a format 3 record does not have.
func TestAFormat3RecordsTooDeepArgsAreNamedAsPartOfFieldX(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", 1001) + strings.Repeat("]", 1001)
	_, err := DecodeRecord("01J", rec3(`{"a":`+deep+`}`))
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), "field x")
	require.NotContains(t, err.Error(), "field args", "a format 3 record has no field args")
}

// Field x that is JSON but not UTF-8 is said to be not UTF-8 (as format 2's
// args are, with the offset), not to be "not the JSON" of args.
func TestAFormat3RecordWhoseXIsNotUTF8IsSaidToBeSo(t *testing.T) {
	t.Parallel()
	_, err := DecodeRecord("01J", rec3("{\"a\":\"\xff\"}"))
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), "UTF-8")
}
