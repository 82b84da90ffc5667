package deps_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/deps"
	"github.com/dueq/dueq/tasks"
)

// node returns a node running echo after the named parents.
func node(name string, after ...string) deps.Node {
	return deps.Node{Name: name, Spec: tasks.Spec{Name: "echo"}, After: after}
}

// names lists the workflow's node names in order.
func names(w *deps.Workflow) []string {
	out := make([]string, 0, len(w.Nodes))
	for _, n := range w.Nodes {
		out = append(out, n.Name)
	}
	return out
}

func TestValidateOrders(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		nodes []deps.Node
		want  []string
	}{
		{"one node", []deps.Node{node("a")}, []string{"a"}},
		{"in order stays", []deps.Node{node("a"), node("b", "a"), node("c", "a"), node("d", "b", "c")}, []string{"a", "b", "c", "d"}},
		{"diamond reversed", []deps.Node{node("d", "b", "c"), node("c", "a"), node("b", "a"), node("a")}, []string{"a", "c", "b", "d"}},
		{"ties keep document order", []deps.Node{node("c", "a"), node("a"), node("b")}, []string{"a", "c", "b"}},
		{"independent nodes", []deps.Node{node("z"), node("y"), node("x")}, []string{"z", "y", "x"}},
		{"chain reversed", []deps.Node{node("c", "b"), node("b", "a"), node("a")}, []string{"a", "b", "c"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := &deps.Workflow{Nodes: c.nodes}
			require.NoError(t, w.Validate())
			require.Equal(t, c.want, names(w))
			for _, n := range w.Nodes {
				require.Equal(t, tasks.DefaultQueue, n.Spec.Queue, "Validate normalizes the specs")
				require.Equal(t, tasks.PolicyFail, n.Spec.OnParentFailure)
				require.JSONEq(t, `{}`, string(n.Spec.Args))
			}
			again := &deps.Workflow{Nodes: w.Nodes}
			require.NoError(t, again.Validate(), "a validated workflow stays valid")
			require.Equal(t, c.want, names(again))
		})
	}
}

func TestValidateWide(t *testing.T) {
	t.Parallel()
	// 100-to-1 fan-in after 1-to-100 fan-out, listed children first.
	var nodes []deps.Node
	var mids []string
	for i := range 100 {
		mids = append(mids, fmt.Sprintf("m%03d", i))
	}
	nodes = append(nodes, node("sink", mids...))
	for _, m := range mids {
		nodes = append(nodes, node(m, "source"))
	}
	nodes = append(nodes, node("source"))
	w := &deps.Workflow{Nodes: nodes}
	require.NoError(t, w.Validate())
	got := names(w)
	require.Equal(t, "source", got[0])
	require.Equal(t, mids, got[1:101])
	require.Equal(t, "sink", got[101])
}

func TestValidateRejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		nodes []deps.Node
		want  string
		cycle bool
	}{
		{"empty", nil, "no nodes", false},
		{"no name", []deps.Node{node("")}, "nodes[0] has no name", false},
		{"bad name", []deps.Node{node("a b")}, `nodes[0]: name "a b": use 1-64 letters`, false},
		{"long name", []deps.Node{node(strings.Repeat("x", 65))}, "nodes[0]: name", false},
		{"duplicate", []deps.Node{node("a"), node("b"), node("a")}, "node a is named twice (nodes[0] and nodes[2])", false},
		{"unknown parent", []deps.Node{node("a"), node("b", "a", "zz")}, `node b: after names "zz", which is not a node of this workflow`, false},
		{"self", []deps.Node{node("a", "a")}, "node a: after names the node itself", false},
		{"parent twice", []deps.Node{node("a"), node("b", "a", "a")}, "node b: after names a twice", false},
		{"bad spec", []deps.Node{node("a"), {Name: "b", Spec: tasks.Spec{Name: "echo", Queue: "a b"}}}, `node b: queue "a b"`, false},
		{"no task", []deps.Node{{Name: "a"}}, "node a: task is empty", false},
		{"bad policy", []deps.Node{{Name: "a", Spec: tasks.Spec{Name: "echo", OnParentFailure: "retry"}}}, `node a: on_parent_failure "retry": use fail, run or skip`, false},
		{"spec after", []deps.Node{{Name: "a", Spec: tasks.Spec{Name: "echo", After: []string{"01J00000000000000000000000"}}}}, "node a: Spec.After must be empty", false},
		{"two-node cycle", []deps.Node{node("a", "b"), node("b", "a")}, "cycle: a -> b -> a ", true},
		{"three-node cycle", []deps.Node{node("a", "c"), node("b", "a"), node("c", "b")}, "cycle: a -> b -> c -> a ", true},
		{"cycle spelled from its first node", []deps.Node{node("x"), node("c", "b"), node("b", "a"), node("a", "c", "x")}, "cycle: c -> a -> b -> c ", true},
		{"cycle below a good part", []deps.Node{node("r"), node("s", "r", "u"), node("t", "s"), node("u", "t")}, "cycle: s -> t -> u -> s ", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := &deps.Workflow{Nodes: c.nodes}
			before := fmt.Sprintf("%+v", c.nodes)
			err := w.Validate()
			require.ErrorIs(t, err, tasks.ErrInvalid)
			require.Contains(t, err.Error(), c.want)
			require.NotContains(t, err.Error(), "invalid task", "messages speak of the workflow")
			if c.cycle {
				require.ErrorIs(t, err, deps.ErrCycle)
			} else {
				require.NotErrorIs(t, err, deps.ErrCycle)
			}
			require.Equal(t, before, fmt.Sprintf("%+v", w.Nodes), "a rejected workflow is left unchanged")
		})
	}
}

func TestValidateLongCycle(t *testing.T) {
	t.Parallel()
	nodes := make([]deps.Node, 1000)
	for i := range nodes {
		nodes[i] = node(fmt.Sprintf("n%d", i), fmt.Sprintf("n%d", (i+999)%1000))
	}
	err := (&deps.Workflow{Nodes: nodes}).Validate()
	require.ErrorIs(t, err, deps.ErrCycle)
	require.Contains(t, err.Error(), "cycle: n0 -> n1 -> n2 -> ")
	require.Contains(t, err.Error(), " -> n24 -> (971 more) -> n996 -> n997 -> n998 -> n999 -> n0 (each node")
	require.Less(t, len(err.Error()), 400, "a long cycle is abbreviated")
}

func TestValidateTooMany(t *testing.T) {
	t.Parallel()
	nodes := make([]deps.Node, deps.MaxNodes+1)
	for i := range nodes {
		nodes[i] = node(fmt.Sprintf("n%d", i))
	}
	w := &deps.Workflow{Nodes: nodes}
	err := w.Validate()
	require.ErrorIs(t, err, tasks.ErrInvalid)
	require.ErrorContains(t, err, "more than the limit of 10000")
	w.Nodes = nodes[:deps.MaxNodes]
	require.NoError(t, w.Validate())
}

func TestValidName(t *testing.T) {
	t.Parallel()
	for name, ok := range map[string]bool{
		"a": true, "extract-2030.01_02": true, "A9": true, strings.Repeat("x", 64): true,
		strings.Repeat("x", 65): false, "": false, "a b": false, "a/b": false, "é": false, "a:b": false,
	} {
		require.Equal(t, ok, deps.ValidName(name), "%q", name)
	}
}
