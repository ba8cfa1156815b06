package storetest

import (
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// ActivityFixture is nine activity events of three users around March 2026
// in New York, whose seed 001 exports for 1–31 March (America/New_York)
// are worked out by hand in httpapi's usage export test: a1 and a2 fall on
// the same New York day though on different UTC days, a7 and a8 are
// outside the range, a9 is inside though on 1 April in UTC, and the range
// crosses the 8 March DST change.
func ActivityFixture() []usage.Event {
	act := func(id, ts, user string, e usage.Event) usage.Event {
		e.Kind, e.ID, e.Time, e.UserID = usage.KindActivity, id, mustTime(ts), user
		switch user {
		case "u1":
			e.UserName, e.UserEmail = "Ada Lovelace", "ada@example.com"
		case "u2":
			e.UserName, e.UserEmail = "@Bob", "bob@example.com"
		case "u3":
			e.UserName = "Cy <b>"
		}
		if e.Messages == 0 {
			e.Messages = 1
		}
		return e
	}
	return []usage.Event{
		act("a1", "2026-03-01T15:00:00Z", "u1", usage.Event{Feature: "chat", AssistantID: "as1", Assistant: "Writer", Model: "gpt-4o", ProjectID: "p1", Project: "Apollo", Messages: 3, InputTokens: 100, OutputTokens: 200}),
		act("a2", "2026-03-02T03:00:00Z", "u1", usage.Event{Feature: "agent", AssistantID: "as1", Assistant: "Writer", Model: "claude", Messages: 2, InputTokens: 50, OutputTokens: 60}),
		act("a3", "2026-03-02T15:00:00Z", "u1", usage.Event{Feature: "workflow", WorkflowID: "wf1", Workflow: "Digest", Model: "gpt-4o"}),
		act("a4", "2026-03-05T12:00:00Z", "u2", usage.Event{Feature: "chat", AssistantID: "as2", Assistant: "Coder", Model: "claude", ProjectID: "p1", Project: "Apollo", Messages: 4, InputTokens: 10, OutputTokens: 20}),
		act("a5", "2026-03-10T12:00:00Z", "u2", usage.Event{Feature: "api", APIKey: "CI key", Model: "gpt-4o", Messages: 5, InputTokens: 1000, OutputTokens: 2000}),
		act("a6", "2026-03-10T13:00:00Z", "u3", usage.Event{Feature: "workflow", WorkflowID: "wf1", Workflow: "Digest"}),
		act("a7", "2026-02-28T12:00:00Z", "u3", usage.Event{Feature: "chat", AssistantID: "as1", Assistant: "Writer", Messages: 7}),
		act("a8", "2026-04-01T04:30:00Z", "u1", usage.Event{Feature: "chat", AssistantID: "as1", Assistant: "Writer", Messages: 7}),
		act("a9", "2026-04-01T03:30:00Z", "u2", usage.Event{Feature: "chat", AssistantID: "as2", Assistant: "Coder", Model: "claude"}),
	}
}

// mustTime parses a fixture's RFC 3339 time.
func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
