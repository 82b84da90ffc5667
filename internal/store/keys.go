package store

import (
	"fmt"
	"regexp"

	"github.com/dueq/dueq/tasks"
)

// Keys names every Redis key and channel of one partition of a namespace
// (Space). Every key carries the partition's hash tag, "{ns}:..." for a
// namespace of one partition and "{ns:P}:..." for partition P of several,
// so all of a partition's keys live in one Redis Cluster slot and each Lua
// script can declare them in KEYS.
//
//	{ns}:t:ID           hash   a task record (transport.EncodeRecord)
//	{ns}:due:QUEUE      zset   the timing index: task ids by due time, ms
//	{ns}:lease:QUEUE    zset   running task ids by lease deadline, ms
//	{ns}:done:STATE     zset   finished ids by finish time (succeeded|failed|canceled)
//	{ns}:kids:ID        list   a task's children, "QUEUE ID" each, in submit order
//	{ns}:waiting        zset   tasks waiting for parents, by creation time, ms
//	{ns}:key:KEY        string the task id an idempotency key maps to
//	{ns}:s:ID           hash   a schedule (recurring task) record
//	{ns}:schedules      zset   active schedule ids by next fire time, ms
//	{ns}:schedule-names hash   schedule name → id, for config schedules
//	{ns}:queues         set    queue names that have had tasks
//	{ns}:paused         set    paused queue names (each partition holds them all)
//	{ns}:daemons        zset   daemon ids by last sign of life, ms
//	{ns}:daemon:ID      string a daemon's queues, handlers and workers (JSON)
//	{ns}:outbox         zset   links and deliveries to tasks of other partitions,
//	                           by when they were recorded, ms (OutboxEntry)
//	{ns}:outbox-data    hash   a delivery's entry → "STATE OUTCOME"
//	{ns}:partitions     string the namespace's number of partitions (Space)
//
// The daemon set and daemon records live in the namespace's home, "{ns}"
// (Space.Home), which is its only partition when it has one.
//
// Channels: {ns}:announce:QUEUE ("DUE_MS ID" when a task becomes the head of
// its queue), {ns}:events ("KIND ID QUEUE NAME" lines: queued, started,
// retrying, succeeded, failed, canceled) and {ns}:cancel
// (the id of a running task that was canceled).
type Keys struct {
	prefix string
	part   int
}

var namespaceRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// NewKeys returns the names of namespace ns, or an error if ns cannot be one.
func NewKeys(ns string) (Keys, error) {
	if !namespaceRE.MatchString(ns) {
		return Keys{}, fmt.Errorf("namespace %q: use 1-64 letters, digits or _.-", ns)
	}
	return Keys{prefix: "{" + ns + "}:"}, nil
}

// Part is the number of the partition these keys name.
func (k Keys) Part() int { return k.part }

// Outbox is the partition's outbox: a zset of deliveries between this
// partition and another, by the time each was recorded (ms), each member
// "KIND QUEUE CHILD PARENT" (OutboxEntry).
func (k Keys) Outbox() string { return k.prefix + "outbox" }

// OutboxData holds, per delivery entry of the outbox, the parent's final
// state and outcome: "STATE OUTCOME".
func (k Keys) OutboxData() string { return k.prefix + "outbox-data" }

// Partitions is the key that records how many partitions the namespace
// has; it lives in the home (Space.Home).
func (k Keys) Partitions() string { return k.prefix + "partitions" }

// Task is the key of a task record.
func (k Keys) Task(id string) string { return k.prefix + "t:" + id }

// Due is a queue's timing index.
func (k Keys) Due(queue string) string { return k.prefix + "due:" + queue }

// Lease is a queue's lease set.
func (k Keys) Lease(queue string) string { return k.prefix + "lease:" + queue }

// Done is the set of tasks that finished in state s.
func (k Keys) Done(s tasks.State) string { return k.prefix + "done:" + string(s) }

// Kids is the list of a task's children, each "QUEUE ID".
func (k Keys) Kids(id string) string { return k.prefix + "kids:" + id }

// Waiting is the set of tasks waiting for their parents.
func (k Keys) Waiting() string { return k.prefix + "waiting" }

// Idem is the key of an idempotency key, or the task's own key when key is
// empty (scripts then skip it).
func (k Keys) Idem(key, id string) string {
	if key == "" {
		return k.Task(id)
	}
	return k.prefix + "key:" + key
}

// Workflow is the key of a workflow's node map: a hash of node name →
// task id, with field "#open" counting the nodes not finished yet (no node
// name holds "#"). It expires result TTL after its last node finishes.
func (k Keys) Workflow(id string) string { return k.prefix + "wf:" + id }

// Companion is the key that expires with a finished task's record: its
// idempotency key, its workflow's node map (a workflow's nodes have no
// keys), or the task's own key when it has neither (scripts then skip it).
func (k Keys) Companion(key, workflow, id string) string {
	switch {
	case key != "":
		return k.Idem(key, id)
	case workflow != "":
		return k.Workflow(workflow)
	}
	return k.Task(id)
}

// Schedule is the key of a schedule record.
func (k Keys) Schedule(id string) string { return k.prefix + "s:" + id }

// Schedules is the set of active schedules by next fire time.
func (k Keys) Schedules() string { return k.prefix + "schedules" }

// ScheduleNames maps schedule names to ids.
func (k Keys) ScheduleNames() string { return k.prefix + "schedule-names" }

// Paused is the set of paused queues: claim.lua claims nothing of them.
// Every partition holds the whole set, so each claim checks its own.
func (k Keys) Paused() string { return k.prefix + "paused" }

// Queues is the set of queue names that have had tasks.
func (k Keys) Queues() string { return k.prefix + "queues" }

// Daemons is the set of daemons by last sign of life.
func (k Keys) Daemons() string { return k.prefix + "daemons" }

// Daemon is the key of a daemon's info.
func (k Keys) Daemon(id string) string { return k.prefix + "daemon:" + id }

// Announce is a queue's announce channel.
func (k Keys) Announce(queue string) string { return k.prefix + "announce:" + queue }

// EventsChannel is where the scripts publish what they did to tasks: a
// line "KIND ID QUEUE NAME" per task (transport.Event).
func (k Keys) EventsChannel() string { return k.prefix + "events" }

// CancelChannel is where canceled running tasks are published.
func (k Keys) CancelChannel() string { return k.prefix + "cancel" }
