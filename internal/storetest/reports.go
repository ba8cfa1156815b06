package storetest

import (
	"fmt"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// ReportsNow is the "now" of ReportsFixture: its 6-month window starts
// 2026-05-22T12:00Z, its year 2025-11-22T12:00Z.
var ReportsNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// ReportsFixture is sync and user_seen events whose seed 003 workbooks are
// worked out by hand in export's usage reports test: syncs of two
// integrations (one inactive), failed syncs that must not count, one sync
// only the 1-year workbook sees and one older than a year; and the
// identity worked example of package identity, plus one user only the
// 1-year workbook sees.
func ReportsFixture() []usage.Event {
	at := mustTime
	n := 0
	sync := func(ts, integration, s1, s2, p1, p2, end, typ, status, updated, outcome string) usage.Event {
		n++
		return usage.Event{Kind: usage.KindSync, ID: fmt.Sprintf("s%d", n), Time: at(ts), Integration: integration,
			System1: s1, System2: s2, Project1: p1, Project2: p2, EndSystem: end, EntityType: typ, EntityID: fmt.Sprintf("E-%d", n),
			IntegrationStatus: status, IntegrationUpdatedAt: at(updated), Outcome: outcome}
	}
	seen := func(ts, system, email, username, display, interaction string, service bool) usage.Event {
		n++
		return usage.Event{Kind: usage.KindUserSeen, ID: fmt.Sprintf("u%d", n), Time: at(ts), System: system, Email: email,
			Username: username, DisplayName: display, Interaction: interaction, ServiceAccount: service}
	}
	return []usage.Event{
		sync("2026-10-01T10:00:00Z", "Jira-SN", "Jira", "ServiceNow", "ENG", "INC", "ServiceNow", "Incident", "active", "2026-09-01T00:00:00Z", "synced"),
		sync("2026-10-02T10:00:00Z", "Jira-SN", "Jira", "ServiceNow", "ENG", "INC", "ServiceNow", "Incident", "active", "2026-09-01T00:00:00Z", "synced"),
		sync("2026-10-03T10:00:00Z", "Jira-SN", "Jira", "ServiceNow", "ENG", "INC", "Jira", "Bug", "active", "2026-09-01T00:00:00Z", "synced"),
		sync("2026-10-04T10:00:00Z", "Jira-SN", "Jira", "ServiceNow", "ENG", "INC", "Jira", "Bug", "active", "2026-09-01T00:00:00Z", "failed"),
		sync("2026-03-01T10:00:00Z", "ADO-Jira", "Azure DevOps", "Jira", "Web", "ENG", "Jira", "Story", "inactive", "2026-02-01T00:00:00Z", "synced"),
		sync("2026-08-01T10:00:00Z", "ADO-Jira", "Azure DevOps", "Jira", "Web", "ENG", "Jira", "Task", "inactive", "2026-02-01T00:00:00Z", "failed"),
		sync("2025-06-01T10:00:00Z", "Old", "GitHub", "Jira", "api", "ENG", "Jira", "Issue", "active", "2025-05-01T00:00:00Z", "synced"),

		seen("2026-10-01T01:00:00Z", "Jira", "Ada@Example.com", "ada", "Ada L", "comment_author", false),
		seen("2026-10-01T02:00:00Z", "Jira", "alovelace@corp.example", " ADA ", "", "mention", false),
		seen("2026-10-01T05:00:00Z", "ServiceNow", "ada@example.com", "alovelace", "", "update_author", false),
		seen("2026-10-01T03:00:00Z", "ServiceNow", "bob@example.com", "bobby", "", "comment_author", false),
		seen("2026-10-01T04:00:00Z", "Azure DevOps", "BOB@other.example", "", "", "mention", false),
		seen("2026-10-01T06:00:00Z", "Azure DevOps", "carol@example.com", "", "", "attachment_author", false),
		seen("2026-10-01T07:00:00Z", "Azure DevOps", "Carol@Example.com ", "", "", "comment_author", false),
		seen("2026-10-01T08:00:00Z", "Azure DevOps", "", "", "Dave Smith", "mapped_user_field", false),
		seen("2026-10-01T09:00:00Z", "Azure DevOps", "", "dsmith", "dave smith", "mapped_user_field", false),
		seen("2026-10-01T10:00:00Z", "Azure DevOps", "", "carol", "", "update_author", false),
		seen("2026-10-01T11:00:00Z", "Azure DevOps", "", "BOBBY", "", "mention", false),
		seen("2026-10-01T12:00:00Z", "Azure DevOps", "", "svc-sync", "", "mapped_user_field", true),
		seen("2026-10-02T12:00:00Z", "Azure DevOps", "", "svc-sync", "", "update_author", false),
		seen("2026-01-15T12:00:00Z", "Jira", "", "olduser", "", "comment_author", false),
		seen("2025-01-15T12:00:00Z", "Jira", "", "ancient", "", "comment_author", false),
	}
}
