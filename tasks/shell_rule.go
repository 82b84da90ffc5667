package tasks

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// AnyArgs is the last element of a ShellRule's Argv that allows any further
// arguments: [rsync, -a, ...] is a prefix.
const AnyArgs = "..."

// ShellRule is one entry of the shell handler's allow-list: either a program
// name (Program), which allows that program with any arguments, or an
// argument vector pattern (Argv), which allows only the commands it matches.
//
// The program is matched exactly, never as a pattern: "rsync" allows a cmd
// whose cmd[0] is "rsync" (looked up in the daemon's PATH), not
// "/usr/bin/rsync"; name "/usr/bin/rsync" to pin a path.
//
// A pattern [prog, p1, ..., pn] matches a cmd of exactly n+1 elements whose
// cmd[0] is prog and whose cmd[i] matches pi, position by position:
//   - an element without * must equal the argument;
//   - * matches any run of characters except /: "--dbname=*" matches
//     --dbname=app, "/var/log/app/*.log" matches the .log files of that
//     directory and not of the ones below it;
//   - an element with * never matches an argument that starts with - unless
//     the element itself starts with -, so a wildcard cannot pass an option
//     (such as rsync's -e, which runs a command);
//   - an element with * never matches an argument that has a .. path
//     element, so "/srv/data/*" does not reach /srv/data/../../etc;
//   - a last element "..." (AnyArgs) matches any further arguments, options
//     included: [rsync, -a, ...] allows rsync -a followed by anything.
//
// Nothing else is special: ?, [ and \ are ordinary characters.
type ShellRule struct {
	// Program is set for a program-name entry: this program with any
	// arguments.
	Program string
	// Argv is set for a pattern entry: Argv[0] is the program, the rest
	// are the patterns of its arguments.
	Argv []string
}

// Validate reports what is wrong with r: it must be a non-empty program name
// or a list of non-empty strings whose first element, the program, has no *
// and whose "..." comes last if at all.
func (r ShellRule) Validate() error {
	switch {
	case r.Program != "" && r.Argv != nil:
		return errors.New("is both a program name and a list: give one of them")
	case r.Argv == nil && strings.TrimSpace(r.Program) == "":
		return errors.New(`is empty: write a program name such as rsync, or a list such as [rsync, -a, "/srv/*", /backup/]`)
	case r.Argv == nil:
		return checkProgram(r.Program)
	case len(r.Argv) == 0:
		return errors.New(`is an empty list: start it with the program, e.g. [rsync, -a, "/srv/*", /backup/]`)
	}
	if err := checkProgram(r.Argv[0]); err != nil {
		return err
	}
	for i, e := range r.Argv[1:] {
		switch {
		case e == "":
			return fmt.Errorf("element %d is empty: write the argument it stands for, or \"*\" for any one argument", i+1)
		case e == AnyArgs && i+1 != len(r.Argv)-1:
			return fmt.Errorf("element %d is %q, which may only be the last element (any further arguments)", i+1, AnyArgs)
		}
	}
	return nil
}

// checkProgram checks the program of an entry: non-empty and no pattern.
func checkProgram(p string) error {
	switch {
	case strings.TrimSpace(p) == "":
		return errors.New("the program (the first element) is empty: name it, e.g. [rsync, -a, ...]")
	case strings.TrimSpace(p) != p:
		return fmt.Errorf("the program %q has spaces around it: write it without them", p)
	case p == AnyArgs || strings.Contains(p, "*"):
		return fmt.Errorf("the program %q is a pattern: name the program exactly, e.g. rsync or /usr/bin/rsync", p)
	}
	return nil
}

// program is the program r allows.
func (r ShellRule) program() string {
	if r.Argv == nil {
		return r.Program
	}
	return r.Argv[0]
}

// Warning says, for an entry that allows any arguments (a program name, or
// a pattern ending in "..."), that it does; "" for any other entry.
func (r ShellRule) Warning() string {
	switch {
	case r.Argv == nil:
		return fmt.Sprintf("handlers.shell.allow: %s allows any arguments (a task may pass it any option, such as one that runs a command or writes a file): list the argument vectors it may run instead, e.g. [%s, --flag, \"*\"]", r, flowWord(r.Program))
	case r.Argv[len(r.Argv)-1] == AnyArgs:
		return fmt.Sprintf("handlers.shell.allow: %s allows any arguments after %s (options included): end the entry without %q to allow only the arguments it lists", r, flow(r.Argv[:len(r.Argv)-1]), AnyArgs)
	}
	return ""
}

