package jobs

import (
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

func TestNext(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, berlin) }
	for _, c := range []struct {
		name    string
		cadence usage.Cadence
		after   time.Time
		want    time.Time
	}{
		{"later today", usage.Cadence{Every: "daily", At: "06:00", Timezone: "Europe/Berlin"}, at(2026, 3, 10, 5, 0), at(2026, 3, 10, 6, 0)},
		{"exactly at: the next day", usage.Cadence{Every: "daily", At: "06:00", Timezone: "Europe/Berlin"}, at(2026, 3, 10, 6, 0), at(2026, 3, 11, 6, 0)},
		{"across spring forward", usage.Cadence{Every: "daily", At: "06:00", Timezone: "Europe/Berlin"}, at(2026, 3, 28, 7, 0), at(2026, 3, 29, 6, 0)},
		{"a skipped hour runs an hour later", usage.Cadence{Every: "daily", At: "02:30", Timezone: "Europe/Berlin"}, at(2026, 3, 28, 7, 0), at(2026, 3, 29, 3, 30)},
		{"weekly on Monday", usage.Cadence{Every: "weekly", At: "08:00", Weekday: "monday", Timezone: "Europe/Berlin"}, at(2026, 11, 22, 9, 0), at(2026, 11, 23, 8, 0)},
		{"monthly on the 1st", usage.Cadence{Every: "monthly", At: "00:00", Day: 1, Timezone: "Europe/Berlin"}, at(2026, 12, 15, 0, 0), at(2027, 1, 1, 0, 0)},
		{"monthly, day not yet come", usage.Cadence{Every: "monthly", At: "10:00", Day: 28, Timezone: "Europe/Berlin"}, at(2026, 2, 3, 0, 0), at(2026, 2, 28, 10, 0)},
	} {
		if got := Next(c.cadence, c.after); !got.Equal(c.want) {
			t.Errorf("%s: Next = %s, want %s", c.name, got.In(berlin), c.want)
		}
	}
}

func TestRangeFilters(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	// Sunday 22 November 2026, 01:00 in New York (06:00 UTC).
	run := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	for _, c := range []struct{ name, from, to string }{
		{"previous_day", "2026-11-21", "2026-11-21"},
		{"previous_week", "2026-11-09", "2026-11-15"},
		{"previous_month", "2026-10-01", "2026-10-31"},
		{"none", "", ""},
	} {
		if from, to := RangeFilters(c.name, run, ny); from != c.from || to != c.to {
			t.Errorf("%s: %s..%s, want %s..%s", c.name, from, to, c.from, c.to)
		}
	}
}

func TestValidateSchedule(t *testing.T) {
	ok := func() usage.Schedule {
		return usage.Schedule{Name: "n", Range: "previous_day", Spec: usage.ExportSpec{Report: "api-logs"},
			Cadence: usage.Cadence{Every: "daily", At: "06:00", Timezone: "Europe/Berlin"}}
	}
	for _, c := range []struct {
		change func(*usage.Schedule)
		want   string
	}{
		{func(s *usage.Schedule) {}, ""},
		{func(s *usage.Schedule) { s.Name = " " }, "name"},
		{func(s *usage.Schedule) { s.Range = "yesterday" }, `unknown range "yesterday"`},
		{func(s *usage.Schedule) { s.Cadence.Every = "hourly" }, `unknown cadence "hourly"`},
		{func(s *usage.Schedule) { s.Cadence.At = "6am" }, `"6am" is not a time of day`},
		{func(s *usage.Schedule) { s.Cadence.At = "24:00" }, "not a time of day"},
		{func(s *usage.Schedule) { s.Cadence.Timezone = "Local" }, "cadence.timezone"},
		{func(s *usage.Schedule) { s.Cadence.Every, s.Cadence.Day = "monthly", 31 }, "1–28"},
		{func(s *usage.Schedule) { s.Cadence.Every, s.Cadence.Weekday = "weekly", "funday" }, "funday"},
		{func(s *usage.Schedule) { s.Spec.Filters = usage.FilterValues{"from": {"2026-01-01"}} }, "come from the range"},
		{func(s *usage.Schedule) { s.WebhookURL = "ftp://x" }, "webhookUrl"},
		{func(s *usage.Schedule) { s.RetentionDays = -1 }, "retentionDays"},
	} {
		s := ok()
		c.change(&s)
		err := ValidateSchedule(&s)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: %v, want %q", s, err, c.want)
		}
	}
}
