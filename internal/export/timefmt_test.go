package export

import (
	"testing"
	"time"
)

func TestCompileLayout(t *testing.T) {
	for _, tc := range []struct {
		layout   string
		compiled bool
	}{
		{"01/02/2006 15:04", true},
		{"2006-01-02T15:04:05.000Z07:00", true},
		{"2006-01-02 15:04", true},
		{"2006-01-02T15:04:05Z07:00", true},
		{"15:04, 01/02/2006", true},
		{"Jan 2, 2006", false},  // month names
		{"02/01/06", false},     // two-digit year
		{"15:04:05.999", false}, // trimmed fraction
		{"2006-01-02T15:04:05-07:00", false},
		{"2006-002", false},             // day of year
		{"03:04 PM", false},             // twelve-hour clock
		{"2006-01-02 15:04 MST", false}, // zone name
		{"", true},
	} {
		l := compileLayout(tc.layout)
		if got := l.elems != nil || tc.layout == "" && l.elems == nil; got != tc.compiled {
			t.Errorf("compileLayout(%q) compiled = %v, want %v", tc.layout, got, tc.compiled)
		}
	}
}

// FuzzTimeLayout: whatever the layout, instants and offset, the compiled
// layout writes what AppendFormat writes, for an instant and then another
// step seconds away (the layout keeps the last day's date).
func FuzzTimeLayout(f *testing.F) {
	f.Add("01/02/2006 15:04", int64(1_790_000_000), int64(123_456_789), int32(0), int64(-1))
	f.Add("2006-01-02T15:04:05.000Z07:00", int64(-1_000_000_000), int64(999_999_999), int32(-(9*3600 + 30*60)), int64(86400))
	f.Add("2006-01-02T15:04:05.000Z07:00", int64(0), int64(0), int32(-30), int64(30))
	f.Add("2006-01-02T15:04:05.000Z07:00", int64(253_402_300_799), int64(5), int32(19*60+32), int64(1))
	f.Add("2006-01-02 15:04", int64(-62_135_596_801), int64(0), int32(3600), int64(-86400*365))
	f.Fuzz(func(t *testing.T, layout string, sec, nsec int64, offset int32, step int64) {
		zone := time.FixedZone("", int(offset%(24*3600)))
		l := compileLayout(layout)
		for _, tm := range []time.Time{time.Unix(sec, nsec).In(zone), time.Unix(sec+step, nsec).In(zone)} {
			if got, want := string(l.append(nil, tm)), tm.Format(layout); got != want {
				t.Fatalf("layout %q, %v: got %q, want %q", layout, tm, got, want)
			}
		}
	})
}

func BenchmarkTimeLayout(b *testing.B) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.FixedZone("", 3600))
	for _, layout := range []string{"01/02/2006 15:04", "2006-01-02T15:04:05.000Z07:00"} {
		l := compileLayout(layout)
		var buf []byte
		b.Run("AppendFormat/"+layout, func(b *testing.B) {
			for b.Loop() {
				buf = at.AppendFormat(buf[:0], layout)
			}
		})
		b.Run("compiled/"+layout, func(b *testing.B) {
			for b.Loop() {
				buf = l.append(buf[:0], at)
			}
		})
	}
}
