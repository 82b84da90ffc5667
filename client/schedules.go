package client

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/recur"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

var scheduleNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// ValidScheduleName reports whether name can name a schedule: 1-64 letters,
// digits or _.-.
func ValidScheduleName(name string) bool { return scheduleNameRE.MatchString(name) }

// IsScheduleID reports whether id names a schedule rather than a task.
func IsScheduleID(id string) bool { return store.IsScheduleID(id) }

// maxRaceTries bounds the retries of a schedule write that lost a race
// with another writer of the same schedule.
const maxRaceTries = 8

// SubmitSchedule creates a recurring task, or, when spec.Name names an
// existing one, updates it if its spec changed and otherwise leaves it
// alone, so restarting daemons that upsert config schedules never
// duplicates them. The schedule's next occurrence is written at once. Bad
// input is an error wrapping tasks.ErrInvalid (with the cron parser's reason)
// and writes nothing.
func (c *Client) SubmitSchedule(ctx context.Context, spec wire.ScheduleSpec) (*wire.Schedule, error) {
	t := spec.Task
	switch {
	case t.In != 0 || !t.At.IsZero() || len(t.After) > 0 || t.Key != "":
		return nil, fmt.Errorf("%w: in, at, after and key do not apply to recurring tasks", tasks.ErrInvalid)
	case spec.Name != "" && !scheduleNameRE.MatchString(spec.Name):
		return nil, fmt.Errorf("%w: schedule name %q: use 1-64 letters, digits or _.-", tasks.ErrInvalid, spec.Name)
	case spec.Misfire == "":
		spec.Misfire = wire.MisfireRunOnce
	case spec.Misfire != wire.MisfireRunOnce && spec.Misfire != wire.MisfireSkip:
		return nil, fmt.Errorf("%w: misfire %q: use run_once or skip", tasks.ErrInvalid, spec.Misfire)
	}
	if err := t.Normalize(); err != nil {
		return nil, err
	}
	if _, err := recur.Parse(spec.Every, spec.Cron, time.Now()); err != nil {
		return nil, fmt.Errorf("%w: %v", tasks.ErrInvalid, err)
	}
	for range maxRaceTries {
		s, err := c.upsertSchedule(ctx, spec, t)
		if errors.Is(err, store.ErrRace) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &s.Schedule, nil
	}
	return nil, fmt.Errorf("schedule %s: other writers kept changing it; tried %d times", spec.Name, maxRaceTries)
}

// upsertSchedule writes spec's schedule unless the one of its name runs the
// same spec; an error wrapping store.ErrRace means another writer changed
// it meanwhile.
func (c *Client) upsertSchedule(ctx context.Context, spec wire.ScheduleSpec, t tasks.Spec) (*store.Schedule, error) {
	if err := c.claim(ctx); err != nil {
		return nil, err
	}
	// A named schedule lives in its name's partition, where its name is
	// found again; its occurrences are in its partition (their ids are
	// its id's).
	p := c.space.Pick()
	if spec.Name != "" {
		p = c.space.ForKey(spec.Name)
	}
	st := c.stores.Part(p)
	if err := st.SyncClock(ctx); err != nil {
		return nil, err
	}
	now := st.Clock().Now().UTC().Truncate(time.Millisecond)
	var old *store.Schedule
	if spec.Name != "" {
		sid, err := c.rdb.HGet(ctx, st.Keys().ScheduleNames(), spec.Name).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("read schedule %s: %w", spec.Name, err)
		}
		if sid != "" {
			if old, err = c.schedule(ctx, sid); err != nil && !errors.Is(err, wire.ErrNotFound) {
				return nil, err
			}
		}
	}
	s := &store.Schedule{Schedule: wire.Schedule{ID: c.space.Tag("S"+ulid.Make().String(), p), Name: spec.Name, Task: t.Name, Args: t.Args, Queue: t.Queue,
		Every: spec.Every, Cron: strings.TrimSpace(spec.Cron), Misfire: spec.Misfire, State: wire.ScheduleActive,
		CreatedAt: now, MaxAttempts: t.MaxAttempts, Timeout: t.Timeout}, Anchor: now, Rev: 1}
	if old != nil {
		if (old.State == wire.ScheduleActive || old.State == wire.SchedulePaused) && old.SameSpec(s) {
			return old, nil // a paused one stays paused (a daemon's restart upserts it)
		}
		s.ID, s.CreatedAt, s.Rev = old.ID, old.CreatedAt, old.Rev+1
	}
	var err error
	if s.Rule, err = recur.Parse(s.Every, s.Cron, s.Anchor); err != nil {
		return nil, fmt.Errorf("%w: %v", tasks.ErrInvalid, err)
	}
	s.NextAt = s.Rule.Next(now)
	occ := s.Occurrence(s.NextAt, now)
	s.Pending = occ.ID
	if err := c.st(s.ID).WriteSchedule(ctx, store.ScheduleParams{Schedule: s, Old: old, Occurrence: occ}); err != nil {
		return nil, err
	}
	return s, nil
}

// GetSchedule returns schedule id, or an error wrapping wire.ErrNotFound.
func (c *Client) GetSchedule(ctx context.Context, id string) (*wire.Schedule, error) {
	s, err := c.schedule(ctx, id)
	if err != nil {
		return nil, err
	}
	return &s.Schedule, nil
}

