// Package recur parses the rules of recurring tasks: `every` Go
// durations and cron specs (5 fields, 6 with seconds, descriptors such as
// @hourly, and a CRON_TZ=Zone prefix; UTC otherwise), and computes their
// slots. Parsing never panics: the cron parser's panics on some bad specs
// become errors.
package recur

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/robfig/cron/v3"
)

// MinEvery is the shortest interval of an every rule.
const MinEvery = 100 * time.Millisecond

// ErrInvalid marks every rejected rule.
var ErrInvalid = errors.New("invalid schedule")

var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Rule is a parsed schedule: the slots at which a recurring task fires.
type Rule struct {
	every  time.Duration
	anchor time.Time // every rules fire at anchor + k*every
	cron   cron.Schedule
	spec   string
}

// Parse returns the rule of exactly one of every (with slots counted from
// anchor) and cron. Errors wrap ErrInvalid and carry the parser's reason.
func Parse(every time.Duration, spec string, anchor time.Time) (r Rule, err error) {
	if anchor.IsZero() {
		anchor = time.Unix(0, 0) // slots counted from year 1 would overflow a Duration
	}
	switch {
	case every != 0 && spec != "":
		return Rule{}, fmt.Errorf("%w: give every or cron, not both", ErrInvalid)
	case every == 0 && spec == "":
		return Rule{}, fmt.Errorf("%w: give every (such as 8s) or cron (such as \"*/5 * * * *\")", ErrInvalid)
	case every != 0:
		if err := checkEvery(every); err != nil {
			return Rule{}, fmt.Errorf("%w: every %w", ErrInvalid, err)
		}
		return Rule{every: every, anchor: anchor.Truncate(time.Millisecond)}, nil
	}
	if d, ok, err := cronEvery(spec); ok {
		if err != nil {
			return Rule{}, err
		}
		return Rule{every: d, anchor: anchor.Truncate(time.Millisecond), spec: strings.TrimSpace(spec)}, nil
	}
	return parseCron(spec)
}

// cronEvery reads a cron spec "@every DURATION" (a time zone before it
// changes nothing) as an every rule, with every's minimum: the cron
// parser would round it up to a second, and take 0 or less. ok is false
// for any other spec.
func cronEvery(spec string) (d time.Duration, ok bool, err error) {
	s := strings.TrimSpace(spec)
	if strings.HasPrefix(s, "CRON_TZ=") || strings.HasPrefix(s, "TZ=") {
		_, s, _ = strings.Cut(s, " ")
		s = strings.TrimSpace(s)
	}
	arg, ok := strings.CutPrefix(s, "@every")
	if !ok {
		return 0, false, nil
	}
	arg = strings.TrimSpace(arg)
	if err := checkSpec(spec); err != nil {
		return 0, true, err
	}
	d, perr := time.ParseDuration(arg)
	if perr != nil {
		return 0, true, fmt.Errorf("%w: cron %q: %q is not a duration such as 90s or 1h30m", ErrInvalid, spec, arg)
	}
	if err := checkEvery(d); err != nil {
		return 0, true, fmt.Errorf("%w: cron %q: @every %w", ErrInvalid, spec, err)
	}
	return d, true, nil
}

// checkEvery reports an interval an every rule cannot have: under
// MinEvery, or not whole milliseconds (slots are stored in ms, so such a
// rule would not read back as given).
func checkEvery(d time.Duration) error {
	switch {
	case d < MinEvery:
		return fmt.Errorf("%s: use %s or more", d, MinEvery)
	case d%time.Millisecond != 0:
		return fmt.Errorf("%s: use whole milliseconds, e.g. %s", d, d.Truncate(time.Millisecond))
	}
	return nil
}

// checkSpec checks what every cron spec must be: UTF-8, at most 200
// characters, and any time zone prefix one that loads.
func checkSpec(spec string) error {
	s := strings.TrimSpace(spec)
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: cron spec holds invalid UTF-8", ErrInvalid)
	}
	if len(s) > 200 {
		return fmt.Errorf("%w: cron spec of %d characters: too long", ErrInvalid, len(s))
	}
	for _, prefix := range []string{"CRON_TZ=", "TZ="} {
		if rest, ok := strings.CutPrefix(s, prefix); ok {
			zone, _, _ := strings.Cut(rest, " ")
			if _, err := time.LoadLocation(zone); err != nil {
				return fmt.Errorf("%w: cron %q: time zone %q: %v", ErrInvalid, spec, zone, err)
			}
		}
	}
	return nil
}

func parseCron(spec string) (r Rule, err error) {
	defer func() { // robfig/cron panics on some specs, e.g. "TZ=Europe/Berlin"
		if p := recover(); p != nil {
			r, err = Rule{}, fmt.Errorf("%w: cron %q: %v", ErrInvalid, spec, p)
		}
	}()
	if err := checkSpec(spec); err != nil {
		return Rule{}, err
	}
	s := strings.TrimSpace(spec)
	full := s
	if strings.HasPrefix(s, "CRON_TZ=") || strings.HasPrefix(s, "TZ=") {
		if _, rest, ok := strings.Cut(s, " "); !ok || strings.TrimSpace(rest) == "" {
			return Rule{}, fmt.Errorf("%w: cron %q: a time zone needs a spec after it, such as \"CRON_TZ=Europe/Berlin 0 9 * * *\"", ErrInvalid, spec)
		}
	} else {
		full = "CRON_TZ=UTC " + s
	}
	sched, err := parser.Parse(full)
	if err != nil {
		return Rule{}, fmt.Errorf("%w: cron %q: %v", ErrInvalid, spec, err)
	}
	if sched.Next(time.Now()).IsZero() {
		return Rule{}, fmt.Errorf("%w: cron %q never fires", ErrInvalid, spec)
	}
	return Rule{cron: sched, spec: s}, nil
}

// Next returns the first slot strictly after t.
func (r Rule) Next(t time.Time) time.Time {
	if r.every > 0 {
		if t.Before(r.anchor) {
			return r.anchor
		}
		k := t.Sub(r.anchor)/r.every + 1
		return r.anchor.Add(k * r.every)
	}
	return r.cron.Next(t).UTC()
}

// String describes the rule: "every 8s" or "cron */5 * * * *".
func (r Rule) String() string {
	if r.spec != "" {
		return "cron " + r.spec
	}
	return "every " + r.every.String()
}
