package tasks

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// MaxJSONDepth is how deeply the JSON that dueq stores (a task's args, a
// handler's result) may nest arrays and objects. Records embed it a few
// levels deeper (a record, a list of records, a parent's outcome), and
// every reader of a record, here and in the dashboard, reads far deeper
// than this, so what is stored can always be read back.
const MaxJSONDepth = 1000

// CheckJSON reports why b cannot be stored as JSON that reads back
// whole: it is not JSON, it holds invalid UTF-8 (which a reader would turn
// into other characters), or it nests deeper than MaxJSONDepth. what names
// the value in the error, e.g. "args".
func CheckJSON(what string, b []byte) error {
	if !utf8.Valid(b) {
		return fmt.Errorf("%s: invalid UTF-8 at byte %d (text must be UTF-8)", what, InvalidUTF8At(b))
	}
	if d := jsonDepth(b); d > MaxJSONDepth {
		return fmt.Errorf("%s: JSON nested %d levels deep, more than the %d that can be stored", what, d, MaxJSONDepth)
	}
	if !json.Valid(b) {
		return fmt.Errorf("%s: not valid JSON: %.60q", what, b)
	}
	return nil
}

// InvalidUTF8At returns the offset of the first byte of b that is not
// part of valid UTF-8, or len(b) when b is valid.
func InvalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// jsonDepth returns the deepest nesting of arrays and objects in b, read
// as JSON (strings skipped, escapes included); for text that is not JSON
// it is a bound, not an error.
func jsonDepth(b []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inString:
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}
