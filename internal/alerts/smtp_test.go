package alerts

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/alerts/alertstest"
)

// TestSMTPMailpit: a message goes through STARTTLS and authentication to
// a real SMTP server, with its subject, recipients and body as written.
func TestSMTPMailpit(t *testing.T) {
	mail := alertstest.Mailpit(t)
	s, err := ParseSMTP("smtp://alerts:secret@"+mail.Addr, "usagelog@example.com")
	if err != nil {
		t.Fatal(err)
	}
	s.RootCAs = mail.Pool
	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	r := &Rule{ID: "al_1", Name: "Zahlungen über Limit\r\nBcc: evil@example.com", Metric: MetricCalls, Op: ">", Threshold: 1000,
		Window: time.Hour, Filters: url.Values{"collection": {"Payments"}}}
	m := &Message{Rule: r, Notice: Fired, Status: Status{State: Firing}, M: Measurement{At: at, Value: 1500, Calls: 1500},
		Link: LogsLink("https://usagelog.example.com", r, at)}
	if err := s.Send(context.Background(), []string{"ops@example.com", "oncall@example.com"}, m); err != nil {
		t.Fatal(err)
	}
	got := mail.WaitMessages(t, 1)[0]
	if got.Subject != "[FIRING] Zahlungen über Limit  Bcc: evil@example.com: calls 1500 (threshold > 1000, last 1h)" ||
		len(got.To) != 2 || len(got.Bcc) != 0 {
		t.Fatalf("message %+v", got)
	}
	text := mail.Text(t, got.ID)
	if !strings.Contains(text, "1500 calls in the window to 2026-12-01T09:30:00Z, filtered by collection Payments.") ||
		!strings.Contains(text, "Logs: https://usagelog.example.com/logs?collection=Payments&from=2026-12-01T08%3A30%3A00Z") {
		t.Fatalf("body %q", text)
	}
}
