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
		if every < MinEvery {
			return Rule{}, fmt.Errorf("%w: every %s: use %s or more", ErrInvalid, every, MinEvery)
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
	d, perr := time.ParseDuration(arg)
	switch {
	case perr != nil:
		return 0, true, fmt.Errorf("%w: cron %q: %q is not a duration such as 90s or 1h30m", ErrInvalid, spec, arg)
	case d < MinEvery:
		return 0, true, fmt.Errorf("%w: cron %q: @every %s: use %s or more", ErrInvalid, spec, d, MinEvery)
	}
	return d, true, nil
}

func parseCron(spec string) (r Rule, err error) {
	defer func() { // robfig/cron panics on some specs, e.g. "TZ=Europe/Berlin"
		if p := recover(); p != nil {
			r, err = Rule{}, fmt.Errorf("%w: cron %q: %v", ErrInvalid, spec, p)
		}
	}()
	s := strings.TrimSpace(spec)
	if len(s) > 200 {
		return Rule{}, fmt.Errorf("%w: cron spec of %d characters: too long", ErrInvalid, len(s))
	}
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
