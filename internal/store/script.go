package store

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// script is one of the store's Lua scripts, in two forms. The flagged
// form starts with a "#!lua" line, so Redis 7 decides before running it
// whether it may write: when Redis is out of memory (maxmemory with
// noeviction) or a read-only replica, the whole call is refused and
// nothing of it is done. Without that line Redis refuses only the first
// write that would grow memory and lets a script that already wrote go
// on, so a refusal could leave half a transition behind. The plain form is
// for a Redis that does not read the line (the embedded Redis; Redis 6).
//
// A third form, sharded, is the flagged form publishing with SPUBLISH
// instead of PUBLISH, for a Redis Cluster: a message on a channel of a
// partition's hash tag then reaches only the shard that owns the
// partition (sharded pub/sub), not every node of the cluster.
type script struct {
	name                    string // its file's name without .lua, for ScriptName
	flagged, plain, sharded *redis.Script
	// The sources of the forms, for loading them in a pipeline:
	// redis.Script.Load would take the reply of a command not yet sent as
	// its hash.
	flaggedSrc, plainSrc, shardedSrc string
}

// scripts are all the scripts made, by the hashes of both their forms.
var scripts = map[string]*script{}

// newScript makes script name of src, with in front the functions of the
// prelude it calls (preludeFor); flags are Redis's script flags for the
// flagged form ("" for none, which refuses the call when Redis cannot take
// writes).
func newScript(name, flags, src string) *script {
	src = preludeFor(preludeLua, src) + src
	line := "#!lua"
	if flags != "" {
		line += " flags=" + flags
	}
	sharded := line + "\n" + strings.ReplaceAll(src, "redis.call('PUBLISH',", "redis.call('SPUBLISH',")
	s := &script{name: name, flagged: redis.NewScript(line + "\n" + src), plain: redis.NewScript(src), sharded: redis.NewScript(sharded),
		flaggedSrc: line + "\n" + src, plainSrc: src, shardedSrc: sharded}
	scripts[s.flagged.Hash()], scripts[s.plain.Hash()], scripts[s.sharded.Hash()] = s, s, s
	return s
}

// allScripts returns every script made, each once (scripts holds each
// under every form's hash).
func allScripts() []*script {
	seen := map[*script]bool{}
	var all []*script
	for _, sc := range scripts {
		if !seen[sc] {
			seen[sc] = true
			all = append(all, sc)
		}
	}
	return all
}

// ScriptName names the script of hash sha ("submit", "claim", "finish",
// ... as its .lua file is named), or returns "" when it is none of the
// store's: for tests and tools that watch the EVALSHA calls a client sends.
func ScriptName(sha string) string {
	if s := scripts[sha]; s != nil {
		return s.name
	}
	return ""
}

// ScriptArg sums the numeric ARGV[i+1] of the calls in cmds of the store's
// script name ("submit", "finish", ...), for tests and tools that watch
// the calls a client sends: ScriptArg(cmds, "submit", 0) is how many tasks
// a pipeline submits.
func ScriptArg(cmds []redis.Cmder, name string, i int) int {
	n := 0
	for _, c := range cmds {
		a := c.Args()
		if len(a) < 3 || a[0] != "evalsha" || ScriptName(fmt.Sprint(a[1])) != name {
			continue
		}
		nkeys, _ := strconv.Atoi(fmt.Sprint(a[2]))
		k, _ := strconv.Atoi(fmt.Sprint(a[3+nkeys+i]))
		n += k
	}
	return n
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

// Whether the Redis of a store reads script flags, learned once.
const (
	flagsUnknown = iota
	flagsRead
	flagsIgnored
)

// prepare learns, at the first call, whether Redis reads script flags,
// and loads every script. Loaded before the first call, a script is
// missing (NOSCRIPT) only after Redis restarted or flushed its scripts:
// otherwise a pipeline of calls that depend on each other (a bulk submit)
// could have its first calls refused and its later ones run, when another
// process loads the script while the pipeline arrives, and the refused
// calls sent again would run after the ones that came later.
func (s *Store) prepare(ctx context.Context) error {
	if s.flags.Load() != flagsUnknown {
		return nil
	}
	err := s.rdb.Eval(ctx, "#!lua flags=no-writes\nreturn 1", nil).Err()
	flags := int32(flagsRead)
	switch {
	case err == nil:
	case strings.Contains(err.Error(), "Error compiling script"):
		flags = flagsIgnored
	default:
		return fmt.Errorf("reach Redis: %w", err)
	}
	// A user whose ACL refuses SCRIPT (NOPERM) calls the scripts another
	// loaded, by their hashes, as before: a call that meets NOSCRIPT then
	// fails with the refusal (load), and is not sent again, so no call
	// runs after one sent later.
	if err := loadAll(ctx, s.rdb, s.formOf(flags)); err != nil && !redis.HasErrorPrefix(err, "NOPERM") {
		return fmt.Errorf("load the scripts into Redis: %w", err)
	}
	s.flags.Store(flags)
	return nil
}

// loadAll loads every script, in the form form picks, in one pipeline
// per server: on a Redis Cluster into every primary, since a command
// without keys (SCRIPT LOAD) in a pipeline reaches just one node.
func loadAll(ctx context.Context, rdb redis.UniversalClient, form func(*script) string) error {
	load := func(ctx context.Context, c redis.Cmdable) error {
		pipe := c.Pipeline()
		for _, sc := range allScripts() {
			pipe.ScriptLoad(ctx, form(sc))
		}
		_, err := pipe.Exec(ctx)
		return err
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error { return load(ctx, node) })
	}
	return load(ctx, rdb)
}

