package export

import (
	"strings"
	"testing"
	"time"
)

// TestResolveDateForms: the ISO 8601 forms a seed 001 client may send,
// extended and basic; Z is a clock reading in the request's timezone, as
// the seed's example means it, a numeric offset an instant.
func TestResolveDateForms(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, tc := range []struct {
		from, to, tz string
		want         [2]time.Time // From, To (exclusive)
		err          string
	}{
		{"2026-11-01", "2026-11-02", "Europe/Berlin",
			[2]time.Time{time.Date(2026, 11, 1, 0, 0, 0, 0, berlin), time.Date(2026, 11, 3, 0, 0, 0, 0, berlin)}, ""},
		{"20261101", "20261102", "UTC",
			[2]time.Time{time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)}, ""},
		{"2026-11-01T00:00:00.000Z", "2026-11-01T23:59:59.999Z", "Europe/Berlin",
			[2]time.Time{time.Date(2026, 11, 1, 0, 0, 0, 0, berlin), time.Date(2026, 11, 2, 0, 0, 0, 0, berlin)}, ""},
		{"2026-11-01T00:00:00+01:00", "2026-11-01T12:00:00+0100", "UTC",
			[2]time.Time{time.Date(2026, 10, 31, 23, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 11, 0, 0, 1e6, time.UTC)}, ""},
		{"2026-11-01T00:00-05", "2026-11-01T06:30:00,5-05:30", "UTC",
			[2]time.Time{time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 12, 0, 0, 501e6, time.UTC)}, ""},
		{"20261101T000000Z", "20261101T1230Z", "Europe/Berlin",
			[2]time.Time{time.Date(2026, 11, 1, 0, 0, 0, 0, berlin), time.Date(2026, 11, 1, 12, 30, 0, 1e6, berlin)}, ""},
		{"20261101T000000.250+0100", "20261102T00", "UTC",
			[2]time.Time{time.Date(2026, 10, 31, 23, 0, 0, 250e6, time.UTC), time.Date(2026, 11, 2, 0, 0, 0, 1e6, time.UTC)}, ""},
		{"2026-11-01T00:00:00 +01:00", "2026-11-02", "UTC", [2]time.Time{}, `field "from.date": "2026-11-01T00:00:00 +01:00" is not an ISO 8601 date or time (taken: 2024-01-31,`},
		{"2026-02-30", "2026-03-02", "UTC", [2]time.Time{}, `field "from.date": "2026-02-30" is not`},
		{"2026-11-01", "2026-11-02T10:00+25:00", "UTC", [2]time.Time{}, `field "to.date": "2026-11-02T10:00+25:00" is not`},
		{"2026-11-01", "2026-11-02T10:00.5", "UTC", [2]time.Time{}, `field "to.date"`},
		{"2026-11-01Z", "2026-11-02", "UTC", [2]time.Time{}, `field "from.date"`},
		{"11/01/2026", "2026-11-02", "UTC", [2]time.Time{}, `basic forms 20240131 and 20240131T235959Z)`},
	} {
		t.Run(tc.from+"_"+tc.to, func(t *testing.T) {
			from, to, tz := tc.from, tc.to, tc.tz
			r, err := UsageRequest{From: &RangeBound{Date: &from, Timezone: &tz}, To: &RangeBound{Date: &to, Timezone: &tz}}.Resolve(DefaultMaxRangeDays)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !r.From.Equal(tc.want[0]) || !r.To.Equal(tc.want[1]) {
				t.Errorf("range %v – %v, want %v – %v", r.From, r.To, tc.want[0], tc.want[1])
			}
		})
	}
}

// FuzzParseISODate: any string parses or is refused, never panics, and
// what parses is a real date.
func FuzzParseISODate(f *testing.F) {
	for _, s := range []string{"2026-11-01", "20261101T000000Z", "2026-11-01T00:00:00.123456789+01:00", "2026-11-01T00:00-0530", "20261101T0000,5+14"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseISODate(s)
		if err != nil {
			return
		}
		if d.wall.IsZero() && !strings.HasPrefix(s, "0001") {
			t.Fatalf("%q parsed to the zero time", s)
		}
	})
}
