package alerts

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestMessages: the text, the JSON webhook body and the Slack body of a
// rule that fires, against golden files (UPDATE_GOLDEN=1 rewrites them).
func TestMessages(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	r := &Rule{ID: "al_x1", Name: "Orders API <failing>", Metric: MetricErrorRate, Op: ">", Threshold: 0.05, Window: 15 * time.Minute,
		Filters: url.Values{"collection": {"Orders"}, "client": {"=cmd|' /C calc'!A0"}}, MinCalls: 50}
	m := &Message{Rule: r, Notice: Fired, Status: Status{State: Firing, Since: at}, M: Measurement{At: at, Value: 0.0831, Calls: 1204},
		Link: LogsLink("https://usagelog.example.com/", r, at)}
	jsonBody, err := m.Body(FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	slack, err := m.Body(FormatSlack)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]byte{"firing.txt": []byte(m.Text()), "firing.json": jsonBody, "firing.slack.json": slack} {
		path := filepath.Join("testdata", name)
		if os.Getenv("UPDATE_GOLDEN") != "" {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n%s\nwant\n%s", name, got, want)
		}
	}
}
