package usage

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Actor is who did something the audit log records.
type Actor struct {
	// Type is "key", "member" or "system".
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Actor types.
const (
	ActorKey    = "key"
	ActorMember = "member"
	ActorSystem = "system"
)

// SystemActor is usagelog itself (the janitor, the CLI on a local store,
// a schedule's run).
func SystemActor(name string) Actor { return Actor{Type: ActorSystem, ID: "usagelog", Name: name} }

// Audit actions.
const (
	AuditKeyCreate            = "key.create"
	AuditKeyRevoke            = "key.revoke"
	AuditMemberCreate         = "member.create"
	AuditMemberSignIn         = "member.sign_in"
	AuditMemberSignInFailed   = "member.sign_in_failed"
	AuditSettingsUpdate       = "settings.update"
	AuditClassificationUpdate = "classification.update"
	AuditRedactionUpdate      = "redaction.update"
	AuditExportCreate         = "export.create"
	AuditExportDownload       = "export.download"
	AuditScheduleCreate       = "schedule.create"
	AuditScheduleDelete       = "schedule.delete"
	AuditClientCreate         = "client.create"
	AuditClientRevoke         = "client.revoke"
	AuditCollectionUpdate     = "collection.update"
	AuditRetentionPurge       = "retention.purge"
	AuditAlertCreate          = "alert.create"
	AuditAlertUpdate          = "alert.update"
	AuditAlertDelete          = "alert.delete"
)

// AuditActions lists every action, for validation and pick-lists.
var AuditActions = []string{AuditKeyCreate, AuditKeyRevoke, AuditMemberCreate, AuditMemberSignIn, AuditMemberSignInFailed,
	AuditSettingsUpdate, AuditClassificationUpdate, AuditExportCreate, AuditExportDownload, AuditScheduleCreate,
	AuditScheduleDelete, AuditClientCreate, AuditClientRevoke, AuditCollectionUpdate, AuditRetentionPurge,
	AuditAlertCreate, AuditAlertUpdate, AuditAlertDelete, AuditRedactionUpdate, AuditErasureCreate, AuditErasureDone}

// AuditEntry is one thing done: who, what, to what, from where.
type AuditEntry struct {
	ID          string         `json:"id"`
	WorkspaceID int64          `json:"-"`
	Time        time.Time      `json:"time"`
	Actor       Actor          `json:"actor"`
	Action      string         `json:"action"`
	Target      string         `json:"target"`
	IP          string         `json:"ip"`
	Details     map[string]any `json:"details"`
}

// AuditQuery selects a workspace's entries, newest first.
type AuditQuery struct {
	Action   string
	From, To time.Time // From inclusive, To exclusive; zero: open
	Limit    int
	After    *Cursor
}

// AuditStore keeps the audit log: entries are appended, read and, past
// the audit retention, purged; nothing changes one.
type AuditStore interface {
	AppendAudit(ctx context.Context, entries []AuditEntry) error
	Audit(ctx context.Context, workspaceID int64, q AuditQuery) ([]AuditEntry, error)
	// PurgeAudit removes the entries older than before, and says how many.
	PurgeAudit(ctx context.Context, before time.Time) (int64, error)
}

// ParseAuditQuery reads the audit log's filters: action (one of
// AuditActions), from and to (RFC 3339, or dates in UTC; to is
// exclusive, a date's whole day included), limit (1–1000, default 100)
// and cursor. Errors name the parameter.
func ParseAuditQuery(v map[string][]string) (AuditQuery, error) {
	get := func(k string) string {
		if len(v[k]) == 0 {
			return ""
		}
		return strings.TrimSpace(v[k][0])
	}
	for k := range v {
		switch k {
		case "action", "from", "to", "limit", "cursor":
		default:
			return AuditQuery{}, Errorf(EInvalid, "unknown parameter %q (want action, from, to, limit or cursor)", k)
		}
	}
	q := AuditQuery{Action: get("action"), Limit: 100}
	if q.Action != "" && !slices.Contains(AuditActions, q.Action) {
		return q, Errorf(EInvalid, "action: unknown action %q (want one of %s)", q.Action, strings.Join(AuditActions, ", "))
	}
	for _, b := range []struct {
		name string
		dst  *time.Time
		day  bool // a date as the end: the whole day
	}{{"from", &q.From, false}, {"to", &q.To, true}} {
		s := get(b.name)
		if s == "" {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			*b.dst = t
			continue
		}
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return q, Errorf(EInvalid, "%s: %q is neither RFC 3339 nor a date (2026-03-01)", b.name, s)
		}
		if b.day {
			d = d.AddDate(0, 0, 1)
		}
		*b.dst = d
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return q, Errorf(EInvalid, "from: %s is not before to", q.From.Format(time.RFC3339))
	}
	if s := get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return q, Errorf(EInvalid, "limit: %q is not a number from 1 to 1000", s)
		}
		q.Limit = n
	}
	if s := get("cursor"); s != "" {
		cur, err := ParseCursor(s)
		if err != nil {
			return q, err
		}
		q.After = &cur
	}
	return q, nil
}
