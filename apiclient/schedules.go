package apiclient

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// SubmitSchedule submits a recurring task (req with Every or Cron set, see
// wire.SubmitRequest.ScheduleSpec) and returns the new schedule's record. Each
// slot fires one occurrence, an ordinary task whose record names the
// schedule, across all daemons. A request that is not recurring is refused
// without sending it.
func (c *Client) SubmitSchedule(ctx context.Context, req wire.SubmitRequest) (*wire.Schedule, error) {
	if !req.Recurring() {
		return nil, fmt.Errorf("%w: neither every nor cron given: submit a one-off task with Submit", tasks.ErrInvalid)
	}
	var sc wire.Schedule
	if err := c.do(ctx, http.MethodPost, "/api/v1/tasks", req, &sc); err != nil {
		return nil, err
	}
	return &sc, nil
}

// Schedules returns the active schedules, by next fire time.
func (c *Client) Schedules(ctx context.Context) ([]*wire.Schedule, error) {
	var out struct {
		Schedules []*wire.Schedule `json:"schedules"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/schedules", nil, &out); err != nil {
		return nil, err
	}
	return out.Schedules, nil
}

// GetSchedule returns the record of schedule id.
func (c *Client) GetSchedule(ctx context.Context, id string) (*wire.Schedule, error) {
	var sc wire.Schedule
	if err := c.do(ctx, http.MethodGet, "/api/v1/schedules/"+url.PathEscape(id), nil, &sc); err != nil {
		return nil, err
	}
	return &sc, nil
}

// PauseSchedule pauses schedule id (POST /api/v1/schedules/{id}/pause).
func (c *Client) PauseSchedule(ctx context.Context, id string) (*wire.Schedule, error) {
	return c.postSchedule(ctx, id, "pause")
}

// ResumeSchedule resumes schedule id from its next slot (POST
// /api/v1/schedules/{id}/resume).
func (c *Client) ResumeSchedule(ctx context.Context, id string) (*wire.Schedule, error) {
	return c.postSchedule(ctx, id, "resume")
}

func (c *Client) postSchedule(ctx context.Context, id, verb string) (*wire.Schedule, error) {
	var sc wire.Schedule
	if err := c.do(ctx, http.MethodPost, "/api/v1/schedules/"+url.PathEscape(id)+"/"+verb, nil, &sc); err != nil {
		return nil, err
	}
	return &sc, nil
}

// CancelSchedule cancels schedule id, so that no occurrence fires after it,
// and returns its record. A schedule canceled before gives an *Error with
// Status 409 (errors.Is wire.ErrFinished).
func (c *Client) CancelSchedule(ctx context.Context, id string) (*wire.Schedule, error) {
	var sc wire.Schedule
	if err := c.do(ctx, http.MethodDelete, "/api/v1/schedules/"+url.PathEscape(id), nil, &sc); err != nil {
		return nil, err
	}
	return &sc, nil
}
