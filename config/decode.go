package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dueq/dueq/tasks"
)

// The decoders of keys: each reads a value as viper found it (YAML types
// from the file, strings from the environment, typed values from flags)
// into a field, or returns an error that says what to write instead.

func typeErr(format string, a ...any) error { return fmt.Errorf(format, a...) }

func asString(dst *string) func(any) error {
	return func(v any) error {
		s, ok := v.(string)
		switch {
		case ok:
		case scalar(v):
			return typeErr("%v is a %s, not a string: quote it, e.g. \"%v\"", v, kind(v), v)
		default:
			return typeErr("is a %s, not a string: write a quoted string", kind(v))
		}
		*dst = s
		return nil
	}
}

// secretString decodes a string without ever echoing the value.
func secretString(dst *string) func(any) error {
	return func(v any) error {
		s, ok := v.(string)
		if !ok {
			return typeErr("is a %s, not a string: write it in quotes", kind(v))
		}
		*dst = s
		return nil
	}
}

func asInt(dst *int) func(any) error {
	return func(v any) error {
		var n int64
		switch x := v.(type) {
		case int:
			n = int64(x)
		case int64:
			n = x
		case uint64:
			n = int64(min(x, 1<<62))
		case float64:
			if x != float64(int64(x)) {
				return typeErr("%v is not a whole number: write one such as 4", x)
			}
			n = int64(x)
		case string:
			var err error
			if n, err = strconv.ParseInt(strings.TrimSpace(x), 10, 64); err != nil {
				return typeErr("%q is not a whole number: write one such as 4", x)
			}
		default:
			return typeErr("is a %s, not a whole number: write one such as 4", kind(v))
		}
		if n < -1<<31 || n > 1<<31 {
			return typeErr("%d is out of range", n)
		}
		*dst = int(n)
		return nil
	}
}

// asBool decodes a YAML boolean, or true/false (also 1/0) from the
// environment or a flag.
func asBool(dst *bool) func(any) error {
	return func(v any) error {
		switch x := v.(type) {
		case bool:
			*dst = x
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(x))
			if err != nil {
				return typeErr("%q is not a boolean: write true or false", x)
			}
			*dst = b
		default:
			return typeErr("is a %s, not a boolean: write true or false", kind(v))
		}
		return nil
	}
}

func asDuration(dst *time.Duration) func(any) error {
	return func(v any) error {
		var d time.Duration
		switch x := v.(type) {
		case string:
			var err error
			if d, err = time.ParseDuration(strings.TrimSpace(x)); err != nil {
				return typeErr("%q is not a duration: write a Go duration such as 15s, 500ms, 5m or 1h30m", x)
			}
		case time.Duration:
			d = x
		case int, int64, uint64, float64:
			return typeErr("%v has no unit: write a Go duration such as %vs, %vms or %vm", x, x, x, x)
		default:
			return typeErr("is a %s, not a duration: write a Go duration such as 15s", kind(v))
		}
		if d < 0 {
			return typeErr("%s is negative: write a duration such as 15s", d)
		}
		*dst = d
		return nil
	}
}

// asList decodes a YAML list of strings, or a comma-separated string (from
// the environment or a flag).
func asList(dst *[]string) func(any) error {
	return func(v any) error {
		var out []string
		switch x := v.(type) {
		case string:
			for _, s := range strings.Split(x, ",") {
				if s = strings.TrimSpace(s); s != "" {
					out = append(out, s)
				}
			}
		case []string:
			out = append(out, x...)
		case []any:
			for i, e := range x {
				s, ok := e.(string)
				if !ok {
					return typeErr("entry %d is a %s, not a string: write a list of names such as [a, b]", i, kind(e))
				}
				out = append(out, s)
			}
		default:
			return typeErr("is a %s, not a list: write a list such as [a, b]", kind(v))
		}
		if out == nil {
			out = []string{}
		}
		*dst = out
		return nil
	}
}

// shellWant says how to write the shell handler's allow-list.
const shellWant = `write a list of program names and argument lists, e.g. [[pg_dump, app], [rsync, -a, "/srv/*", /backup/]]`

// asShellRules decodes the shell handler's allow-list: a YAML list whose
// entries are program names (strings) or argument vector patterns (lists
// of strings). From the environment or a flag it is a comma-separated list
// of program names, or the YAML list itself when it starts with [.
func asShellRules(dst *[]tasks.ShellRule) func(any) error {
	const want = shellWant
	return func(v any) error {
		if s, ok := v.(string); ok && strings.HasPrefix(strings.TrimSpace(s), "[") {
			var parsed any
			if err := yaml.Unmarshal([]byte(s), &parsed); err != nil {
				return typeErr("%q is not a YAML list: %v: %s", s, err, want)
			}
			v = parsed
		}
		out := []tasks.ShellRule{}
		switch x := v.(type) {
		case nil:
		case string:
			for _, s := range strings.Split(x, ",") {
				if s = strings.TrimSpace(s); s != "" {
					out = append(out, tasks.ShellRule{Program: s})
				}
			}
		case []string:
			for _, s := range x {
				out = append(out, tasks.ShellRule{Program: s})
			}
		case []any:
			for i, e := range x {
				r, err := asShellRule(e)
				if err != nil {
					return typeErr("entry %d%v", i, err)
				}
				out = append(out, r)
			}
		default:
			return typeErr("is a %s, not a list: %s", kind(v), want)
		}
		*dst = out
		return nil
	}
}

// asShellRule decodes one entry of the shell handler's allow-list.
func asShellRule(e any) (tasks.ShellRule, error) {
	switch y := e.(type) {
	case string:
		return tasks.ShellRule{Program: y}, nil
	case []string:
		return tasks.ShellRule{Argv: append([]string{}, y...)}, nil
	case []any:
		argv := make([]string, len(y))
		for j, a := range y {
			s, ok := a.(string)
			switch {
			case ok:
			case scalar(a):
				return tasks.ShellRule{}, fmt.Errorf(", element %d: %v is a %s, not a string: quote it, e.g. \"%v\"", j, a, kind(a), a)
			default:
				return tasks.ShellRule{}, fmt.Errorf(", element %d is a %s, not a string: write each argument as a string", j, kind(a))
			}
			argv[j] = s
		}
		return tasks.ShellRule{Argv: argv}, nil
	case nil:
		return tasks.ShellRule{}, fmt.Errorf(" is empty: %s", shellWant)
	case bool, int, int64, uint64, float64:
		return tasks.ShellRule{}, fmt.Errorf(" is a %s, not a program name: quote it, e.g. \"%v\"", kind(e), e)
	}
	return tasks.ShellRule{}, fmt.Errorf(" is a %s, neither a program name nor a list of strings: %s", kind(e), shellWant)
}

// scalar reports whether v is a YAML scalar that is safe to echo.
func scalar(v any) bool {
	switch v.(type) {
	case bool, int, int64, uint64, float64:
		return true
	}
	return false
}

// kind names v's YAML type for messages.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case int, int64, uint64:
		return "whole number"
	case float64:
		return "number"
	case []any, []string:
		return "list"
	case map[string]any, map[any]any:
		return "map"
	}
	return fmt.Sprintf("%T", v)
}
