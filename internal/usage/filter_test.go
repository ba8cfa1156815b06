package usage

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseLogFilter(t *testing.T) {
	now := time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)
	ny, _ := time.LoadLocation("America/New_York")
	tests := []struct {
		query   string
		check   func(f LogFilter) bool
		wantErr string
	}{
		{"", func(f LogFilter) bool { return f.From.IsZero() && f.To.IsZero() && f.Location() == time.UTC }, ""},
		{"period=24h", func(f LogFilter) bool { return f.From.Equal(now.Add(-24 * time.Hour)) }, ""},
		// A bare date range covers whole days in tz; here across the DST change.
		{"from=2026-11-01&to=2026-11-01&tz=America/New_York", func(f LogFilter) bool {
			return f.From.Equal(time.Date(2026, 11, 1, 4, 0, 0, 0, time.UTC)) && f.To.Equal(time.Date(2026, 11, 2, 5, 0, 0, 0, time.UTC)) && f.TZ.String() == ny.String()
		}, ""},
		{"from=2026-11-01T00:00:00%2B01:00&to=2026-11-01T23:59:59.999Z", func(f LogFilter) bool {
			return f.From.Equal(time.Date(2026, 10, 31, 23, 0, 0, 0, time.UTC)) && f.To.Equal(time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC))
		}, ""},
		{"status=404&status=500,503&status_class=2xx", func(f LogFilter) bool {
			return len(f.Statuses) == 3 && len(f.StatusClasses) == 1 && f.StatusClasses[0] == 2
		}, ""},
		{"client=a&client=b&collection=c&collection_type=recipe&community=x&usage_type=mcp", func(f LogFilter) bool {
			return len(f.Clients) == 2 && f.Collections[0] == "c" && f.CollectionType == "recipe" && f.Communities[0] == "x" && f.UsageType == TypeMCP
		}, ""},
		{"method=get,Post&method=DELETE", func(f LogFilter) bool {
			return len(f.Methods) == 3 && f.Methods[0] == "GET" && f.Methods[1] == "POST" && f.Methods[2] == "DELETE"
		}, ""},
		{"method=G%3DT", nil, `unknown method "G=T"`},
		{"period=24h&from=2026-01-01", nil, "period cannot be combined"},
		{"tz=Local", nil, `unknown timezone "Local"`},
		{"tz=Europe/Nowhere&status=abc", nil, `unknown status "abc"`},
		{"limit=5", nil, `unknown parameter "limit"`},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		f, err := ParseLogFilter(q, now, time.UTC)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || ErrorCode(err) != EInvalid {
				t.Errorf("%s: err = %v, want %q", tt.query, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.query, err)
			continue
		}
		if !tt.check(f) {
			t.Errorf("%s: got %+v", tt.query, f)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	c := Cursor{TimeMS: 1772946000123, ID: "a:b:c"}
	got, err := ParseCursor(c.Encode())
	if err != nil || got != c {
		t.Errorf("round trip = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "!!", "bm8tY29sb24", "eDphYmM"} {
		if _, err := ParseCursor(bad); err == nil {
			t.Errorf("ParseCursor(%q) accepted", bad)
		}
	}
}

func FuzzFilterQuery(f *testing.F) {
	for _, s := range []string{"period=7d", "from=2026-01-01&to=2026-01-31&tz=Asia/Kolkata", "status=404,500&status_class=5xx", "cursor=x", "tz=../../x"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		q, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		flt, err := ParseLogFilter(q, now, time.UTC)
		if err != nil {
			if ErrorCode(err) != EInvalid {
				t.Fatalf("error %v is not invalid input", err)
			}
			return
		}
		if !flt.From.IsZero() && !flt.To.IsZero() && !flt.From.Before(flt.To) {
			t.Fatalf("accepted an empty range %v..%v", flt.From, flt.To)
		}
		_ = flt.Location()
	})
}

func TestSplitSelf(t *testing.T) {
	tests := []struct {
		name     string
		cols     []string
		rest     []string
		self     bool
		selfOnly bool
	}{
		{"none", nil, nil, false, false},
		{"others", []string{"Ideas API"}, []string{"Ideas API"}, false, false},
		{"self alone", []string{SelfCollection}, []string{}, true, true},
		{"self and another", []string{"Reporting", SelfCollection}, []string{"Reporting"}, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := LogFilter{Collections: tc.cols, Clients: []string{"Data Team"}}
			rest, self, selfOnly := f.SplitSelf()
			if !slices.Equal(rest.Collections, tc.rest) || (self != nil) != tc.self || selfOnly != tc.selfOnly {
				t.Fatalf("rest %q, self %v, selfOnly %v", rest.Collections, self, selfOnly)
			}
			if self != nil && (!slices.Equal(self.Collections, []string{SelfCollection}) || !slices.Equal(self.Clients, f.Clients)) {
				t.Errorf("self filter %+v", *self)
			}
			if !slices.Equal(f.Collections, tc.cols) {
				t.Errorf("f changed: %q", f.Collections)
			}
		})
	}
}
