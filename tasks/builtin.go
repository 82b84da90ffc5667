package tasks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// MaxOutputBytes caps what the shell handler keeps of a program's stdout and
// of its stderr, and what the http handler keeps of a response body. Output
// past the cap is dropped and the kept text ends with a note saying so.
const MaxOutputBytes = 1 << 20

// BuiltinConfig configures the built-in handlers of the stock binary (SPEC
// §3.4). The zero value runs echo and sleep only: shell and http reach outside
// the daemon, so they stay off until their allow-lists name what they may use.
type BuiltinConfig struct {
	// ShellAllow lists the programs the shell handler may run, as they must
	// appear in a task's cmd[0] ("rsync", or "/usr/bin/rsync" to pin a path).
	// A name without a slash is looked up in the daemon's PATH. Defaults to
	// empty, which turns shell off. A shell ("sh", "bash") runs only if listed.
	ShellAllow []string
	// HTTPAllow lists the host names (no scheme or port) the http handler may
	// reach, also through redirects: "api.example.com", "127.0.0.1". Matching
	// is exact and case-insensitive; no wildcards. Defaults to empty, which
	// turns http off.
	HTTPAllow []string
}

// RegisterBuiltins registers the built-in handlers on r: echo and sleep
// always; shell and http when their allow-lists name at least one entry.
// Otherwise they are disabled, and looking them up returns an error naming
// the configuration key that turns them on.
func RegisterBuiltins(r *Registry, cfg BuiltinConfig) {
	r.Register("echo", Echo)
	r.Register("sleep", Sleep)
	if len(newAllowList(cfg.ShellAllow, false)) > 0 {
		r.Register("shell", Shell(cfg.ShellAllow))
	} else {
		r.Disable("shell", "the shell handler is off: list the programs it may run in handlers.shell.allow")
	}
	if len(newAllowList(cfg.HTTPAllow, true)) > 0 {
		r.Register("http", HTTP(cfg.HTTPAllow))
	} else {
		r.Disable("http", "the http handler is off: list the hosts it may reach in handlers.http.allow")
	}
}

// allowList is a set of allowed program or host names.
type allowList map[string]bool

// newAllowList builds the set from entries, skipping blank ones. Host names
// are lower-cased and lose IPv6 brackets, since host matching is
// case-insensitive; program names are kept exactly.
func newAllowList(entries []string, hosts bool) allowList {
	a := allowList{}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if hosts {
			e = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(e, "["), "]"))
		}
		if e != "" {
			a[e] = true
		}
	}
	return a
}

// String lists the entries, sorted, for error messages.
func (a allowList) String() string {
	names := make([]string, 0, len(a))
	for n := range a {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
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
