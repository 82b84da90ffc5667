// Package deps holds dependency graphs: validation of workflows and parent
// lists, cycle checks.
//
// A Workflow is a graph of named nodes, each a task to submit and the names
// of the nodes it runs after. Parse reads one from a JSON or YAML
// document; Validate checks it whole (names, parents, each task's spec,
// cycles) and orders it parents first, so a scheduler can write the whole
// graph in one atomic step, or nothing.
package deps

import (
	"container/heap"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/dueq/dueq/tasks"
)

// MaxNodes caps the nodes of one workflow.
const MaxNodes = 10000

// ErrCycle is wrapped by the error of a workflow whose after lists form a
// cycle. The error spells the cycle out, e.g. "cycle: a -> b -> c -> a".
var ErrCycle = errors.New("cycle")

var nodeNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// ValidName reports whether name can name a node: 1-64 letters, digits or
// _.-.
func ValidName(name string) bool { return nodeNameRE.MatchString(name) }

// Node is one task of a workflow.
type Node struct {
	// Name identifies the node within its workflow (see ValidName).
	Name string
	// Spec is the task to submit. Its After must be empty: the scheduler
	// fills it with the ids the parents get.
	Spec tasks.Spec
	// After names the node's parents, other nodes of the same workflow, in
	// the order the task's handler receives their outcomes.
	After []string
}

// Workflow is a graph of tasks submitted together. After a
// successful Validate its Nodes are in topological order: every node comes
// after all of its parents, and nodes that could go either way keep their
// order in the document.
type Workflow struct {
	Nodes []Node
}

// Validate checks the whole workflow: at least one and at most MaxNodes
// nodes, valid and unique names, after lists naming other nodes of the
// workflow (each at most once), each node's Spec (normalized with
// tasks.Spec.Normalize, so defaults are filled in), and no cycles. On
// success it sorts Nodes parents first (Kahn's algorithm, document order
// for ties). On failure w is unchanged and the error, which names the node
// at fault, wraps tasks.ErrInvalid, and also ErrCycle for a cycle.
func (w *Workflow) Validate() error {
	switch n := len(w.Nodes); {
	case n == 0:
		return invalidf("the workflow has no nodes: give at least one, e.g. %s", exampleDoc)
	case n > MaxNodes:
		return invalidf("the workflow has %d nodes, more than the limit of %d: split it into smaller workflows", n, MaxNodes)
	}
	nodes := slices.Clone(w.Nodes)
	index := make(map[string]int, len(nodes))
	for i := range nodes {
		nd := &nodes[i]
		switch first, dup := index[nd.Name]; {
		case nd.Name == "":
			return invalidf("nodes[%d] has no name: give each node a unique name", i)
		case !ValidName(nd.Name):
			return invalidf("nodes[%d]: name %.80q: use 1-64 letters, digits or _.-", i, nd.Name)
		case dup:
			return invalidf("node %s is named twice (nodes[%d] and nodes[%d]): give each node a unique name", nd.Name, first, i)
		}
		index[nd.Name] = i
		if len(nd.Spec.After) > 0 {
			return invalidf("node %s: Spec.After must be empty: list the node's parents by name in Node.After", nd.Name)
		}
		if err := nd.Spec.Normalize(); err != nil {
			return specError(nd.Name, err)
		}
	}
	for _, nd := range nodes {
		seen := make(map[string]bool, len(nd.After))
		for _, p := range nd.After {
			_, known := index[p]
			switch {
			case p == nd.Name:
				return invalidf("node %s: after names the node itself: a node cannot wait for itself", nd.Name)
			case !known:
				return invalidf("node %s: after names %.80q, which is not a node of this workflow: check the spelling", nd.Name, p)
			case seen[p]:
				return invalidf("node %s: after names %s twice", nd.Name, p)
			}
			seen[p] = true
		}
	}
	sorted, err := topoSort(nodes, index)
	if err != nil {
		return err
	}
	w.Nodes = sorted
	return nil
}

