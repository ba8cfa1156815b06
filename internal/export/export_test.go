package export

import (
	"bytes"
	"context"
	"encoding/csv"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fixture is a handful of API calls on either side of New York's spring
// DST change (2026-03-08 07:00 UTC) with hostile strings in text fields.
func fixture() []usage.Event {
	at := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	ev := []usage.Event{
		{ID: "r1", Time: at("2026-03-08T06:59:00Z"), Status: 200, URL: "/a/rest/chat/ideas", UserAgent: "Java/21.0.5", Community: "Innovation Hub", MemberName: "Ada", IP: "203.0.113.7", Collection: "Chat bot", Endpoint: "/chat/messages", Client: "Slack integration", TimingMS: 42, DelayMS: 3},
		{ID: "r2", Time: at("2026-03-08T07:01:00Z"), Status: 401, GatewayCode: 4011, StatusDetails: "Unrecognized token", URL: "/a/rest/v1/ideas", UserAgent: "ideascale-mcp-server/1.0.0", Community: "=HYPERLINK(\"http://x\")", MemberName: "+Bob", IP: "2001:db8::1", Collection: "Ideas API", Endpoint: "/ideas", Client: "@Claude", TimingMS: 1},
		{ID: "r3", Time: at("2026-03-08T12:30:00Z"), Status: 201, URL: "/a/rest/backend/v1/summary", UserAgent: "axios/1.7.7", Community: "Product, \"Ideas\"", MemberName: "-Carol", Collection: "AI assistant", Endpoint: "/ai/summaries", Client: "IdeaScale AI", TimingMS: 900, DelayMS: 12, JobURL: "https://jobs.example.com/1"},
	}
	for i := range ev {
		ev[i].Kind = usage.KindAPIRequest
		ev[i].ClientClass, ev[i].UsageType = usage.Classify(ev[i].URL, ev[i].UserAgent)
	}
	return ev
}

func seq(ev []usage.Event) func(func(*usage.Event, error) bool) {
	return func(yield func(*usage.Event, error) bool) {
		for i := range ev {
			if !yield(&ev[i], nil) {
				return
			}
		}
	}
}

func TestGolden(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	for _, d := range []*Definition{APILogs, APIUsage} {
		var buf bytes.Buffer
		n, err := Write(context.Background(), d, seq(fixture()), ny, NewCSV(&buf), nil)
		if err != nil || n != 3 {
			t.Fatalf("%s: %d rows, %v", d.Name, n, err)
		}
		golden := filepath.Join("testdata", d.Name+".golden.csv")
		if *update {
			os.WriteFile(golden, buf.Bytes(), 0o644)
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("%s differs from %s:\n%s", d.Name, golden, buf.Bytes())
		}
		// And it reads back as CSV with the header first.
		rows, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
		if err != nil || len(rows) != 4 {
			t.Errorf("%s: read back %d rows, %v", d.Name, len(rows), err)
		}
	}
}

func TestNeutralize(t *testing.T) {
	for in, want := range map[string]string{
		"=1+1": "'=1+1", "+1": "'+1", "-1": "'-1", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "\rx": "'\rx",
		"": "", "plain": "plain", "a=b": "a=b", "'quoted": "'quoted",
	} {
		if got := Neutralize(in); got != want {
			t.Errorf("Neutralize(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzCSVRoundTrip writes any cells and reads them back: what comes back is
// the cell, neutralised, never a broken row.
func FuzzCSVRoundTrip(f *testing.F) {
	f.Add("a", "=cmd|' /C calc'!A0", "line\nbreak")
	f.Add("\"quoted\"", "", "-5")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		var buf bytes.Buffer
		w := NewCSV(&buf)
		if err := w.WriteRow([]string{a, b, c}, []CellKind{Text, Text, Text}); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		r := csv.NewReader(&buf)
		r.LazyQuotes = false
		rows, err := r.ReadAll()
		if err != nil {
			t.Fatalf("read back: %v", err)
		}
		if len(rows) != 1 || len(rows[0]) != 3 {
			t.Fatalf("rows %q", rows)
		}
		for i, in := range []string{a, b, c} {
			// encoding/csv reads \r\n inside quotes as \n.
			want := bytes.ReplaceAll([]byte(Neutralize(in)), []byte("\r\n"), []byte("\n"))
			if rows[0][i] != string(want) && !bytes.ContainsRune([]byte(in), '\r') {
				t.Errorf("cell %d: %q came back as %q", i, in, rows[0][i])
			}
		}
	})
}
