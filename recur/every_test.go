package recur

import (
	"strings"
	"testing"
	"time"
)

// A time zone in front of "@every" is checked as any cron spec's is: an
// unknown zone, invalid UTF-8, or an over-long spec is rejected.
func TestCronEveryChecksItsZone(t *testing.T) {
	for _, spec := range []string{
		"CRON_TZ=Mars/Olympus * * * * *",
		"CRON_TZ=Mars/Olympus @every 1s",
		"CRON_TZ=\xff\xfe @every 1s",
		"CRON_TZ=" + strings.Repeat("A", 5000) + " @every 1s",
	} {
		_, err := Parse(0, spec, time.Now())
		if err == nil {
			t.Errorf("accepted %.60q", spec)
		}
	}
}

// Slots are stored in ms: an interval that is not whole ms would not read
// back as given (and "@every 100.9ms" made its schedule stop, its next slot
// read back in ms being the same slot again), so it is refused.
func TestIntervalsAreWholeMilliseconds(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		every time.Duration
		spec  string
	}{{0, "@every 100.9ms"}, {0, "@every 1.0005s"}, {1500 * time.Microsecond * 100, ""}, {100*time.Millisecond + 1, ""}} {
		_, err := Parse(c.every, c.spec, time.Now())
		if c.every == 150*time.Millisecond {
			if err != nil {
				t.Errorf("every 150ms: %v", err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "whole milliseconds") {
			t.Errorf("%v %q: got %v, want a whole-milliseconds error", c.every, c.spec, err)
		}
	}
}
