package deps_test

import (
	"errors"
	"fmt"

	"github.com/dueq/dueq/deps"
	"github.com/dueq/dueq/tasks"
)

func ExampleParse() {
	w, err := deps.Parse([]byte(`
nodes:
  - name: report
    task: echo
    after: [fetch-eu, fetch-us]     # receives both outcomes, in this order
  - name: fetch-eu
    task: http
    args: {url: "https://eu.example.com/data"}
    max_attempts: 3
  - name: fetch-us
    task: http
    args: {url: "https://us.example.com/data"}
    max_attempts: 3
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, n := range w.Nodes { // parents first
		fmt.Println(n.Name, n.Spec.Name, n.After)
	}
	// Output:
	// fetch-eu http []
	// fetch-us http []
	// report echo [fetch-eu fetch-us]
}

func ExampleWorkflow_Validate() {
	w := &deps.Workflow{Nodes: []deps.Node{
		{Name: "a", Spec: tasks.Spec{Name: "echo"}, After: []string{"c"}},
		{Name: "b", Spec: tasks.Spec{Name: "echo"}, After: []string{"a"}},
		{Name: "c", Spec: tasks.Spec{Name: "echo"}, After: []string{"b"}},
	}}
	err := w.Validate()
	fmt.Println(errors.Is(err, deps.ErrCycle), errors.Is(err, tasks.ErrInvalid))
	fmt.Println(err)
	// Output:
	// true true
	// cycle: a -> b -> c -> a (each node runs after the one before it, so none can start): remove one of these after entries
}
