package usage

import (
	"context"
	"iter"
	"time"
)

// Workspace is a tenant. Nothing of one workspace is visible through another.
type Workspace struct {
	ID        int64
	Name      string
	CreatedAt time.Time
}

// DefaultWorkspace is the name of the workspace that exists from the first
// start.
const DefaultWorkspace = "default"

// Scope is a permission an API key carries.
type Scope string

// Scopes of the HTTP contract.
const (
	ScopeEventsWrite    Scope = "EVENTS_WRITE"
	ScopeLogsRead       Scope = "LOGS_READ"
	ScopeUsageExportAPI Scope = "USAGE_EXPORT_API"
	ScopeServerMgmtRead Scope = "SERVER_MANAGEMENT_READ"
	ScopeWorkspaceAdmin Scope = "WORKSPACE_ADMIN"
)

// AllScopes lists every scope.
var AllScopes = []Scope{ScopeEventsWrite, ScopeLogsRead, ScopeUsageExportAPI, ScopeServerMgmtRead, ScopeWorkspaceAdmin}

// ParseScope validates a scope name.
func ParseScope(s string) (Scope, error) {
	for _, sc := range AllScopes {
		if string(sc) == s {
			return sc, nil
		}
	}
	return "", Errorf(EInvalid, "unknown scope %q (want one of EVENTS_WRITE, LOGS_READ, USAGE_EXPORT_API, SERVER_MANAGEMENT_READ, WORKSPACE_ADMIN)", s)
}

// APIKey is a stored key. The token itself is never stored, only its hash.
type APIKey struct {
	ID          string
	WorkspaceID int64
	Name        string
	Scopes      []Scope
	Hash        string // hex SHA-256 of the token
	CreatedAt   time.Time
	LastUsedAt  time.Time // zero when never used
	RevokedAt   time.Time // zero while active
}

// Has reports whether the key carries scope s.
func (k *APIKey) Has(s Scope) bool {
	for _, sc := range k.Scopes {
		if sc == s {
			return true
		}
	}
	return false
}

// Revoked reports whether the key was revoked.
func (k *APIKey) Revoked() bool { return !k.RevokedAt.IsZero() }

// AppendResult says what happened to a batch of events.
type AppendResult struct {
	Inserted   int
	Duplicates int
}

// EventStore keeps events. Every method is scoped by workspace.
type EventStore interface {
	LogScanner
	EventScanner
	ReportSource
	// PurgeEvents removes the workspace's events (of every kind) from
	// before `before`, a UTC day boundary, with what is derived from them
	// (rollups), and says how many events went.
	PurgeEvents(ctx context.Context, workspaceID int64, before time.Time) (int64, error)
	// Reclassify classifies the workspace's stored API calls again by
	// rules, with everything derived from their class and type (the
	// rollups), and returns how many changed. It reports its progress in
	// steps of the store's own (done of total) and may run beside ingest:
	// calls stored meanwhile are classified by the rules in force already.
	// resumed says that it takes up a run whose process stopped part way
	// (a store whose steps are not transactions repairs what it may have
	// left half done).
	Reclassify(ctx context.Context, workspaceID int64, rules Classifier, resumed bool, progress func(done, total int64)) (int64, error)
	// Append stores events; an event whose id the workspace already has is
	// counted as a duplicate and not stored again.
	Append(ctx context.Context, workspaceID int64, events []Event) (AppendResult, error)
	// Logs returns api_request events matching q, newest first, starting
	// after q.After.
	Logs(ctx context.Context, workspaceID int64, q LogQuery) ([]Event, error)
	// Count returns how many events of a kind the workspace holds.
	Count(ctx context.Context, workspaceID int64, kind Kind) (int64, error)
	Ping(ctx context.Context) error
	Close() error
}

// LogEstimator is a store that counts the api_request events matching a
// filter for less than LogScanner.CountLogs, but may count an event twice
// (a re-sent event not yet merged away, on ClickHouse): for sizing progress
// bars, never for limits.
type LogEstimator interface {
	EstimateLogs(ctx context.Context, workspaceID int64, f LogFilter) (int64, error)
}

// LogScanner streams every api_request matching a filter, newest first,
// without holding them in memory. Exports use it.
type LogScanner interface {
	// ScanLogs yields the events; fields names the event fields (as
	// ingested: "id", "time", "community", … and "client_class",
	// "usage_type") the caller reads, none meaning all. A store may fill
	// more. The yielded event may be reused: copy it to keep it.
	ScanLogs(ctx context.Context, workspaceID int64, f LogFilter, fields ...string) iter.Seq2[*Event, error]
	// CountLogs returns how many api_request events match f: exports check
	// it against the row limit before writing and show it as progress.
	CountLogs(ctx context.Context, workspaceID int64, f LogFilter) (int64, error)
}

// EventScanner streams a workspace's events of one kind with from <= time
// < to (zero bounds are open), oldest first; fields as for ScanLogs, names
// of the kind's fields. Aggregating reports use it.
type EventScanner interface {
	ScanEvents(ctx context.Context, workspaceID int64, kind Kind, from, to time.Time, fields ...string) iter.Seq2[*Event, error]
}

// SyncGroup sums the sync events of one integration between two projects
// for one end system and entity type.
type SyncGroup struct {
	Integration, System1, System2, Project1, Project2, EndSystem, EntityType string
	// Recent is true for the events at or after the split time of the
	// query, false for those before it.
	Recent      bool
	Synced      int64     // successful syncs (outcome synced)
	LastSynced  time.Time // latest successful sync; zero when none
	LastUpdated time.Time // latest integration_updated_at
}

