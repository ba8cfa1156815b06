package usage

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// Role is what a member may do in the console.
type Role string

// Roles: admins do everything, analysts read and export.
const (
	RoleAdmin   Role = "admin"
	RoleAnalyst Role = "analyst"
)

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	switch Role(s) {
	case RoleAdmin, RoleAnalyst:
		return Role(s), nil
	}
	return "", Errorf(EInvalid, "unknown role %q (want admin or analyst)", s)
}

// Member is a person who signs in to the console.
type Member struct {
	ID           string
	WorkspaceID  int64
	Email        string
	PasswordHash string
	Role         Role
	CreatedAt    time.Time
}

// NormalizeEmail validates an address and returns it lower-cased.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s, "@") {
		return "", Errorf(EInvalid, "invalid email address %q", s)
	}
	return strings.ToLower(s), nil
}

// Session is a signed-in member's console session. The cookie holds a
// random token; only its hash is stored.
type Session struct {
	Hash      string
	MemberID  string
	CSRF      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Settings are a workspace's preferences.
type Settings struct {
	AnonymizeUsers bool
	AnonymizeIPs   bool
	Timezone       string // IANA name
	ExportRowLimit int64  // 0: the server's default
	// RetentionDays is how long events are kept (0: forever); the
	// janitor removes older ones.
	RetentionDays int
}

// MaxRetentionDays bounds RetentionDays.
const MaxRetentionDays = 3650

// RetentionCutoff is the start of the oldest UTC day the workspace keeps
// at now; zero when it keeps everything. Whole days keep every rollup
// (hours, days) either kept or removed whole.
func (s Settings) RetentionCutoff(now time.Time) time.Time {
	if s.RetentionDays <= 0 {
		return time.Time{}
	}
	return now.UTC().AddDate(0, 0, -s.RetentionDays).Truncate(24 * time.Hour)
}

// RowLimit is the most rows an export of the workspace may hold: its own
// limit, or the server's when it sets none.
func (s Settings) RowLimit(server int64) int64 {
	if s.ExportRowLimit > 0 {
		return s.ExportRowLimit
	}
	return server
}

// Location is the workspace's timezone for written times (UTC unless set).
func (s Settings) Location() (*time.Location, error) {
	loc, err := LoadLocation(s.Timezone)
	if err != nil {
		return nil, fmt.Errorf("workspace timezone: %w", err)
	}
	return loc, nil
}

// DefaultSettings are a new workspace's.
func DefaultSettings() Settings { return Settings{Timezone: "UTC"} }

// RandomToken returns n random bytes, base64url-encoded.
func RandomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // the platform is broken
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// RandomID returns prefix followed by 2n random hex digits.
func RandomID(prefix string, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return prefix + hex.EncodeToString(b)
}

// SignedIn is a console member's session as the API sees it: the API takes
// it instead of a key, with the member's role's scopes.
type SignedIn struct {
	Member    Member
	Workspace Workspace
	CSRF      string // unsafe methods must send it in X-CSRF-Token
}

// RoleScopes are the API scopes of a console role: an analyst reads and
// exports usage; an admin does everything.
func RoleScopes(r Role) []Scope {
	if r == RoleAdmin {
		return AllScopes
	}
	return []Scope{ScopeLogsRead, ScopeUsageExportAPI}
}

// SettingsChanges lists what changed between two settings, for the audit
// log: each field's name with its old and new values.
func SettingsChanges(before, after Settings) map[string]any {
	out := map[string]any{}
	add := func(name string, a, b any) {
		if a != b {
			out[name] = map[string]any{"from": a, "to": b}
		}
	}
	add("anonymize_users", before.AnonymizeUsers, after.AnonymizeUsers)
	add("anonymize_ips", before.AnonymizeIPs, after.AnonymizeIPs)
	add("timezone", before.Timezone, after.Timezone)
	add("export_row_limit", before.ExportRowLimit, after.ExportRowLimit)
	add("retention_days", before.RetentionDays, after.RetentionDays)
	return out
}
