package store

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/testutil"
	"github.com/dueq/dueq/tasks"
)

// defined lists the functions src defines, in order.
func defined(src string) []string {
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^local function (\w+)\(`).FindAllStringSubmatch(src, -1) {
		names = append(names, m[1])
	}
	return names
}

// Each script carries the prelude functions it calls, and those they call,
// and no others, in prelude order.
func TestScriptsCarryThePreludeFunctionsTheyCall(t *testing.T) {
	t.Parallel()
	finishes := []string{"companion_done", "doomed", "outcome", "hand_over", "release", "ended", "final_fields", "finalize", "flush_ended"}
	for _, c := range []struct {
		name, src string
		want      []string
	}{
		{"submit", submitLua, []string{"clock", "int", "is_final", "announce_head", "due_time", "joined", "chunked", "doomed", "counts_kids", "kid_added", "outcome"}},
		{"claim", claimLua + claimEntry, []string{"clock", "int", "word", "announce_head", "enter"}},
		{"finish_claim", finishLua + claimLua + finishClaimLua, []string{"clock", "int", "flag", "word", "given_back", "is_final", "announce_head", "enter",
			"attempt_errors", "companion_done", "joined", "slice", "doomed", "counts_kids", "kids_changed", "may_have_kids", "outcome", "hand_over", "release",
			"ended", "final_fields", "finalize", "flush_ended"}},
		{"finish", finishLua + finishEntry, []string{"clock", "int", "flag", "word", "given_back", "is_final", "announce_head", "enter", "attempt_errors",
			"companion_done", "doomed", "counts_kids", "kids_changed", "may_have_kids", "outcome", "hand_over", "release", "ended", "final_fields", "finalize", "flush_ended"}},
		{"requeue", requeueLua, []string{"clock", "int", "given_back", "announce_head", "enter", "attempt_errors"}},
		{"recover", recoverLua, []string{"clock", "int", "word", "given_back", "announce_head", "enter",
			"companion_done", "doomed", "counts_kids", "kids_changed", "outcome", "hand_over", "release", "ended", "final_fields", "finalize", "flush_ended"}},
		{"cancel", cancelLua, []string{"clock", "int", "word", "is_final", "announce_head", "enter",
			"companion_done", "doomed", "counts_kids", "kids_changed", "outcome", "hand_over", "release", "ended", "final_fields", "finalize", "flush_ended"}},
		{"retry", retryLua, []string{"clock", "int", "word", "announce_head", "enter", "companion_reopened"}},
		{"keepalive", keepaliveLua, []string{"clock", "int"}},
		{"schedule", scheduleLua, []string{"announce_head", "enter"}},
		{"unschedule", unscheduleLua, append([]string{"clock", "int", "word", "announce_head", "enter"}, finishes...)},
		{"link", linkLua, []string{"int", "is_final", "counts_kids", "kid_added", "outcome"}},
		{"deliver", deliverLua, []string{"clock", "int", "announce_head", "enter", "doomed", "hand_over"}},
		{"workflow", workflowLua, []string{"clock", "int", "announce_head", "enter", "due_time", "joined", "chunked"}},
	} {
		require.Equal(t, c.want, defined(preludeFor(preludeLua, c.src)), c.name)
	}
	require.Empty(t, defined(preludeFor(preludeLua, "return 1")))
	require.Len(t, preludeFunc.FindAllString(preludeLua, -1), len(defined(preludeLua)), "every function of the prelude is found whole")
}

// The prelude defines each function once, and no script defines one of
// the prelude's again: shared logic (finalize a task, announce a new head,
// the doom policy) is written once.
func TestThePreludeHasNoRepeats(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, name := range defined(preludeLua) {
		require.False(t, seen[name], "%s is defined twice", name)
		seen[name] = true
	}
	for name, src := range map[string]string{"submit": submitLua, "claim": claimLua, "finish": finishLua, "requeue": requeueLua,
		"recover": recoverLua, "cancel": cancelLua, "retry": retryLua, "keepalive": keepaliveLua, "schedule": scheduleLua,
		"unschedule": unscheduleLua, "workflow": workflowLua} {
		for _, f := range defined(src) {
			require.False(t, seen[f], "%s.lua defines the prelude's %s again", name, f)
		}
		for _, pattern := range []string{`'ZRANGE', \w+(\[[^]]*\])?, 0, 0\)`, `'canceled' or`, `'failed' or`} {
			require.NotRegexp(t, pattern, src, "%s.lua repeats what the prelude does", name)
		}
	}
}

// A store whose Redis user may not run SCRIPT (an ACL that allows EVALSHA
// only) calls the scripts a daemon loaded, as it did before every script
// was loaded at a store's first call: the refused load is not the store's
// end.
func TestAStoreThatMayNotLoadScriptsCallsThoseLoaded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr := testutil.RedisServer(t)
	admin := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = admin.Close() })
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "submitter", "on", ">pw", "~*", "&*", "+@all", "-script").Err())
	keys, err := NewKeys("dueq")
	require.NoError(t, err)
	require.NoError(t, New(admin, keys, time.Hour, systemClock{}).Prepare(ctx), "a daemon loads the scripts")

	rdb := redis.NewClient(&redis.Options{Addr: addr, Username: "submitter", Password: "pw"})
	t.Cleanup(func() { _ = rdb.Close() })
	require.Error(t, rdb.ScriptLoad(ctx, "return 1").Err(), "the user may not load scripts")
	st := New(rdb, keys, time.Hour, systemClock{})
	a := newTask("default")
	out, err := st.Submit(ctx, SubmitParams{Tasks: []*tasks.Task{a}, NewQueue: func(*tasks.Task) bool { return true }})
	require.NoError(t, err)
	require.True(t, out[0].Created)
}
