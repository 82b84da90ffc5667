package scheduler

import (
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
)

func encode(t *tasks.Task) []any { return transport.EncodeRecord(t) }
