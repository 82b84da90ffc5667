package deps

import (
	"fmt"

	"github.com/dueq/dueq/tasks"
)

// Verdict decides what a released child does with its parents' outcomes,
// checking them in declared order. Under on_parent_failure run,
// every outcome is a value its handler sees, whether the parent succeeded,
// failed or was canceled: the child runs once all its parents have ended.
// Otherwise a canceled parent cancels it (canceling a task cancels its
// pending descendants), and a failed parent fails it under fail and cancels
// it under skip. run is true when the handler should run; otherwise the
// child finishes in state with the error reason, without running, and its
// own children follow in turn.
func Verdict(t *tasks.Task) (run bool, state tasks.State, reason string) {
	if t.OnParentFailure == tasks.PolicyRun {
		return true, "", ""
	}
	for _, o := range t.Outcomes {
		who := fmt.Sprintf("parent %s (%s)", o.ID, o.Name)
		switch {
		case o.State == tasks.Canceled:
			return false, tasks.Canceled, who + " was canceled"
		case o.State != tasks.Failed:
		case t.OnParentFailure == tasks.PolicySkip:
			return false, tasks.Canceled, who + " failed and on_parent_failure is skip: " + o.Error
		default:
			return false, tasks.Failed, who + " failed: " + o.Error
		}
	}
	return true, "", ""
}