// Prepare learns whether Redis reads script flags, which every script
// call needs to know; a first call does it by itself. Its error says
// Redis could not be reached.
func (s *Store) Prepare(ctx context.Context) error { return s.prepare(ctx) }

// form is the form of sc this store's Redis runs; call prepare first.
func (s *Store) form(sc *script) *redis.Script {
	switch {
	case s.flags.Load() == flagsIgnored:
		return sc.plain
	case s.sharded():
		return sc.sharded
	}
	return sc.flagged
}

// formOf returns the source of the form of each script a Redis that
// reads script flags as flags says runs.
func (s *Store) formOf(flags int32) func(*script) string {
	return func(sc *script) string {
		switch {
		case flags == flagsIgnored:
			return sc.plainSrc
		case s.sharded():
			return sc.shardedSrc
		}
		return sc.flaggedSrc
	}
}

// sharded reports whether the store's Redis is a Redis Cluster, whose
// scripts publish on sharded channels (SPUBLISH).
func (s *Store) sharded() bool {
	_, ok := s.rdb.(*redis.ClusterClient)
	return ok
}

// call is one script call: the script, its KEYS and ARGV in the order
// the script's header documents (built by the params of its method), and,
// once sent, its reply and when it went and came back by the local clock.
type call struct {
	script     *script
	keys       []string
	args       []any
	cmd        *redis.Cmd
	sent, recv time.Time
	// replicas, when the store waits for replicas, says the call ran but
	// WAIT did not confirm it (a *NotReplicatedError).
	replicas error
}

// send sends calls in one pipelined round trip, each by its script's hash.
// This is the one place that handles NOSCRIPT (Redis restarted, or its
// scripts were flushed): a call so answered did not run, so the scripts
// of those calls are loaded and those calls alone are sent again, once;
// the others ran and are not repeated. A call that a Redis Cluster node
// reached by hand (trips, when the store waits for replicas) redirected
// (MOVED, ASK) did not run either: it is sent again the same way, once the
// cluster's state is reloaded. Each call's reply, or its error, is in its
// cmd. The error returned means nothing was sent.
func (s *Store) send(ctx context.Context, calls ...*call) error {
	if err := s.prepare(ctx); err != nil {
		return err
	}
	todo := calls
	for try := 0; ; try++ {
		trips, err := s.trips(ctx, todo)
		if err != nil {
			if try == 0 {
				return err
			}
			for _, c := range todo {
				c.cmd.SetErr(err)
			}
			return nil
		}
		for _, t := range trips {
			for _, c := range t.calls {
				c.cmd = s.form(c.script).EvalSha(ctx, t.pipe, c.keys, c.args...)
			}
			s.confirm(ctx, t)
		}
		var again []*call
		moved := false
		for _, t := range trips {
			sent := s.clock.local.Now()
			_, err := t.pipe.Exec(ctx) // each command's own error is read by its caller
			recv := s.clock.local.Now()
			if t.byHand && !isReply(err) {
				moved = true // a node reached by hand (trips) did not answer: it may have failed over
			}
			for _, c := range t.calls {
				c.sent, c.recv, c.replicas = sent, recv, nil
				if try == 0 && (isNoScript(c.cmd.Err()) || isMoved(c.cmd.Err())) {
					moved = moved || isMoved(c.cmd.Err())
					again = append(again, c)
				}
			}
			s.confirmed(t)
		}
		if cc, ok := s.rdb.(*redis.ClusterClient); ok && moved {
			cc.ReloadState(ctx) // a node reached by hand (trips) redirected the call, or did not answer
		}
		if len(again) == 0 {
			return nil
		}
		if err := s.load(ctx, again); err != nil {
			for _, c := range again {
				c.cmd.SetErr(err)
			}
			return nil
		}
		todo = again
	}
}

// run sends one call and returns its command, whose error is a failure to
// reach Redis, the script's own, or a *NotReplicatedError (WaitForReplicas).
func (s *Store) run(ctx context.Context, c *call) *redis.Cmd {
	if err := s.send(ctx, c); err != nil {
		cmd := redis.NewCmd(ctx)
		cmd.SetErr(err)
		return cmd
	}
	if c.replicas != nil {
		c.cmd.SetErr(c.replicas)
	}
	return c.cmd
}

// load loads the scripts of calls into Redis, each once.
func (s *Store) load(ctx context.Context, calls []*call) error {
	loaded := map[*script]bool{}
	for _, c := range calls {
		if loaded[c.script] {
			continue
		}
		loaded[c.script] = true
		if err := s.form(c.script).Load(ctx, s.rdb).Err(); err != nil {
			return fmt.Errorf("load script %s into Redis: %w", c.script.name, err)
		}
	}
	return nil
}

// isNoScript reports whether err says Redis had not loaded a script (after
// a restart or SCRIPT FLUSH): the call did not run.
func isNoScript(err error) bool {
	return err != nil && redis.HasErrorPrefix(err, "NOSCRIPT")
}

// isWrongType reports whether err says a key holds another type of value
// than the command reads: a key of the namespace written by hand.
func isWrongType(err error) bool {
	return err != nil && redis.HasErrorPrefix(err, "WRONGTYPE")
}
