package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// echoResult is the result of the built-in echo handler.
type echoResult struct {
	Args    json.RawMessage `json:"args"`
	Parents []tasks.Outcome `json:"parents"`
}

// writeFile writes a file in the test's temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// workflowIDs decodes the output of dueq workflow, which must be indented
// JSON with sorted keys.
func workflowIDs(t *testing.T, out string, names ...string) map[string]string {
	t.Helper()
	var ids map[string]string
	require.NoError(t, json.Unmarshal([]byte(out), &ids), out)
	require.Len(t, ids, len(names), out)
	want, err := json.MarshalIndent(ids, "", "  ")
	require.NoError(t, err)
	require.Equal(t, string(want)+"\n", out, "indented, keys sorted")
	for _, n := range names {
		require.NotEmpty(t, ids[n], out)
	}
	return ids
}

func TestWorkflowDiamond(t *testing.T) {
	t.Parallel()
	e := setup(t, options{scheduler: true})
	path := writeFile(t, "flow.yaml", `# a diamond: d gets b's and c's outcomes, in that order
nodes:
  - name: d
    task: echo
    after: [b, c]
  - name: b
    task: echo
    args: {n: b}
    after: [a]
  - name: c
    task: fail
    after: [a]
  - name: a
    task: echo
    args: {n: a}
`)
	code, out, errOut := e.run("workflow", path)
	require.Equal(t, ExitOK, code, errOut)
	require.Empty(t, errOut)
	ids := workflowIDs(t, out, "a", "b", "c", "d")

	// c fails, so d (on_parent_failure fail, the default) fails naming it.
	code, _, errOut = e.run("wait", ids["d"], "--timeout", "30s")
	require.Equal(t, ExitFailed, code, errOut)
	require.Contains(t, errOut, ids["c"])

	code, out, errOut = e.run("wait", ids["b"], "--timeout", "30s")
	require.Equal(t, ExitOK, code, errOut)
	var b echoResult
	require.NoError(t, json.Unmarshal([]byte(out), &b), out)
	require.JSONEq(t, `{"n":"b"}`, string(b.Args))
	require.Len(t, b.Parents, 1)
	require.Equal(t, ids["a"], b.Parents[0].ID)
	require.Equal(t, tasks.Succeeded, b.Parents[0].State)
	require.JSONEq(t, `{"args":{"n":"a"},"parents":[]}`, string(b.Parents[0].Result))

	code, out, errOut = e.run("status", ids["d"], "--json")
	require.Equal(t, ExitOK, code, errOut)
	var d tasks.Task
	require.NoError(t, json.Unmarshal([]byte(out), &d), out)
	require.Equal(t, []string{ids["b"], ids["c"]}, d.Parents)
	require.Equal(t, "d", d.Node, "the record keeps its node's name")
	require.True(t, strings.HasPrefix(d.Workflow, "W"), "and its workflow's id: %q", d.Workflow)

	// dueq status WORKFLOW_ID: each node with its state, parents first.
	code, out, errOut = e.run("status", d.Workflow)
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, out, "workflow:  "+d.Workflow+"\nnodes:     4 (2 succeeded, 2 failed)\n")
	var order []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 4 && ids[f[0]] == f[2] {
			order = append(order, f[0]+" "+f[1]+" "+f[3])
		}
	}
	require.Equal(t, []string{"a succeeded echo", "b succeeded echo", "c failed fail", "d failed echo"}, order, out)
	code, out, errOut = e.run("status", d.Workflow, "--json")
	require.Equal(t, ExitOK, code, errOut)
	var wf wire.WorkflowAnswer
	require.NoError(t, json.Unmarshal([]byte(out), &wf), out)
	require.Len(t, wf.Nodes, 4)
	require.Equal(t, "d", wf.Nodes[3].Node)
	require.Equal(t, ids["d"], wf.Nodes[3].Task.ID)

	code, _, errOut = e.run("status", "W01NOSUCHWORKFLOW")
	require.NotEqual(t, ExitOK, code)
	require.Contains(t, errOut, "not found")
}

func TestWorkflowStdinRuns(t *testing.T) {
	t.Parallel()
	e := setup(t, options{scheduler: true})
	doc := `{"nodes": [
	  {"name": "world", "task": "echo", "args": "World"},
	  {"name": "hello", "task": "echo", "args": "Hello", "after": ["world"], "on_parent_failure": "run"}
	]}`
	code, out, errOut := runStdin(func(string) string { return "" }, doc, "--server", e.url, "workflow", "-")
	require.Equal(t, ExitOK, code, errOut)
	ids := workflowIDs(t, out, "hello", "world")

	code, out, errOut = e.run("wait", ids["hello"], "--timeout", "30s")
	require.Equal(t, ExitOK, code, errOut)
	var hello echoResult
	require.NoError(t, json.Unmarshal([]byte(out), &hello), out)
	require.JSONEq(t, `"Hello"`, string(hello.Args))
	require.Len(t, hello.Parents, 1)
	require.Equal(t, ids["world"], hello.Parents[0].ID)
	require.Equal(t, "echo", hello.Parents[0].Name, "an outcome names the parent's handler")
	require.JSONEq(t, `{"args":"World","parents":[]}`, string(hello.Parents[0].Result))
}