// schedule reads schedule id's record, or returns an error wrapping
// wire.ErrNotFound.
func (c *Client) schedule(ctx context.Context, id string) (*store.Schedule, error) {
	if !store.IsScheduleID(id) {
		return nil, fmt.Errorf("schedule %.80q: %w", id, wire.ErrNotFound)
	}
	h, err := c.rdb.HGetAll(ctx, c.space.KeysOf(id).Schedule(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("read schedule %s: %w", id, err)
	}
	if len(h) == 0 {
		return nil, fmt.Errorf("schedule %s: %w", id, wire.ErrNotFound)
	}
	return store.DecodeSchedule(id, h)
}

// Schedules lists the active schedules by next fire time, then the paused
// ones.
func (c *Client) Schedules(ctx context.Context) ([]*wire.Schedule, error) {
	keys := make([]string, c.space.N())
	for p := range keys {
		keys[p] = c.space.Part(p).Schedules()
	}
	m := newMerged(c.rdb, keys, false, 1000)
	var ids []string
	for {
		more, err := m.next(ctx, 1000)
		if err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		ids = append(ids, more...)
		if len(more) < 1000 {
			break
		}
	}
	pipe := c.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, c.space.KeysOf(id).Schedule(id))
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
	}
	out := make([]*wire.Schedule, 0, len(ids))
	for i, id := range ids {
		if len(cmds[i].Val()) == 0 {
			continue
		}
		s, err := store.DecodeSchedule(id, cmds[i].Val())
		if err != nil {
			c.cfg.Logger.Warn("skipping a corrupt schedule", "err", err)
			continue
		}
		out = append(out, &s.Schedule)
	}
	return out, nil
}

// CancelSchedule stops schedule id: no occurrence after the ones already
// running. Its pending occurrence is canceled. Canceling it again returns
// its record and an error wrapping wire.ErrFinished.
func (c *Client) CancelSchedule(ctx context.Context, id string) (*wire.Schedule, error) {
	for range maxRaceTries {
		s, err := c.schedule(ctx, id)
		if err != nil {
			return nil, err
		}
		if s.State == wire.ScheduleCanceled {
			return &s.Schedule, fmt.Errorf("cancel schedule %s: it was canceled before (%w)", id, wire.ErrFinished)
		}
		if err := c.claim(ctx); err != nil {
			return nil, err
		}
		err = c.st(id).Unschedule(ctx, store.UnscheduleParams{Schedule: s})
		if errors.Is(err, store.ErrRace) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return c.GetSchedule(ctx, id)
	}
	return nil, fmt.Errorf("cancel schedule %s: its occurrences kept changing; tried %d times", id, maxRaceTries)
}

// PauseSchedule stops schedule id from firing until ResumeSchedule: its
// occurrence written for the next slot is removed (one already running
// finishes), and no daemon writes another. A paused schedule stays paused
// across daemon restarts, and a config schedule of the same spec, upserted
// by a restarting daemon, stays paused too (a changed spec makes it active
// with the new spec). Pausing a paused schedule returns it unchanged; a
// canceled one is an error wrapping wire.ErrFinished.
func (c *Client) PauseSchedule(ctx context.Context, id string) (*wire.Schedule, error) {
	if err := c.claim(ctx); err != nil {
		return nil, err
	}
	for range maxRaceTries {
		s, err := c.schedule(ctx, id)
		if err != nil {
			return nil, err
		}
		switch s.State {
		case wire.SchedulePaused:
			return &s.Schedule, nil
		case wire.ScheduleCanceled:
			return &s.Schedule, fmt.Errorf("pause schedule %s: it was canceled (%w)", id, wire.ErrFinished)
		}
		_, err = c.st(id).PauseSchedule(ctx, store.PauseScheduleParams{Schedule: s})
		if errors.Is(err, store.ErrRace) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return c.GetSchedule(ctx, id)
	}
	return nil, fmt.Errorf("pause schedule %s: other writers kept changing it; tried %d times", id, maxRaceTries)
}

// ResumeSchedule makes a paused schedule fire again, from its next slot
// after now: the slots that passed while it was paused do not run, whatever
// its misfire policy. Resuming an active schedule returns it unchanged; a
// canceled one is an error wrapping wire.ErrFinished.
func (c *Client) ResumeSchedule(ctx context.Context, id string) (*wire.Schedule, error) {
	if err := c.claim(ctx); err != nil {
		return nil, err
	}
	for range maxRaceTries {
		old, err := c.schedule(ctx, id)
		if err != nil {
			return nil, err
		}
		switch old.State {
		case wire.ScheduleActive:
			return &old.Schedule, nil
		case wire.ScheduleCanceled:
			return &old.Schedule, fmt.Errorf("resume schedule %s: it was canceled (%w)", id, wire.ErrFinished)
		}
		st := c.st(id)
		if err := st.SyncClock(ctx); err != nil {
			return nil, err
		}
		now := st.Clock().Now().UTC().Truncate(time.Millisecond)
		s := *old
		s.State, s.Rev = wire.ScheduleActive, old.Rev+1
		s.NextAt = s.Rule.Next(now)
		occ := s.Occurrence(s.NextAt, now)
		s.Pending = occ.ID
		err = st.WriteSchedule(ctx, store.ScheduleParams{Schedule: &s, Old: old, Occurrence: occ})
		if errors.Is(err, store.ErrRace) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &s.Schedule, nil
	}
	return nil, fmt.Errorf("resume schedule %s: other writers kept changing it; tried %d times", id, maxRaceTries)
}
