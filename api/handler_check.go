package api

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// The handler rule: a daemon claims only tasks whose handler it
// has, in the queues it serves. A submit is refused when daemons are alive
// and none of them has the task's handler; it is accepted with a warning
// when no live daemon serving the task's queue has it, or none serves the
// queue, or no daemon is alive at all. The live daemons come from a cache
// (daemonCache), so the check costs no round trip to Redis per submit.

// checkHandler applies the rule to a task of handler in queue. what names
// what will not run in the warning ("the task", "the schedule's tasks").
// It returns the warning, or an error wrapping tasks.ErrUnknownHandler
// (400) that names the handler, says what the live daemons run and, for
// shell and http, how to turn them on.
func (s *Server) checkHandler(ctx context.Context, queue, handler, what string) (string, error) {
	ds, err := s.daemons.get(ctx)
	if err != nil {
		return "", fmt.Errorf("read the live daemons: %w", err)
	}
	r := client.ReachOf(ds, queue, handler)
	switch {
	case r.Runs:
		return "", nil
	case r.Alive && !r.Handler:
		return "", s.unknownHandler(ds, handler)
	}
	var detail string
	switch {
	case !r.Alive:
	case !r.Queue:
		detail = " (live daemons serve " + names(ds, nil, func(i *wire.DaemonInfo) []string { return i.Queues }) + ")"
	default:
		serving := func(i *wire.DaemonInfo) bool { return slices.Contains(i.Queues, queue) }
		detail = " (daemons serving " + queue + " run " + names(ds, serving, func(i *wire.DaemonInfo) []string { return i.Handlers }) + ")"
	}
	return fmt.Sprintf("%s%s: %s will not run until a daemon serving queue %s with handler %s is alive",
		r.Problem(queue, handler), detail, what, queue, handler), nil
}

// unknownHandler is the refusal of a handler no live daemon has.
func (s *Server) unknownHandler(ds []wire.Daemon, handler string) error {
	const restart = " (in config.yaml, then restart the daemon)"
	hint := "check the name, or start a daemon that registers it"
	why, off := s.reg.Disabled(handler)
	switch {
	case off && (handler == "shell" || handler == "http"):
		hint = why + restart
	case off:
		hint = why
	case handler == "shell":
		hint = "the shell handler is off on every live daemon: " + tasks.ShellHowTo + restart
	case handler == "http":
		hint = "the http handler is off on every live daemon: " + tasks.HTTPHowTo + restart
	}
	run := names(ds, nil, func(i *wire.DaemonInfo) []string { return i.Handlers })
	return fmt.Errorf("%w %q: no live daemon has it (live daemons run %s); %s", tasks.ErrUnknownHandler, handler, run, hint)
}

// maxNames caps the names an error or warning lists.
const maxNames = 20

// names lists, sorted and once each, what of returns for the daemons of
// known info that keep accepts (nil: all), or "nothing".
func names(ds []wire.Daemon, keep func(*wire.DaemonInfo) bool, of func(*wire.DaemonInfo) []string) string {
	var all []string
	for _, d := range ds {
		if d.Info != nil && (keep == nil || keep(d.Info)) {
			all = append(all, of(d.Info)...)
		}
	}
	slices.Sort(all)
	all = slices.Compact(all)
	switch {
	case len(all) == 0:
		return "nothing"
	case len(all) > maxNames:
		return fmt.Sprintf("%s and %d more", strings.Join(all[:maxNames], ", "), len(all)-maxNames)
	}
	return strings.Join(all, ", ")
}