// workflow --wait follows every node to its end; one failure is exit 1.
func TestWorkflowWait(t *testing.T) {
	t.Parallel()
	e := setup(t, options{scheduler: true})
	doc := `{"nodes": [
	  {"name": "a", "task": "echo"},
	  {"name": "b", "task": "fail", "after": ["a"]},
	  {"name": "c", "task": "echo", "after": ["a"]}
	]}`
	code, out, errOut := runStdin(func(string) string { return "" }, doc, "--server", e.url, "workflow", "-", "--wait")
	require.Equal(t, ExitFailed, code, "b failed: %s", errOut)
	first, rest, _ := strings.Cut(out, "}\n")
	ids := workflowIDs(t, first+"}\n", "a", "b", "c")
	require.Contains(t, rest, ids["a"]+" succeeded")
	require.Contains(t, rest, ids["b"]+" failed")
	require.Contains(t, rest, ids["c"]+" succeeded")
	require.Contains(t, errOut, "1 of 3 tasks did not succeed")
}

// A bad document fails before the server is contacted: exit 2 and nothing
// written. A handler no live daemon has is refused by the server: exit 2 too
// and nothing written.
func TestWorkflowBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	e := setup(t, options{scheduler: true})
	before := e.mr.Keys()
	for _, tc := range []struct {
		name, doc string
		code      int
		want      string
	}{
		{"cycle", "nodes:\n- {name: a, task: echo, after: [c]}\n- {name: b, task: echo, after: [a]}\n- {name: c, task: echo, after: [b]}\n", ExitError, "cycle: a -> b -> c -> a"},
		{"unknown name", `{"nodes":[{"name":"a","task":"echo","after":["ghost"]}]}`, ExitError, `node a: after names "ghost"`},
		{"duplicate", "nodes:\n- {name: a, task: echo}\n- {name: a, task: sleep}\n", ExitError, "node a is named twice"},
		{"self", "nodes:\n- {name: a, task: echo, after: [a]}\n", ExitError, "node a: after names the node itself"},
		{"unknown field", "nodes:\n- {name: a, task: echo, retry: 3}\n", ExitError, `node a: unknown field "retry"`},
		{"bad duration", "nodes:\n- {name: a, task: echo, in: soon}\n", ExitError, `node a: in "soon" is not a duration`},
		{"bad policy", "nodes:\n- {name: a, task: echo, on_parent_failure: maybe}\n", ExitError, `node a: on_parent_failure "maybe"`},
		{"empty", "", ExitError, "the document is empty"},
		{"not a document", "hello", ExitError, "the document is a string"},
		{"no nodes", "nodes: []\n", ExitError, "no nodes"},
		{"too big", "# " + strings.Repeat("x", wire.MaxBodyBytes), ExitError, "larger than 1048576 bytes"},
		{"unknown handler", "nodes:\n- {name: a, task: echo}\n- {name: b, task: nosuch, after: [a]}\n", ExitError, `node b: unknown handler "nosuch"`},
	} {
		path := writeFile(t, "flow.yaml", tc.doc)
		code, out, errOut := e.run("workflow", path)
		require.Equal(t, tc.code, code, "%s: %s", tc.name, errOut)
		require.Empty(t, out, tc.name)
		require.True(t, strings.HasPrefix(errOut, "dueq: "), "%s: %q", tc.name, errOut)
		require.Contains(t, errOut, tc.want, tc.name)
		require.Equal(t, before, e.mr.Keys(), "%s wrote to Redis", tc.name)
	}

	// Bad documents fail without contacting the server, so even an
	// unreachable one gives the document's error.
	path := writeFile(t, "flow.yaml", "nodes:\n- {name: a, task: echo, after: [a]}\n")
	code, _, errOut := runWith(func(string) string { return "" }, "--server", "http://127.0.0.1:1", "workflow", path)
	require.Equal(t, ExitError, code)
	require.Contains(t, errOut, "after names the node itself")
	require.NotContains(t, errOut, "not reachable")
}

func TestSubmitAfter(t *testing.T) {
	t.Parallel()
	e := setup(t, options{scheduler: true})
	parent := e.submit("echo", `{"p":1}`)
	failed := e.submit("fail")

	code, out, errOut := e.run("submit", "echo", `{"c":1}`, "--after", parent, "--after", failed, "--on-parent-failure", "run", "--wait")
	require.Equal(t, ExitOK, code, errOut)
	var child echoResult
	require.NoError(t, json.Unmarshal([]byte(out), &child), out)
	require.JSONEq(t, `{"c":1}`, string(child.Args))
	require.Len(t, child.Parents, 2)
	require.Equal(t, parent, child.Parents[0].ID, "outcomes in declared order")
	require.Equal(t, tasks.Succeeded, child.Parents[0].State)
	require.Equal(t, failed, child.Parents[1].ID)
	require.Equal(t, tasks.Failed, child.Parents[1].State)
	require.Contains(t, child.Parents[1].Error, "boom")

	code, _, errOut = e.run("submit", "echo", "--after", failed, "--wait")
	require.Equal(t, ExitFailed, code, "the default policy fails the child")
	require.Contains(t, errOut, failed)

	code, _, errOut = e.run("submit", "echo", "--after", failed, "--on-parent-failure", "skip", "--wait")
	require.Equal(t, ExitFailed, code)
	require.Contains(t, errOut, "was canceled")

	code, out, errOut = e.run("status", e.submit("echo", "--after", parent, "--in", "1h"), "--json")
	require.Equal(t, ExitOK, code, errOut)
	var rec tasks.Task
	require.NoError(t, json.Unmarshal([]byte(out), &rec), out)
	require.Equal(t, []string{parent}, rec.Parents)
	require.Equal(t, tasks.PolicyFail, rec.OnParentFailure)
}
