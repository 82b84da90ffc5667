package scheduler

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/recur"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
	"github.com/dueq/dueq/wire"
)

var (
	//go:embed schedule.lua
	scheduleLua string
	//go:embed unschedule.lua
	unscheduleLua    string
	scheduleScript   = newScript("", scheduleLua)
	unscheduleScript = newScript("", unscheduleLua)
)

var scheduleNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// ValidScheduleName reports whether name can name a schedule: 1-64 letters,
// digits or _.-.
func ValidScheduleName(name string) bool { return scheduleNameRE.MatchString(name) }

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
		if errors.Is(err, errRace) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &s.Schedule, nil
	}
	return nil, fmt.Errorf("schedule %s: other writers kept changing it; tried %d times", spec.Name, maxRaceTries)
}

var errRace = errors.New("lost a race")

func (c *Client) upsertSchedule(ctx context.Context, spec wire.ScheduleSpec, t tasks.Spec) (*schedule, error) {
	if err := c.x.syncClock(ctx); err != nil {
		return nil, err
	}
	now := c.x.clock.Now().UTC().Truncate(time.Millisecond)
	var old *schedule
	if spec.Name != "" {
		sid, err := c.x.rdb.HGet(ctx, c.x.keys.ScheduleNames(), spec.Name).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("read schedule %s: %w", spec.Name, err)
		}
		if sid != "" {
			if old, err = c.schedule(ctx, sid); err != nil && !errors.Is(err, wire.ErrNotFound) {
				return nil, err
			}
		}
	}
	s := &schedule{Schedule: wire.Schedule{ID: "S" + ulid.Make().String(), Name: spec.Name, Task: t.Name, Args: t.Args, Queue: t.Queue,
		Every: spec.Every, Cron: strings.TrimSpace(spec.Cron), Misfire: spec.Misfire, State: wire.ScheduleActive,
		CreatedAt: now, MaxAttempts: t.MaxAttempts, Timeout: t.Timeout}, anchor: now, rev: 1}
	if old != nil {
		if old.State == wire.ScheduleActive && old.sameSpec(s) {
			return old, nil
		}
		s.ID, s.CreatedAt, s.rev = old.ID, old.CreatedAt, old.rev+1
	}
	var err error
	if s.rule, err = recur.Parse(s.Every, s.Cron, s.anchor); err != nil {
		return nil, fmt.Errorf("%w: %v", tasks.ErrInvalid, err)
	}
	s.NextAt = s.rule.Next(now)
	occ := s.occurrence(s.NextAt, now)
	s.pending = occ.ID

	k := c.x.keys
	oldKey, oldDue, oldID, oldRev := k.Schedule(s.ID), k.Schedules(), "", int64(0)
	if old != nil {
		oldRev = old.rev
		if old.pending != "" {
			oldKey, oldDue, oldID = k.Task(old.pending), k.Due(old.Queue), old.pending
		}
	}
	fields := encodeSchedule(s)
	args := append([]any{s.ID, s.Name, oldRev, oldID, occ.ID, transport.Ms(occ.DueAt), k.Announce(s.Queue), s.Queue, len(fields)}, fields...)
	args = append(args, transport.EncodeRecord(occ)...)
	err = c.x.run(ctx, scheduleScript, []string{k.Schedule(s.ID), k.Schedules(), k.ScheduleNames(),
		oldKey, oldDue, k.Task(occ.ID), k.Due(s.Queue), k.Queues()}, args...).Err()
	switch {
	case err != nil && strings.Contains(err.Error(), "DUEQ_RACE"):
		return nil, errRace
	case err != nil:
		return nil, fmt.Errorf("write schedule %s: %w", s.ID, err)
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
func (c *Client) schedule(ctx context.Context, id string) (*schedule, error) {
	if !IsScheduleID(id) {
		return nil, fmt.Errorf("schedule %.80q: %w", id, wire.ErrNotFound)
	}
	h, err := c.x.rdb.HGetAll(ctx, c.x.keys.Schedule(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("read schedule %s: %w", id, err)
	}
	if len(h) == 0 {
		return nil, fmt.Errorf("schedule %s: %w", id, wire.ErrNotFound)
	}
	return decodeSchedule(id, h)
}

// Schedules lists the active schedules by next fire time.
func (c *Client) Schedules(ctx context.Context) ([]*wire.Schedule, error) {
	ids, err := c.x.rdb.ZRange(ctx, c.x.keys.Schedules(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	pipe := c.x.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, c.x.keys.Schedule(id))
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
		s, err := decodeSchedule(id, cmds[i].Val())
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
		if s.State != wire.ScheduleActive {
			return &s.Schedule, fmt.Errorf("cancel schedule %s: it was canceled before (%w)", id, wire.ErrFinished)
		}
		k := c.x.keys
		occKey, occDue := k.Schedule(id), k.Schedules()
		if s.pending != "" {
			occKey, occDue = k.Task(s.pending), k.Due(s.Queue)
		}
		err = c.x.run(ctx, unscheduleScript, []string{k.Schedule(id), k.Schedules(), k.ScheduleNames(), occKey, occDue, k.Done(tasks.Canceled)},
			id, s.pending, c.cfg.ResultTTL.Milliseconds(), k.EventsChannel()).Err()
		if err != nil && strings.Contains(err.Error(), "DUEQ_RACE") {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cancel schedule %s: %w", id, err)
		}
		return c.GetSchedule(ctx, id)
	}
	return nil, fmt.Errorf("cancel schedule %s: its occurrences kept changing; tried %d times", id, maxRaceTries)
}
