package ingest

import (
	"reflect"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// FuzzCheckMatchesJSON: Check gives what ParseJSON gives for
// MarshalJSON's encoding of the same event — the same event or the same
// error — whatever the strings, numbers and times.
func FuzzCheckMatchesJSON(f *testing.F) {
	f.Add(uint8(0), "req-1", "/a/rest/v1/ideas", "PostmanRuntime/7.43.3", int64(1_780_000_000_123_456_789), int64(200))
	f.Add(uint8(1), "act-1", "alice", "ai_assistant", int64(1_780_000_000_000_000_000), int64(3))
	f.Add(uint8(2), "sync-1", "Jira", "active", int64(1_780_000_000_000_000_000), int64(0))
	f.Add(uint8(3), "seen-1", "Salesforce", "login", int64(1_780_000_000_000_000_000), int64(0))
	f.Add(uint8(0), "bad\xffid", "\xc3(", "=cmd|' /C calc'!A0", int64(-5), int64(99))
	f.Add(uint8(4), "", "", "", int64(0), int64(0))
	kinds := []usage.Kind{usage.KindAPIRequest, usage.KindActivity, usage.KindSync, usage.KindUserSeen, "bogus", ""}
	f.Fuzz(func(t *testing.T, k uint8, id, a, b string, ns, n int64) {
		e := usage.Event{
			Kind: kinds[int(k)%len(kinds)], ID: id, Time: time.Unix(0, ns),
			Method: a, URL: a, Endpoint: b, Status: int(n), GatewayCode: int(n / 7), StatusDetails: b,
			Community: a, Collection: b, CollectionType: b, Client: a, MemberID: b, MemberName: a, IP: b, UserAgent: b,
			TimingMS: n, DelayMS: n % 3,
			UserID: a, UserEmail: b, Feature: b, Model: a, Messages: n%5 - 1, InputTokens: n, OutputTokens: n % 11,
			Integration: a, System1: b, IntegrationStatus: b, Outcome: a, EntityID: b,
			System: a, Email: b, Interaction: b, ServiceAccount: n%2 == 0,
		}
		if n%3 == 0 {
			e.IntegrationUpdatedAt = time.Unix(0, ns/3)
		}
		line, err := MarshalJSON(&e)
		if err != nil {
			t.Fatal(err)
		}
		want, werr := ParseJSON(line)
		got, gerr := Check(&e)
		switch {
		case (werr == nil) != (gerr == nil):
			t.Fatalf("JSON: %v; Check: %v", werr, gerr)
		case werr != nil && werr.Error() != gerr.Error():
			t.Fatalf("JSON error %q, Check error %q", werr, gerr)
		case werr == nil && !reflect.DeepEqual(got, want):
			t.Fatalf("Check gave\n%+v\nJSON gave\n%+v", got, want)
		}
	})
}

// TestCheckerInPlace: a Checker gives what Check gives, event after
// event, and leaves a refused event as it was.
func TestCheckerInPlace(t *testing.T) {
	var c Checker
	for _, e := range []usage.Event{
		{Kind: usage.KindAPIRequest, ID: "a", Time: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC), Method: "get", URL: "/mcp/x", Status: 200, UserAgent: "Claude"},
		{Kind: usage.KindActivity, ID: "b", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), UserID: "u1", Feature: "chat"},
		{Kind: usage.KindAPIRequest, ID: "c", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Status: 999},
	} {
		want, wantErr := Check(&e)
		got := e
		err := c.CheckInPlace(&got)
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Fatalf("%s: error %v, Check's %v", e.ID, err, wantErr)
		}
		if err != nil {
			want = e
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v\nwant %+v", e.ID, got, want)
		}
	}
}

// TestCheckTimesMatchJSON: at the ends of the range a time may take, and
// in a zone other than UTC, Check gives what ParseJSON gives for the
// JSON of the same event (times past 2262, which FuzzCheckMatchesJSON's
// nanoseconds cannot reach, too).
func TestCheckTimesMatchJSON(t *testing.T) {
	kathmandu := time.FixedZone("NPT", 5*3600+45*60)
	for _, at := range []time.Time{
		time.Date(1969, 12, 31, 23, 59, 59, 999_500_000, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 500_000, time.UTC),
		time.Date(1970, 1, 1, 5, 44, 59, 0, kathmandu),
		time.Date(2026, 6, 1, 12, 0, 0, 123_999_999, kathmandu),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(10000, 1, 1, 5, 0, 0, 0, kathmandu),
		{},
	} {
		for _, e := range []usage.Event{
			{Kind: usage.KindAPIRequest, ID: "a", Time: at, Method: "GET", URL: "/x", Status: 200},
			{Kind: usage.KindSync, ID: "s", Time: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), Integration: "Jira",
				System1: "a", IntegrationStatus: "active", Outcome: "synced", IntegrationUpdatedAt: at},
		} {
			line, err := MarshalJSON(&e)
			if err != nil {
				t.Fatal(err)
			}
			want, werr := ParseJSON(line)
			got, gerr := Check(&e)
			if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
				t.Fatalf("%s at %v: JSON error %v, Check error %v", e.Kind, at, werr, gerr)
			}
			if werr == nil && !reflect.DeepEqual(got, want) {
				t.Errorf("%s at %v: Check gave\n%+v\nJSON gave\n%+v", e.Kind, at, got, want)
			}
		}
	}
}
