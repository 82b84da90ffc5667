package api

import (
	"errors"
	"net/http"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// The endpoints of recurring tasks. A schedule is created by
// POST /api/v1/tasks with every or cron; its occurrences are ordinary tasks
// whose records name it in "schedule".

// submitSchedule serves POST /api/v1/tasks with every or cron: 201 and the
// new schedule's record, with "warning" as for a task (checkHandler: the
// schedule's tasks follow the handler rule). Nothing is written for a
// rejected request.
func (s *Server) submitSchedule(w http.ResponseWriter, r *http.Request, req wire.SubmitRequest) {
	spec, err := req.ScheduleSpec()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	queue := spec.Task.Queue
	if queue == "" {
		queue = tasks.DefaultQueue
	}
	warning, err := s.checkHandler(r.Context(), queue, spec.Task.Name, "its tasks")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sc, err := s.c.SubmitSchedule(r.Context(), spec)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	addWarnings(w, warning)
	writeJSON(w, http.StatusCreated, scheduleAnswer{sc: sc, warning: warning})
}

// scheduleList is the body of GET /api/v1/schedules.
type scheduleList struct {
	Schedules []*wire.Schedule `json:"schedules"`
}

// schedules serves GET /api/v1/schedules: the active schedules, by next
// fire time.
func (s *Server) schedules(w http.ResponseWriter, r *http.Request) {
	list, err := s.c.Schedules(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if list == nil {
		list = []*wire.Schedule{}
	}
	writeJSON(w, http.StatusOK, scheduleList{Schedules: list})
}

// getSchedule serves GET /api/v1/schedules/{id}, and GET /api/v1/tasks/{id}
// for a schedule id.
func (s *Server) getSchedule(w http.ResponseWriter, r *http.Request) {
	sc, err := s.c.GetSchedule(r.Context(), r.PathValue("id"))
	if err != nil {
		s.failSchedule(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sc)
}

// cancelSchedule serves DELETE /api/v1/schedules/{id}, and DELETE
// /api/v1/tasks/{id} for a schedule id: 200 and the canceled record, or 409
// when it was canceled before. No occurrence fires after it; one already
// running finishes.
func (s *Server) cancelSchedule(w http.ResponseWriter, r *http.Request) {
	sc, err := s.c.CancelSchedule(r.Context(), r.PathValue("id"))
	if err != nil {
		s.failSchedule(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sc)
}

// pauseSchedule serves POST /api/v1/schedules/{id}/pause: the schedule
// fires nothing until resumed. 200 and the schedule; 409 if canceled.
func (s *Server) pauseSchedule(w http.ResponseWriter, r *http.Request) {
	sc, err := s.c.PauseSchedule(r.Context(), r.PathValue("id"))
	if err != nil {
		s.failSchedule(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sc)
}

// resumeSchedule serves POST /api/v1/schedules/{id}/resume: the schedule
// fires again from its next slot. 200 and the schedule; 409 if canceled.
func (s *Server) resumeSchedule(w http.ResponseWriter, r *http.Request) {
	sc, err := s.c.ResumeSchedule(r.Context(), r.PathValue("id"))
	if err != nil {
		s.failSchedule(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sc)
}

// failSchedule is fail with the advice that fits a schedule id.
func (s *Server) failSchedule(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, wire.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error()+": check the id; GET /api/v1/schedules (dueq schedules) lists the active schedules")
	case errors.Is(err, wire.ErrFinished):
		writeError(w, http.StatusConflict, err.Error()+"; submit it again to start it anew")
	default:
		s.fail(w, r, err)
	}
}
