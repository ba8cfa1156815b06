package alerts

import (
	"context"
	"time"
)

// Entry is a stored rule with where it stands.
type Entry struct {
	Rule
	Status Status
	// Last is the latest measurement (zero At: never measured).
	Last Measurement
	// Secret keys the HMAC of the webhook's signature header.
	Secret string
	// NotifyError is why the latest notification failed, "" when it did
	// not; NotifyErrorAt when.
	NotifyError   string
	NotifyErrorAt time.Time
	Created       time.Time
	Updated       time.Time
}

// Event is one entry of a rule's history: a change of state or a notice.
type Event struct {
	ID     string
	RuleID string
	At     time.Time
	State  State
	Notice Notice
	Value  float64
	Calls  int64
}

// Record is what measuring a rule led to: its entry with the new status
// and measurement (Last), the state it was in, and the notice it calls for.
type Record struct {
	Entry  *Entry
	Prev   State
	Notice Notice
}

// Store keeps rules, where they stand and their history. sqlmeta
// implements it on SQLite and PostgreSQL.
type Store interface {
	// CreateAlert stores a new rule (state ok, due at once) with its
	// webhook secret; EInvalid when the workspace has MaxRules already.
	CreateAlert(ctx context.Context, r *Rule, secret string, now time.Time) error
	// UpdateAlert replaces a rule's definition, keeping its state and
	// history; it is due at once. ENotFound when the workspace has no such
	// rule.
	UpdateAlert(ctx context.Context, r *Rule, now time.Time) error
	// DeleteAlert removes a rule and its history; ENotFound when the
	// workspace has no such rule.
	DeleteAlert(ctx context.Context, workspaceID int64, id string) error
	Alert(ctx context.Context, workspaceID int64, id string) (Entry, error)
	// Alerts lists a workspace's rules by name.
	Alerts(ctx context.Context, workspaceID int64) ([]Entry, error)
	// ClaimDueAlerts takes up to limit enabled rules of any workspace due
	// at now and makes each due again at next: a rule claimed by one
	// caller is not claimed by another until next.
	ClaimDueAlerts(ctx context.Context, now, next time.Time, limit int) ([]Entry, error)
	// RecordAlerts keeps, in one transaction, each record's measurement
	// and the status it led to, and adds an event to the history when the
	// state changed or a notice is sent.
	RecordAlerts(ctx context.Context, records []Record) error
	// AlertNotifyError records why a notification failed ("" when the
	// latest one went through).
	AlertNotifyError(ctx context.Context, id, failure string, at time.Time) error
	// AlertEvents lists a rule's history, newest first, up to limit.
	AlertEvents(ctx context.Context, workspaceID int64, id string, limit int) ([]Event, error)
}