// topoSort orders nodes parents first with Kahn's algorithm, taking the
// ready node that comes first in the document at each step, so a document
// already in order keeps its order. A cycle gives an error spelling it out.
func topoSort(nodes []Node, index map[string]int) ([]Node, error) {
	pending := make([]int, len(nodes)) // parents not yet placed
	children := make([][]int, len(nodes))
	ready := &indexHeap{}
	for i, nd := range nodes {
		pending[i] = len(nd.After)
		for _, p := range nd.After {
			children[index[p]] = append(children[index[p]], i)
		}
		if pending[i] == 0 {
			*ready = append(*ready, i) // ascending, so already a heap
		}
	}
	sorted := make([]Node, 0, len(nodes))
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		sorted = append(sorted, nodes[i])
		for _, c := range children[i] {
			if pending[c]--; pending[c] == 0 {
				heap.Push(ready, c)
			}
		}
	}
	if len(sorted) < len(nodes) {
		return nil, cycleError(nodes, index, pending)
	}
	return sorted, nil
}

// cycleError finds a cycle among the nodes topoSort could not place (those
// with pending parents) and returns the error that spells it out, starting
// at the cycle's node that comes first in the document.
func cycleError(nodes []Node, index map[string]int, pending []int) error {
	start := slices.IndexFunc(pending, func(n int) bool { return n > 0 })
	// Every unplaced node has an unplaced parent: walk up until a node
	// repeats; the walk from its first visit on is a cycle.
	step := make(map[int]int) // node -> position in walk
	var walk []int
	for i := start; ; {
		if at, ok := step[i]; ok {
			walk = walk[at:]
			break
		}
		step[i] = len(walk)
		walk = append(walk, i)
		for _, p := range nodes[i].After {
			if pending[index[p]] > 0 {
				i = index[p]
				break
			}
		}
	}
	slices.Reverse(walk) // parent -> child
	first := slices.Index(walk, slices.Min(walk))
	walk = append(walk[first:], walk[:first]...)
	names := make([]string, 0, len(walk)+1)
	for _, i := range walk {
		names = append(names, nodes[i].Name)
	}
	names = append(names, names[0])
	if n := len(names); n > maxCycleNames {
		// Spell out the start and the end of a long cycle.
		names = slices.Concat(names[:maxCycleNames-5], []string{fmt.Sprintf("(%d more)", n-maxCycleNames)}, names[n-5:])
	}
	return &invalidError{
		msg:   fmt.Sprintf("cycle: %s (each node runs after the one before it, so none can start): remove one of these after entries", strings.Join(names, " -> ")),
		cycle: true,
	}
}

// maxCycleNames caps the names a cycle's error spells out.
const maxCycleNames = 30

// indexHeap is a min-heap of node indexes (container/heap).
type indexHeap []int

func (h indexHeap) Len() int           { return len(h) }
func (h indexHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h indexHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *indexHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *indexHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// exampleDoc is a minimal workflow document, for error messages.
const exampleDoc = `{"nodes": [{"name": "a", "task": "echo"}, {"name": "b", "task": "echo", "after": ["a"]}]}`

// invalidError is the error of a rejected workflow: errors.Is matches it
// with tasks.ErrInvalid, and with ErrCycle when cycle is set.
type invalidError struct {
	msg   string
	cycle bool
	err   error // the underlying error, if any
}

func (e *invalidError) Error() string { return e.msg }
func (e *invalidError) Unwrap() error { return e.err }

// Is reports whether target is tasks.ErrInvalid, or ErrCycle for a cycle.
func (e *invalidError) Is(target error) bool {
	return target == tasks.ErrInvalid || (e.cycle && target == ErrCycle)
}

// invalidf returns an invalidError with a formatted message.
func invalidf(format string, a ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, a...)}
}

// specError prefixes an error of tasks.Spec.Normalize with the node's name,
// speaking of the document's field "task" where Spec says "name".
func specError(node string, err error) error {
	msg := strings.TrimPrefix(err.Error(), tasks.ErrInvalid.Error()+": ")
	if rest, ok := strings.CutPrefix(msg, "name "); ok {
		msg = "task " + rest
	}
	return &invalidError{msg: "node " + node + ": " + msg, err: err}
}
