package store

import (
	"fmt"
	"strconv"
)

// parseHeads reads a ZRANGE ... WITHSCORES reply made inside a script.
func parseHeads(v any) ([]Head, error) {
	flat, ok := v.([]any)
	if !ok || len(flat)%2 != 0 {
		return nil, fmt.Errorf("unexpected index heads %v", v)
	}
	hs := make([]Head, 0, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		id, _ := flat[i].(string)
		s, _ := flat[i+1].(string)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || id == "" {
			return nil, fmt.Errorf("unexpected index entry %v %v", flat[i], flat[i+1])
		}
		hs = append(hs, Head{ID: id, Due: int64(f)})
	}
	return hs, nil
}

// pairs turns a flat HGETALL reply into a map.
func pairs(flat []any) map[string]string {
	m := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		m[k] = v
	}
	return m
}

// strs reads a script's array of strings.
func strs(v any) []string {
	flat, _ := v.([]any)
	out := make([]string, 0, len(flat))
	for _, e := range flat {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
