package tasks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// MaxOutputBytes caps what the shell handler keeps of a program's stdout and
// of its stderr, and what the http handler keeps of a response body. Output
// past the cap is dropped and the kept text ends with a note saying so.
const MaxOutputBytes = 1 << 20

// BuiltinConfig configures the built-in handlers of the stock binary (echo,
// sleep, shell and http). The zero value runs echo and sleep only: shell and
// http reach outside the daemon, so they stay off until their allow-lists
// name what they may use.
type BuiltinConfig struct {
	// ShellAllow lists what the shell handler may run: program names, each
	// allowing that program with any arguments, and argument vector
	// patterns, each allowing only the commands it matches (see ShellRule).
	// Defaults to empty, which turns shell off. A shell ("sh", "bash") runs
	// only if an entry allows it.
	ShellAllow []ShellRule
	// HTTPAllow lists what the http handler may reach, also through
	// redirects: a host (ports 80 and 443), a host:port, or a URL prefix
	// scheme://host[:port]/path (see ParseHTTPRule). Defaults to empty,
	// which turns http off.
	HTTPAllow []string
	// HTTPOwn returns the addresses the http handler never reaches,
	// whatever HTTPAllow says: host:port mapped to what it is, e.g.
	// "127.0.0.1:6379": "this daemon's Redis". A daemon passes its own HTTP
	// API and its Redis. It is called at each connection the handler
	// opens, so it may return addresses learnt after the handler was built
	// (an embedded Redis's port). Nil: none.
	HTTPOwn func() map[string]string
}

// RegisterBuiltins registers the built-in handlers on r: echo and sleep
// always; shell and http when their allow-lists name at least one entry.
// Otherwise, or when an entry is not valid, they are disabled, and looking
// them up returns an error naming the configuration key to fix.
func RegisterBuiltins(r *Registry, cfg BuiltinConfig) {
	r.Register("echo", Echo)
	r.Register("sleep", Sleep)
	if len(cfg.ShellAllow) == 0 {
		r.Disable("shell", "the shell handler is off: "+ShellHowTo)
	} else if h, err := Shell(cfg.ShellAllow); err != nil {
		r.Disable("shell", "the shell handler is off: "+err.Error())
	} else {
		r.Register("shell", h)
	}
	if len(cfg.HTTPAllow) == 0 {
		r.Disable("http", "the http handler is off: "+HTTPHowTo)
	} else if h, err := HTTP(cfg.HTTPAllow, cfg.HTTPOwn); err != nil {
		r.Disable("http", "the http handler is off: "+err.Error())
	} else {
		r.Register("http", h)
	}
}

// decodeArgs decodes call's args into v for the handler named handler.
// Unknown fields are errors, so a misspelt field is not silently ignored;
// empty args mean {}.
func decodeArgs(handler string, call *Call, v any) error {
	if call == nil || call.Task == nil {
		return fmt.Errorf("%s: no task to run", handler)
	}
	args := call.Task.Args
	if len(bytes.TrimSpace(args)) == 0 {
		args = json.RawMessage("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field == "" {
			return fmt.Errorf("%s: args must be a JSON object, not %s", handler, typeErr.Value)
		}
		return fmt.Errorf("%s: args: %w", handler, err)
	}
	return nil
}

// parentOutcomes returns call's parents' outcomes ready to encode as JSON: an
// empty list rather than null when there are none, and a missing result as
// null.
func parentOutcomes(call *Call) []Outcome {
	out := make([]Outcome, 0, len(call.Parents))
	for _, p := range call.Parents {
		if len(bytes.TrimSpace(p.Result)) == 0 {
			p.Result = nil
		}
		out = append(out, p)
	}
	return out
}

// How to turn the shell and http handlers on, for the errors of a task
// that asks for one that is off.
const (
	ShellHowTo = `list the commands it may run in handlers.shell.allow (a program name, or an argument list such as [pg_dump, "--dbname=*"])`
	HTTPHowTo  = "list what it may reach in handlers.http.allow (host, host:port or a URL prefix)"
)

// entries lists allow-list entries for error messages: "a, b", or "none".
func entries[T fmt.Stringer](rs []T) string {
	if len(rs) == 0 {
		return "none"
	}
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.String()
	}
	return strings.Join(names, ", ")
}
