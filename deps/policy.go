package deps

import (
	"fmt"

	"github.com/dueq/dueq/tasks"
)

// Verdict decides what a released child does with its parents' outcomes
// (SPEC §5), checking them in declared order: a canceled parent cancels it
// (canceling a task cancels its pending descendants); a failed parent fails
// it under on_parent_failure fail, cancels it under skip, and is just a value
// its handler sees under run. run is true when the handler should run;
// otherwise the child finishes in state with the error reason, and its own
// children follow in turn.
func Verdict(t *tasks.Task) (run bool, state tasks.State, reason string) {
	for _, o := range t.Outcomes {
		who := fmt.Sprintf("parent %s (%s)", o.ID, o.Name)
		switch {
		case o.State == tasks.Canceled:
			return false, tasks.Canceled, who + " was canceled"
		case o.State != tasks.Failed:
		case t.OnParentFailure == tasks.PolicyRun:
		case t.OnParentFailure == tasks.PolicySkip:
			return false, tasks.Canceled, who + " failed and on_parent_failure is skip: " + o.Error
		default:
			return false, tasks.Failed, who + " failed: " + o.Error
		}
	}
	return true, "", ""
}
