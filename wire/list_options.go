package wire

import "github.com/dueq/dueq/tasks"

// ListOptions filters a listing of tasks (client.Client.List, GET
// /api/v1/tasks?state=&name=&queue=&limit=). The zero value lists up to
// 100 tasks of any state.
type ListOptions struct {
	State tasks.State // only tasks in this state; empty: any
	Name  string      // only tasks of this handler name; empty: any
	Queue string      // only tasks of this queue (tasks.ValidQueue); empty: any
	Limit int         // at most this many; 0 means 100; at most MaxListLimit
}

// MaxListLimit caps ListOptions.Limit.
const MaxListLimit = 10000
