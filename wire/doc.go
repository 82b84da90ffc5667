// Package wire holds the vocabulary that dueq's engine, its HTTP API and
// the API's client share: the records and answers (Event, Schedule, Stats,
// Daemon, WorkflowAnswer), what callers send (SubmitRequest, ListOptions,
// ScheduleSpec), the sentinel errors they test (ErrNotFound, ErrFinished,
// ErrNotRetryable) and the protocol's constants (DefaultAddr, MaxWait, the
// header names). The JSON encoding of each type is the API's.
//
// It imports neither the engine (package scheduler) nor a Redis client, so
// that an HTTP client (package apiclient) can use these types without
// linking either. Task records themselves are tasks.Task.
package wire
