package deps_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/deps"
	"github.com/dueq/dueq/tasks"
)

const diamondJSON = `{"nodes": [
  {"name": "d", "task": "echo", "after": ["b", "c"], "on_parent_failure": "run"},
  {"name": "b", "task": "echo", "args": {"n": 2, "tags": ["x", "y"]}, "after": ["a"], "queue": "q", "max_attempts": 3, "timeout": "30s"},
  {"name": "c", "task": "sleep", "args": {"ms": 5}, "after": ["a"], "in": "5s"},
  {"name": "a", "task": "echo", "at": "2030-01-02T15:04:05Z"}
]}`

const diamondYAML = `# the same diamond as diamondJSON
nodes:
  - name: d
    task: echo
    after: [b, c]
    on_parent_failure: run
  - name: b
    task: echo
    args:
      n: 2
      tags: [x, y]
    after: [a]
    queue: q
    max_attempts: 3
    timeout: 30s
  - name: c
    task: sleep
    args: {ms: 5}
    after:
      - a
    in: 5s
  - name: a
    task: echo
    at: 2030-01-02T15:04:05Z
`

func TestParseDiamond(t *testing.T) {
	t.Parallel()
	w, err := deps.Parse([]byte(diamondJSON))
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c", "d"}, names(w))

	a, b, c, d := w.Nodes[0], w.Nodes[1], w.Nodes[2], w.Nodes[3]
	require.Equal(t, "echo", a.Spec.Name)
	require.Equal(t, time.Date(2030, 1, 2, 15, 4, 5, 0, time.UTC), a.Spec.At)
	require.Empty(t, a.After)
	require.JSONEq(t, `{}`, string(a.Spec.Args))

	require.Equal(t, []string{"a"}, b.After)
	require.Equal(t, `{"n":2,"tags":["x","y"]}`, string(b.Spec.Args))
	require.Equal(t, "q", b.Spec.Queue)
	require.Equal(t, 3, b.Spec.MaxAttempts)
	require.Equal(t, 30*time.Second, b.Spec.Timeout)
	require.Equal(t, tasks.PolicyFail, b.Spec.OnParentFailure)

	require.Equal(t, "sleep", c.Spec.Name)
	require.Equal(t, 5*time.Second, c.Spec.In)
	require.Equal(t, tasks.DefaultQueue, c.Spec.Queue)
	require.Equal(t, 1, c.Spec.MaxAttempts)

	require.Equal(t, []string{"b", "c"}, d.After, "declared order is kept")
	require.Equal(t, tasks.PolicyRun, d.Spec.OnParentFailure)
	for _, n := range w.Nodes {
		require.Empty(t, n.Spec.After, "the scheduler fills Spec.After with ids")
	}
}

func TestParseYAMLEqualsJSON(t *testing.T) {
	t.Parallel()
	fromJSON, err := deps.Parse([]byte(diamondJSON))
	require.NoError(t, err)
	fromYAML, err := deps.Parse([]byte(diamondYAML))
	require.NoError(t, err)
	require.Equal(t, fromJSON, fromYAML)

	// JSON is read as JSON even with YAML's quirks in mind: big numbers and
	// key order in args are kept as written.
	w, err := deps.Parse([]byte(`{"nodes":[{"name":"a","task":"echo","args":{"z":12345678901234567890,"a":1.50}}]}`))
	require.NoError(t, err)
	require.Equal(t, `{"z":12345678901234567890,"a":1.50}`, string(w.Nodes[0].Spec.Args))
}

