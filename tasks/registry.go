package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Handler runs one task. Its result is stored as JSON (a json.RawMessage is
// stored as it is); a non-nil error fails the attempt. The context is
// canceled when the task times out, is canceled, or the daemon stops.
// Handlers must be safe to run concurrently: a daemon runs one per loop.
type Handler func(ctx context.Context, call *Call) (any, error)

// Call is what a handler receives: the task and its parents' outcomes.
type Call struct {
	Task *Task
	// Parents holds each parent's outcome in declared order.
	Parents []Outcome
}

// Bind decodes the task's args into v.
func (c *Call) Bind(v any) error {
	if err := json.Unmarshal(c.Task.Args, v); err != nil {
		return fmt.Errorf("task %s (%s): args: %w", c.Task.ID, c.Task.Name, err)
	}
	return nil
}

// Outcome is how a parent finished, as its children see it.
type Outcome struct {
	ID     string          `json:"id"`
	Name   string          `json:"name"`
	State  State           `json:"state"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
}

// ErrUnknownHandler is returned for a task name no handler is registered for.
var ErrUnknownHandler = errors.New("unknown handler")

// Registry maps task names to handlers. The zero value is empty and ready.
type Registry struct {
	mu       sync.RWMutex
	handlers map[string]Handler
	disabled map[string]string // name → why it is off, e.g. an empty allow-list
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// Register makes h run tasks named name, replacing any earlier handler.
func (r *Registry) Register(name string, h Handler) {
	if !nameRE.MatchString(name) {
		panic(fmt.Sprintf("tasks: handler name %q: use 1-128 letters, digits or _.:/-", name))
	}
	if h == nil {
		panic("tasks: nil handler for " + name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.handlers == nil {
		r.handlers = map[string]Handler{}
	}
	r.handlers[name] = h
	delete(r.disabled, name)
}

// Disable records that name is a known handler that is turned off, and why;
// looking it up returns an error with that reason.
func (r *Registry) Disable(name, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.disabled == nil {
		r.disabled = map[string]string{}
	}
	delete(r.handlers, name)
	r.disabled[name] = why
}

// Disabled returns why name is turned off, if Disable recorded it.
func (r *Registry) Disabled(name string) (why string, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	why, ok = r.disabled[name]
	return why, ok
}

// Lookup returns the handler for name, or an error wrapping
// ErrUnknownHandler that says which names are known or why name is off.
func (r *Registry) Lookup(name string) (Handler, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if h, ok := r.handlers[name]; ok {
		return h, nil
	}
	if why, ok := r.disabled[name]; ok {
		return nil, fmt.Errorf("%w %q: %s", ErrUnknownHandler, name, why)
	}
	return nil, fmt.Errorf("%w %q: this daemon runs %s", ErrUnknownHandler, name, strings.Join(r.namesLocked(), ", "))
}

// Names lists the registered handler names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.namesLocked()
}

func (r *Registry) namesLocked() []string {
	names := make([]string, 0, len(r.handlers))
	for n := range r.handlers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
