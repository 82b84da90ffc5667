package scheduler

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/redis/go-redis/v9"
)

// script is one of the engine's Lua scripts, in two forms. The flagged
// form starts with a "#!lua" line, so Redis 7 decides before running it
// whether it may write: when Redis is out of memory (maxmemory with
// noeviction) or a read-only replica, the whole call is refused and
// nothing of it is done. Without that line Redis refuses only the first
// write that would grow memory and lets a script that already wrote go
// on, so a refusal could leave half a transition behind. The plain form is
// for a Redis that does not read the line (the embedded Redis; Redis 6).
type script struct {
	flagged, plain *redis.Script
}

// newScript makes a script of src, with in front the functions of the
// prelude it calls (preludeFor); flags are Redis's script flags for the
// flagged form ("" for none, which refuses the call when Redis cannot take
// writes).
func newScript(flags, src string) *script {
	src = preludeFor(preludeLua, src) + src
	line := "#!lua"
	if flags != "" {
		line += " flags=" + flags
	}
	return &script{flagged: redis.NewScript(line + "\n" + src), plain: redis.NewScript(src)}
}

// preludeFor returns the functions of prelude that src calls, directly or
// through another of them, each with the comment above it, in prelude
// order. Every call of a script defines its functions again, so a script
// carries only those it uses.
func preludeFor(prelude, src string) string {
	type fn struct{ name, text string }
	var fns []fn
	for _, m := range preludeFunc.FindAllStringSubmatchIndex(prelude, -1) {
		fns = append(fns, fn{name: prelude[m[2]:m[3]], text: prelude[m[0]:m[1]]})
	}
	used := map[string]bool{}
	for uses := src; ; {
		added := ""
		for _, f := range fns {
			if !used[f.name] && regexp.MustCompile(`\b`+f.name+`\(`).MatchString(uses) {
				used[f.name] = true
				added += f.text
			}
		}
		if added == "" {
			break
		}
		uses = added
	}
	var b strings.Builder
	for _, f := range fns {
		if used[f.name] {
			b.WriteString(f.text)
		}
	}
	return b.String()
}

// preludeFunc matches one function of the prelude: its comment lines, and
// "local function NAME(" to the "end" that closes it at the start of a line.
var preludeFunc = regexp.MustCompile(`(?ms)(?:^--[^\n]*\n)*^local function (\w+)\(.*?^end\n`)

// Whether the Redis of an index reads script flags, learned once.
const (
	flagsUnknown = iota
	flagsRead
	flagsIgnored
)

// prepare learns, at the first call, whether Redis reads script flags.
func (x *index) prepare(ctx context.Context) error {
	if x.flags.Load() != flagsUnknown {
		return nil
	}
	err := x.rdb.Eval(ctx, "#!lua flags=no-writes\nreturn 1", nil).Err()
	switch {
	case err == nil:
		x.flags.Store(flagsRead)
	case strings.Contains(err.Error(), "Error compiling script"):
		x.flags.Store(flagsIgnored)
	default:
		return fmt.Errorf("reach Redis: %w", err)
	}
	return nil
}

// form is the form of s this index's Redis runs; call prepare first.
func (x *index) form(s *script) *redis.Script {
	if x.flags.Load() == flagsIgnored {
		return s.plain
	}
	return s.flagged
}

// run runs s, loading it into Redis when Redis does not have it.
func (x *index) run(ctx context.Context, s *script, keys []string, args ...any) *redis.Cmd {
	if err := x.prepare(ctx); err != nil {
		cmd := redis.NewCmd(ctx)
		cmd.SetErr(err)
		return cmd
	}
	return x.form(s).Run(ctx, x.rdb, keys, args...)
}

// evalSha queues a call of s by its hash on pipe; call prepare first, and
// load (then send again) when a reply says NOSCRIPT.
func (x *index) evalSha(ctx context.Context, pipe redis.Pipeliner, s *script, keys []string, args ...any) *redis.Cmd {
	return x.form(s).EvalSha(ctx, pipe, keys, args...)
}

// load loads scripts into Redis, for pipelines that call them by hash.
func (x *index) load(ctx context.Context, scripts ...*script) error {
	for _, s := range scripts {
		if err := x.form(s).Load(ctx, x.rdb).Err(); err != nil {
			return fmt.Errorf("load a script into Redis: %w", err)
		}
	}
	return nil
}

// isNoScript reports whether err says Redis had not loaded a script (after
// a restart or SCRIPT FLUSH): the call did not run.
func isNoScript(err error) bool {
	return err != nil && redis.HasErrorPrefix(err, "NOSCRIPT")
}