func TestParseYAMLArgs(t *testing.T) {
	t.Parallel()
	w, err := deps.Parse([]byte(`
nodes:
  - name: a
    task: echo
    args:
      day: 2030-01-02      # a timestamp to YAML: kept as written
      when: !!timestamp 2030-01-02T15:04:05Z
      1: one               # keys become strings
      yes: true
      none: ~
      list: [1, 2.5, "three"]
      nested: {deep: {deeper: [a, b]}}
      base: &base {x: 1}
      copy: *base
  - name: b
    task: echo
    args: ~                # null args are {}
    after: [a]
`))
	require.NoError(t, err)
	require.JSONEq(t, `{"day":"2030-01-02","when":"2030-01-02T15:04:05Z","1":"one","yes":true,"none":null,
		"list":[1,2.5,"three"],"nested":{"deep":{"deeper":["a","b"]}},"base":{"x":1},"copy":{"x":1}}`, string(w.Nodes[0].Spec.Args))
	require.JSONEq(t, `{}`, string(w.Nodes[1].Spec.Args))

	// A trailing document separator is not a second document.
	_, err = deps.Parse([]byte("nodes: [{name: a, task: echo}]\n---\n"))
	require.NoError(t, err)
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, doc, want string
		cycle           bool
	}{
		{"unknown name", `{"nodes":[{"name":"a","task":"echo"},{"name":"b","task":"echo","after":["a","nope"]}]}`, `node b: after names "nope", which is not a node of this workflow`, false},
		{"unknown name yaml", "nodes:\n- {name: a, task: echo, after: [ghost]}\n", `node a: after names "ghost"`, false},
		{"duplicate", `{"nodes":[{"name":"a","task":"echo"},{"name":"a","task":"sleep"}]}`, "node a is named twice (nodes[0] and nodes[1])", false},
		{"self-dependency", `{"nodes":[{"name":"a","task":"echo","after":["a"]}]}`, "node a: after names the node itself", false},
		{"three-node cycle", `{"nodes":[{"name":"a","task":"echo","after":["c"]},{"name":"b","task":"echo","after":["a"]},{"name":"c","task":"echo","after":["b"]},{"name":"d","task":"echo","after":["c"]}]}`, "cycle: a -> b -> c -> a ", true},
		{"three-node cycle yaml", "nodes:\n- {name: x, task: echo}\n- {name: c, task: echo, after: [b]}\n- {name: b, task: echo, after: [a]}\n- {name: a, task: echo, after: [c, x]}\n", "cycle: c -> a -> b -> c ", true},
		{"unknown field", `{"nodes":[{"name":"a","task":"echo"},{"name":"b","task":"echo","retries":3}]}`, `node b: unknown field "retries": the fields are name, task, args, after, in, at, queue, max_attempts, timeout, on_parent_failure`, false},
		{"unknown field yaml", "nodes:\n- name: a\n  task: echo\n  depends_on: [b]\n", `node a: unknown field "depends_on"`, false},
		{"unknown field nameless", `{"nodes":[{"task":"echo","x":1}]}`, `nodes[0]: unknown field "x"`, false},
		{"unknown top field", `{"nodes":[{"name":"a","task":"echo"}],"version":2}`, `unknown field "version" at the top of the document`, false},
		{"bad duration", `{"nodes":[{"name":"a","task":"echo","in":"5 minutes"}]}`, `node a: in "5 minutes" is not a duration`, false},
		{"bad timeout", "nodes:\n- {name: a, task: echo, timeout: soon}\n", `node a: timeout "soon" is not a duration`, false},
		{"negative duration", `{"nodes":[{"name":"a","task":"echo","in":"-5s"}]}`, "node a: in -5s is negative", false},
		{"in with at", `{"nodes":[{"name":"a","task":"echo","in":"5s","at":"2030-01-02T15:04:05Z"}]}`, "node a: in and at both given", false},
		{"bad at", "nodes:\n- {name: a, task: echo, at: tomorrow}\n", `node a: at "tomorrow" is not an RFC 3339 time`, false},
		{"date-only at", "nodes:\n- {name: a, task: echo, at: 2030-01-02}\n", `node a: at "2030-01-02" is not an RFC 3339 time`, false},
		{"at past 9999", "nodes:\n- {name: a, task: echo, at: \"9999-12-31T23:59:59-23:59\"}\n", "node a: at 9999-12-31T23:59:59-23:59: 10000-01-01T23:58:59Z (UTC) is outside the years 1970 to 9999", false},
		{"invalid UTF-8 yaml", "nodes:\n- {name: a, task: echo, args: {s: \"\xff\"}}\n", "the document holds invalid UTF-8 at byte 42", false},
		{"invalid UTF-8 json", "{\"nodes\":[{\"name\":\"a\",\"task\":\"echo\",\"args\":\"\xc3\"}]}", "invalid UTF-8 at byte 44", false},
		{"args too deep", `{"nodes":[{"name":"a","task":"echo","args":` + strings.Repeat("[", 1001) + strings.Repeat("]", 1001) + `}]}`, "node a: args: JSON nested 1001 levels deep", false},
		{"bad policy", `{"nodes":[{"name":"a","task":"echo","on_parent_failure":"ignore"}]}`, `node a: on_parent_failure "ignore": use fail, run or skip`, false},
		{"no task", `{"nodes":[{"name":"a"}]}`, "node a: task is empty: give a handler name", false},
		{"bad task", `{"nodes":[{"name":"a","task":"a b"}]}`, `node a: task "a b"`, false},
		{"bad max_attempts", `{"nodes":[{"name":"a","task":"echo","max_attempts":-2}]}`, "node a: max_attempts -2", false},
		{"wrong type", `{"nodes":[{"name":"a","task":"echo","max_attempts":"3"}]}`, "node a: max_attempts must be a whole number, not a string", false},
		{"after not a list", "nodes:\n- {name: a, task: echo}\n- {name: b, task: echo, after: a}\n", "node b: after must be a list of node names, not a string", false},
		{"after of numbers", `{"nodes":[{"name":"a","task":"echo","after":[1]}]}`, "node a: after must be a list of node names, not a number", false},
		{"bad name", `{"nodes":[{"name":"a/b","task":"echo"}]}`, `nodes[0]: name "a/b"`, false},
		{"node not a mapping", `{"nodes":["a"]}`, "nodes[0] is a string: each node must be a mapping", false},
		{"nodes not a list", "nodes: {name: a, task: echo}\n", "nodes is a mapping: it must be a list of nodes", false},
		{"not a document", "just some words", "the document is a string: it must be a mapping with a list of nodes", false},
		{"a list", `[{"name":"a","task":"echo"}]`, "the document is a list", false},
		{"a number", "42", "the document is a number", false},
		{"bad JSON", `{"nodes": [{"name": "a", "task": "echo"}`, "the document is neither JSON (unexpected end of JSON input) nor YAML", false},
		{"bad YAML", "nodes:\n  - name: a\n   task: echo\n", "the document is not valid YAML", false},
		{"empty", "", "the document is empty", false},
		{"blank", " \n\t\n", "the document is empty", false},
		{"only comments", "# nothing here\n", "the document is empty", false},
		{"null", "null", "the document is empty", false},
		{"empty nodes", `{"nodes":[]}`, "the workflow has no nodes", false},
		{"no nodes key", `{}`, "the workflow has no nodes", false},
		{"nodes null yaml", "nodes:\n", "the workflow has no nodes", false},
		{"two documents", "nodes: [{name: a, task: echo}]\n---\nnodes: [{name: b, task: echo}]\n", "more than one document", false},
		{"infinite number", "nodes:\n- {name: a, task: echo, args: {x: .inf}}\n", "nodes[0].args.x: +Inf is not a number JSON can hold", false},
		{"null key", "nodes:\n- {name: a, task: echo, args: {~: 1}}\n", "nodes[0].args: a mapping key is null", false},
		{"duplicate key yaml", "nodes:\n- {name: a, task: echo, name: b}\n", `mapping key "name" already defined`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w, err := deps.Parse([]byte(c.doc))
			require.Nil(t, w)
			require.ErrorIs(t, err, tasks.ErrInvalid)
			require.Contains(t, err.Error(), c.want)
			if c.cycle {
				require.ErrorIs(t, err, deps.ErrCycle)
			} else {
				require.NotErrorIs(t, err, deps.ErrCycle)
			}
		})
	}
}

func TestParseTooManyNodes(t *testing.T) {
	t.Parallel()
	doc := `{"nodes":[` + strings.Repeat(`{"name":"a","task":"echo"},`, deps.MaxNodes) + `{"name":"a","task":"echo"}]}`
	_, err := deps.Parse([]byte(doc))
	require.ErrorIs(t, err, tasks.ErrInvalid)
	require.ErrorContains(t, err, "10001 nodes, more than the limit of 10000")
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(diamondJSON))
	f.Add([]byte(diamondYAML))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := deps.Parse(data)
		if err != nil {
			require.Nil(t, w)
			require.ErrorIs(t, err, tasks.ErrInvalid, "every error of Parse is bad input: %v", err)
			return
		}
		require.NotEmpty(t, w.Nodes)
		require.NoError(t, w.Validate(), "a parsed workflow is valid")
		placed := map[string]bool{}
		for _, n := range w.Nodes {
			for _, p := range n.After {
				require.True(t, placed[p], "node %s comes before its parent %s", n.Name, p)
			}
			placed[n.Name] = true
		}
	})
}