// SeenGroup is the user_seen observations of one identity in one system:
// one (system, email, username, display name), compared case-insensitively.
type SeenGroup struct {
	System, Email, Username, DisplayName string
	Interactions                         []string
	ServiceAccount                       bool
	LastSeen                             time.Time
}

// ReportSource computes the seed 003 report's aggregates in the store.
// SyncGroups covers from <= time < to and marks groups at or after split
// as Recent, so one scan of the big sync table serves the 6-month and the
// 1-year workbook. SeenGroups covers one period: a workbook resolves its
// users and lets them go before the next one loads.
type ReportSource interface {
	SyncGroups(ctx context.Context, workspaceID int64, from, split, to time.Time) ([]SyncGroup, error)
	SeenGroups(ctx context.Context, workspaceID int64, from, to time.Time) ([]SeenGroup, error)
	// IntegrationStatus returns each integration's latest status.
	IntegrationStatus(ctx context.Context, workspaceID int64) (map[string]string, error)
}

// MetaStore keeps workspaces, keys, members, sessions and settings: every
// aggregate's store in one. Its users declare the aggregates (or the few
// methods) they use.
type MetaStore interface {
	WorkspaceStore
	KeyStore
	MemberStore
	SessionStore
	SettingsStore
	ReclassificationStore
	JobStore
	CollectionStore
	AuditStore

	Ping(ctx context.Context) error
	Close() error
}

// WorkspaceStore keeps workspaces.
type WorkspaceStore interface {
	// EnsureWorkspace returns the named workspace, creating it if needed.
	EnsureWorkspace(ctx context.Context, name string) (Workspace, error)
	// CreateWorkspace creates a workspace; EConflict when the name is taken.
	CreateWorkspace(ctx context.Context, name string) (Workspace, error)
	WorkspaceByName(ctx context.Context, name string) (Workspace, error)
	WorkspaceByID(ctx context.Context, id int64) (Workspace, error)
	Workspaces(ctx context.Context) ([]Workspace, error)
}

// KeyStore keeps API keys.
type KeyStore interface {
	CreateKey(ctx context.Context, k APIKey) error
	// KeyByHash finds a key by its token hash, revoked or not.
	KeyByHash(ctx context.Context, hash string) (APIKey, error)
	Keys(ctx context.Context, workspaceID int64) ([]APIKey, error)
	RevokeKey(ctx context.Context, workspaceID int64, id string, at time.Time) error
	TouchKey(ctx context.Context, id string, at time.Time) error
}

// MemberStore keeps the console's members.
type MemberStore interface {
	CreateMember(ctx context.Context, m Member) error
	// MemberByEmail finds a member by normalized email.
	MemberByEmail(ctx context.Context, email string) (Member, error)
	MemberByID(ctx context.Context, id string) (Member, error)
	Members(ctx context.Context, workspaceID int64) ([]Member, error)
}

// SessionStore keeps the console's sessions.
type SessionStore interface {
	CreateSession(ctx context.Context, s Session) error
	// SessionByHash finds an unexpired session.
	SessionByHash(ctx context.Context, hash string, now time.Time) (Session, error)
	DeleteSession(ctx context.Context, hash string) error
}

// SettingsStore keeps a workspace's settings, classification and
// redaction rules.
type SettingsStore interface {
	// Settings returns a workspace's settings, the defaults if never saved.
	Settings(ctx context.Context, workspaceID int64) (Settings, error)
	SaveSettings(ctx context.Context, workspaceID int64, s Settings) error
	// Classification returns a workspace's classification rules, and
	// false when it never set any (DefaultRules apply).
	Classification(ctx context.Context, workspaceID int64) ([]Rule, bool, error)
	// SaveClassification replaces them; nil goes back to the defaults.
	SaveClassification(ctx context.Context, workspaceID int64, rules []Rule) error
	// Redaction returns a workspace's redaction rules, and false when it
	// never set any (DefaultRedaction applies, and is returned).
	Redaction(ctx context.Context, workspaceID int64) (Redaction, bool, error)
	// SaveRedaction replaces them; nil goes back to the defaults.
	SaveRedaction(ctx context.Context, workspaceID int64, r *Redaction) error
}

// ReclassificationStore keeps how far each workspace's stored calls follow
// its rules (internal/reclassify).
type ReclassificationStore interface {
	// RequestReclassification asks for the workspace's stored calls to be
	// classified again by its rules (they changed at at).
	RequestReclassification(ctx context.Context, workspaceID int64, at time.Time) error
	// Reclassification says how far that went; the zero value when the
	// rules never changed.
	Reclassification(ctx context.Context, workspaceID int64) (Reclassification, error)
	// ClaimReclassification takes a due run (the rules changed since the
	// latest began, at settledBefore or earlier, or it stopped reporting
	// before staleBefore); ok is false when none is due.
	ClaimReclassification(ctx context.Context, now, settledBefore, staleBefore time.Time) (c ReclassClaim, ok bool, err error)
	// ReclassificationProgress records a run's progress and heartbeat.
	ReclassificationProgress(ctx context.Context, workspaceID, done, total int64, at time.Time) error
	// FinishReclassification records the end of a run; failure is "" when
	// it succeeded.
	FinishReclassification(ctx context.Context, workspaceID, changed int64, failure string, at time.Time) error
}
