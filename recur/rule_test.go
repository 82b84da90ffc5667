package recur

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestEverySlotsAreAnchored(t *testing.T) {
	t.Parallel()
	r, err := Parse(time.Second, "", at("2026-01-01T00:00:00.250Z"))
	require.NoError(t, err)
	require.Equal(t, at("2026-01-01T00:00:00.250Z"), r.Next(at("2025-12-31T00:00:00Z")))
	require.Equal(t, at("2026-01-01T00:00:01.250Z"), r.Next(at("2026-01-01T00:00:00.250Z")))
	require.Equal(t, at("2026-01-01T00:00:06.250Z"), r.Next(at("2026-01-01T00:00:05.900Z")))
	require.Equal(t, "every 1s", r.String())
}

func TestCronSpecs(t *testing.T) {
	t.Parallel()
	from := at("2026-03-10T10:07:30Z")
	for spec, want := range map[string]string{
		"*/5 * * * *":                    "2026-03-10T10:10:00Z", // 5 fields, UTC
		"*/10 * * * * *":                 "2026-03-10T10:07:40Z", // 6 fields: seconds
		"@hourly":                        "2026-03-10T11:00:00Z",
		"@daily":                         "2026-03-11T00:00:00Z",
		"CRON_TZ=Asia/Tokyo 0 9 * * *":   "2026-03-11T00:00:00Z", // 09:00 in Tokyo
		"TZ=America/New_York 0 12 * * *": "2026-03-10T16:00:00Z", // EDT already (from 8 March)
	} {
		r, err := Parse(0, spec, time.Time{})
		require.NoError(t, err, spec)
		require.Equal(t, at(want), r.Next(from), spec)
	}
}

func TestCronAcrossADaylightSavingChange(t *testing.T) {
	t.Parallel()
	// Berlin moves from CET (UTC+1) to CEST (UTC+2) on 29 March 2026, 02:00.
	r, err := Parse(0, "CRON_TZ=Europe/Berlin 30 8 * * *", time.Time{})
	require.NoError(t, err)
	before := r.Next(at("2026-03-28T00:00:00Z"))
	after := r.Next(before)
	require.Equal(t, at("2026-03-28T07:30:00Z"), before)
	require.Equal(t, at("2026-03-29T06:30:00Z"), after, "08:30 local is an hour earlier in UTC after the change")
	require.Equal(t, 23*time.Hour, after.Sub(before))
}

func TestInvalidRulesAreErrorsNotPanics(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		every time.Duration
		spec  string
	}{
		{0, ""},
		{time.Second, "* * * * *"},
		{time.Millisecond, ""},
		{-time.Second, ""},
		{0, "TZ=Europe/Berlin"},
		{0, "CRON_TZ=Europe/Berlin"},
		{0, "CRON_TZ=Mars/Olympus * * * * *"},
		{0, "* * *"},
		{0, "61 * * * *"},
		{0, "@fortnightly"},
		{0, "* * 31 2 *"}, // 31 February: never
		{0, "not a cron spec"},
		{0, "@every 1ms"}, // @every has every's minimum
		{0, "@every 99ms"},
		{0, "@every 0s"},
		{0, "@every -1s"},
		{0, "@every"},
		{0, "@every soon"},
		{0, "CRON_TZ=UTC @every 1ms"},
	} {
		_, err := Parse(c.every, c.spec, time.Now())
		require.ErrorIs(t, err, ErrInvalid, "%v %q", c.every, c.spec)
	}
}

// "@every D" in a cron spec fires every D, counted from the anchor as an
// every rule, not rounded up to a second.
func TestCronEveryIsAnEveryRule(t *testing.T) {
	t.Parallel()
	anchor := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, spec := range []string{"@every 500ms", " @every 500ms ", "CRON_TZ=Europe/Berlin @every 500ms"} {
		r, err := Parse(0, spec, anchor)
		require.NoError(t, err, spec)
		require.Equal(t, anchor.Add(500*time.Millisecond), r.Next(anchor), spec)
		require.Equal(t, anchor.Add(1500*time.Millisecond), r.Next(anchor.Add(1200*time.Millisecond)), spec)
		require.Equal(t, "cron "+strings.TrimSpace(spec), r.String())
	}
	r, err := Parse(0, "@every 100ms", time.Time{})
	require.NoError(t, err, "no anchor: slots counted from 1970")
	now := time.Now()
	require.WithinDuration(t, now, r.Next(now), 100*time.Millisecond)
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"*/5 * * * *", "@hourly", "TZ=Europe/Berlin", "CRON_TZ=UTC 0 0 * * *", "1-5/2 * * * * *"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		r, err := Parse(0, spec, time.Time{})
		if err == nil {
			_ = r.Next(time.Now())
		}
	})
}
