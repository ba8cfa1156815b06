package ingest

import (
	"bufio"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

func collect(t *testing.T, body string, f Format) (lines []int, errs []string) {
	t.Helper()
	return collectFrom(t, NewDecoder(strings.NewReader(body), f))
}

// collectFrom reads dec to the end: each record's line, and its error or "".
func collectFrom(t *testing.T, dec *Decoder) (lines []int, errs []string) {
	t.Helper()
	for {
		rec, err := dec.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, rec.Line)
		e := ""
		if rec.Err != nil {
			e = rec.Err.Error()
		}
		errs = append(errs, e)
	}
}

func TestDecoderLines(t *testing.T) {
	ok := `{"kind":"user_seen","id":"1","time":"2026-01-01T00:00:00Z","system":"Jira"}`
	long := `{"kind":"user_seen","id":"2","time":"2026-01-01T00:00:00Z","system":"` + strings.Repeat("x", MaxLineBytes) + `"}`
	tests := []struct {
		name  string
		body  string
		f     Format
		lines []int
		errs  []string // substrings; "" for a valid record
	}{
		{"bom, crlf, blank lines, no final newline", "\xef\xbb\xbf" + ok + "\r\n\r\n" + ok, NDJSON, []int{1, 3}, []string{"", ""}},
		{"a line over the limit is rejected, the next read", long + "\n" + ok + "\n", NDJSON, []int{1, 2}, []string{"longer than", ""}},
		{"trailing garbage", ok + " x\n", NDJSON, []int{1}, []string{"malformed JSON"}},
		{"duplicate field", `{"kind":"user_seen","kind":"sync","id":"1","time":"2026-01-01T00:00:00Z","system":"J"}`, NDJSON, []int{1}, []string{"malformed JSON"}},
		{"invalid utf-8", `{"kind":"user_seen","id":"1","time":"2026-01-01T00:00:00Z","system":"` + "\xff" + `"}`, NDJSON, []int{1}, []string{"malformed JSON"}},
		{"id too long", `{"kind":"user_seen","id":"` + strings.Repeat("i", 300) + `","time":"2026-01-01T00:00:00Z","system":"J"}`, NDJSON, []int{1}, []string{`field "id": longer than 256`}},
		{"required per kind", `{"kind":"api_request","id":"1","time":"2026-01-01T00:00:00Z"}` + "\n" + `{"kind":"activity","id":"2","time":"2026-01-01T00:00:00Z","user_id":"  "}` + "\n", NDJSON, []int{1, 2}, []string{`field "status": required for api_request`, `field "user_id": required for activity`}},
		{"another kind's field is not kept", `{"kind":"user_seen","id":"1","time":"2026-01-01T00:00:00Z","system":"J","status":7}`, NDJSON, []int{1}, []string{""}},
		{"array", "[" + ok + "," + ok + "]", JSONArray, []int{1, 2}, []string{"", ""}},
		{"empty array", "[]", JSONArray, nil, nil},
		{"broken array stops", "[" + ok + ", {\"kind\": ]", JSONArray, []int{1, 2}, []string{"", "malformed JSON"}},
		{"not an array", `{"a":1}`, JSONArray, []int{1}, []string{"array of events"}},
		{"csv unknown column", "kind,id,time,colour\n", CSV, []int{1}, []string{`unknown column "colour"`}},
		{"csv bare quote", "kind,id,time,system\nuser_seen,1,2026-01-01T00:00:00Z,\"J\"x\n", CSV, []int{1}, []string{"extraneous"}},
		{"csv header only", "kind,id,time\n", CSV, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, errs := collect(t, tt.body, tt.f)
			if !reflect.DeepEqual(lines, tt.lines) || len(errs) != len(tt.errs) {
				t.Fatalf("lines %v errs %q, want %v %q", lines, errs, tt.lines, tt.errs)
			}
			for i, want := range tt.errs {
				if (want == "") != (errs[i] == "") || !strings.Contains(errs[i], want) {
					t.Errorf("record %d: err %q, want %q", i, errs[i], want)
				}
			}
		})
	}
}

func TestSniff(t *testing.T) {
	for body, want := range map[string]Format{"  \n[": JSONArray, "\xef\xbb\xbf{": NDJSON, "kind,id": CSV, "": NDJSON} {
		if got := Sniff(bufio.NewReader(strings.NewReader(body))); got != want {
			t.Errorf("Sniff(%q) = %v, want %v", body, got, want)
		}
	}
}

func TestMarshalParseRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 8, 7, 0, 0, 123_000_000, time.UTC)
	events := []usage.Event{
		{Kind: usage.KindAPIRequest, ID: "a", Time: at, Method: "POST", URL: "/a/rest/v1/x", Status: 429, GatewayCode: 4291, StatusDetails: "Rate limit exceeded", UserAgent: "ideascale-mcp-server/1", TimingMS: 5, CollectionType: "proxy"},
		{Kind: usage.KindActivity, ID: "b", Time: at, UserID: "u", Feature: "workflow", Messages: 0, InputTokens: 3},
		{Kind: usage.KindSync, ID: "c", Time: at, Outcome: "failed", IntegrationStatus: "inactive", IntegrationUpdatedAt: at.Add(-time.Hour)},
		{Kind: usage.KindUserSeen, ID: "d", Time: at, System: "Jira", ServiceAccount: true, Interaction: "mention"},
	}
	for _, e := range events {
		e.ClientClass, e.UsageType = "", ""
		if e.Kind == usage.KindAPIRequest {
			e.ClientClass, e.UsageType = usage.Classify(e.URL, e.UserAgent)
		}
		b, err := MarshalJSON(&e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseJSON(b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Errorf("round trip of %s:\n got %+v\nwant %+v", b, got, e)
		}
	}
}

// FuzzIngestLine checks that no line makes the parser panic, and that
// every accepted event survives a round trip through the wire format.
func FuzzIngestLine(f *testing.F) {
	for _, s := range []string{
		`{"kind":"api_request","id":"1","time":"2026-01-01T00:00:00Z","status":200}`,
		`{"kind":"activity","id":"1","time":"2026-01-01T00:00:00+05:30","user_id":"u","messages":3}`,
		`{"kind":"sync","id":"x","time":"2026-01-01T00:00:00Z","integration_updated_at":"2025-01-01T00:00:00Z"}`,
		`{"kind":"user_seen","id":"x","time":"2026-01-01T00:00:00Z","system":"J","service_account":true}`,
		`[1,2]`, `{"kind":1}`, `{}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		e, err := ParseJSON([]byte(line))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		b, err := MarshalJSON(&e)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseJSON(b)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", b, err)
		}
		if !reflect.DeepEqual(again, e) {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", e, again)
		}
	})
}

// FuzzDecodeCSV checks the CSV path never panics and numbers lines from 1.
func FuzzDecodeCSV(f *testing.F) {
	f.Add("kind,id,time,status\napi_request,1,2026-01-01T00:00:00Z,200\n")
	f.Add("kind,id,time,system,service_account\nuser_seen,1,2026-01-01T00:00:00Z,J,yes\n")
	f.Fuzz(func(t *testing.T, body string) {
		dec := NewDecoder(strings.NewReader(body), CSV)
		prev := 0
		for i := 0; i < 10000; i++ {
			rec, err := dec.Next()
			if err != nil {
				return
			}
			if rec.Line < prev || rec.Line < 1 {
				t.Fatalf("line %d after %d", rec.Line, prev)
			}
			prev = rec.Line
		}
	})
}

func TestRefuseFuture(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	body := `{"kind":"user_seen","id":"1","time":"2026-11-27T11:59:59Z","system":"J"}
{"kind":"user_seen","id":"2","time":"2026-11-27T12:00:00.001Z","system":"J"}
{"kind":"user_seen","id":"3","time":"9999-12-31T23:59:59Z","system":"J"}
`
	dec := NewDecoder(strings.NewReader(body), NDJSON)
	dec.RefuseFuture(now, 24*time.Hour)
	_, errs := collectFrom(t, dec)
	want := []string{"", `field "time": 2026-11-27T12:00:00.001Z is more than 24h0m0s ahead of the server's clock (2026-11-26T12:00:00Z)`, `field "time": 9999-12-31T23:59:59.000Z is more than 24h0m0s ahead`}
	if len(errs) != 3 || errs[0] != "" || errs[1] != want[1] || !strings.HasPrefix(errs[2], want[2]) {
		t.Errorf("errors %q, want %q", errs, want)
	}
}