// Allows reports whether r allows running cmd (cmd[0] and its arguments).
func (r ShellRule) Allows(cmd []string) bool {
	if len(cmd) == 0 || cmd[0] != r.program() {
		return false
	}
	if r.Argv == nil {
		return true
	}
	pats, args := r.Argv[1:], cmd[1:]
	if n := len(pats); n > 0 && pats[n-1] == AnyArgs {
		pats = pats[:n-1]
		if len(args) < len(pats) {
			return false
		}
		args = args[:len(pats)]
	}
	if len(args) != len(pats) {
		return false
	}
	for i, p := range pats {
		if !argMatch(p, args[i]) {
			return false
		}
	}
	return true
}

// String is r as it is written in config.yaml: rsync, or [rsync, -a, "*"].
func (r ShellRule) String() string {
	if r.Argv == nil {
		return flowWord(r.Program)
	}
	return flow(r.Argv)
}

// argMatch reports whether arg matches the pattern element p (see ShellRule).
func argMatch(p, arg string) bool {
	if !strings.Contains(p, "*") {
		return p == arg
	}
	if strings.HasPrefix(arg, "-") && !strings.HasPrefix(p, "-") {
		return false
	}
	as, ps := strings.Split(arg, "/"), strings.Split(p, "/")
	if len(as) != len(ps) {
		return false
	}
	for i := range ps {
		if as[i] == ".." || !starMatch(ps[i], as[i]) {
			return false
		}
	}
	return true
}

// starMatch reports whether s matches p, in which * matches any run of
// characters (p and s hold no /).
func starMatch(p, s string) bool {
	// Greedy with one backtrack point: the last * seen.
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && p[pi] == s[si]:
			pi++
			si++
		case star >= 0:
			mark++
			pi, si = star+1, mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// shellRules is the shell handler's allow-list.
type shellRules []ShellRule

// check returns nil when a rule allows cmd, else an error that names cmd,
// the entries for its program and the entry that would allow it.
func (rs shellRules) check(cmd []string) error {
	var same []string
	for _, r := range rs {
		if r.Allows(cmd) {
			return nil
		}
		if r.program() == cmd[0] {
			same = append(same, r.String())
		}
	}
	exact := flow(cmd)
	if len(same) == 0 {
		return fmt.Errorf("shell: program %s is not allowed by handlers.shell.allow (its entries: %s): add an entry such as %s to allow exactly this command",
			strconv.Quote(cmd[0]), rs, short(exact))
	}
	return fmt.Errorf("shell: %s is not allowed by handlers.shell.allow: its entries for %s allow %s; add an entry such as %s to allow exactly this command",
		short(exact), flowWord(cmd[0]), strings.Join(same, ", "), short(exact))
}

// String lists the entries for error messages.
func (rs shellRules) String() string { return entries(rs) }

// short cuts s to at most 300 bytes for an error message.
func short(s string) string {
	const size = 300
	if len(s) <= size {
		return s
	}
	return strings.ToValidUTF8(s[:size], "") + "...]"
}

// flow writes list as a YAML flow sequence: [rsync, -a, "*"].
func flow(list []string) string {
	words := make([]string, len(list))
	for i, w := range list {
		words[i] = flowWord(w)
	}
	return "[" + strings.Join(words, ", ") + "]"
}

// flowWord writes s as a YAML flow scalar: plain when YAML reads it back
// as this string, else double-quoted.
func flowWord(s string) string {
	if plainWord(s) {
		return s
	}
	return strconv.Quote(s)
}

// plainWord reports whether s may be written unquoted in a YAML flow
// sequence and read back as the same string.
func plainWord(s string) bool {
	if s == "" || s == "-" {
		return false
	}
	switch strings.ToLower(s) {
	case "true", "false", "null", "~", "yes", "no", "on", "off", "y", "n", ".inf", "-.inf", "+.inf", ".nan":
		return false
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return false
	}
	if _, err := strconv.ParseInt(s, 0, 64); err == nil {
		return false
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == '/', c == '-':
		case i > 0 && strings.ContainsRune("=:@%+~", c):
		default:
			return false
		}
	}
	return true
}
