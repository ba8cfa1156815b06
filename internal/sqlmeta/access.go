package sqlmeta

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/usagelog/usagelog/internal/sqltime"
	"github.com/usagelog/usagelog/internal/usage"
)

// CreateMember stores a member; EConflict when the email is taken.
func (s *Store) CreateMember(ctx context.Context, m usage.Member) error {
	_, err := s.exec(ctx, `INSERT INTO members (id, workspace_id, email, password_hash, role, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		m.ID, m.WorkspaceID, m.Email, m.PasswordHash, string(m.Role), m.CreatedAt.UnixMilli())
	if err != nil && s.d.IsUnique(err) {
		return usage.Errorf(usage.EConflict, "a member with email %q already exists", m.Email)
	}
	if err != nil {
		return fmt.Errorf("meta: create member: %w", err)
	}
	return nil
}

const memberColumns = `id, workspace_id, email, password_hash, role, created_at`

func (s *Store) member(ctx context.Context, where string, arg any) (usage.Member, error) {
	var m usage.Member
	var role string
	err := s.queryRow(ctx, `SELECT `+memberColumns+` FROM members WHERE `+where, arg).
		Scan(&m.ID, &m.WorkspaceID, &m.Email, &m.PasswordHash, &role, sqltime.Millis{T: &m.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return m, usage.Errorf(usage.ENotFound, "member not found")
	}
	if err != nil {
		return m, fmt.Errorf("meta: member: %w", err)
	}
	m.Role = usage.Role(role)
	return m, nil
}

// MemberByEmail finds a member by email.
func (s *Store) MemberByEmail(ctx context.Context, email string) (usage.Member, error) {
	return s.member(ctx, "email = ?", email)
}

// MemberByID finds a member by id.
func (s *Store) MemberByID(ctx context.Context, id string) (usage.Member, error) {
	return s.member(ctx, "id = ?", id)
}

// Members lists a workspace's members by email.
func (s *Store) Members(ctx context.Context, workspaceID int64) ([]usage.Member, error) {
	rows, err := s.query(ctx, `SELECT `+memberColumns+` FROM members WHERE workspace_id = ? ORDER BY email`, workspaceID)
	out, err := collect(rows, err, func(r scanner) (usage.Member, error) {
		var m usage.Member
		var role string
		err := r.Scan(&m.ID, &m.WorkspaceID, &m.Email, &m.PasswordHash, &role, sqltime.Millis{T: &m.CreatedAt})
		m.Role = usage.Role(role)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("meta: members: %w", err)
	}
	return out, nil
}

// CreateSession stores a session and drops expired ones.
func (s *Store) CreateSession(ctx context.Context, sess usage.Session) error {
	if _, err := s.exec(ctx, `DELETE FROM sessions WHERE expires_at < ?`, sess.CreatedAt.UnixMilli()); err != nil {
		return fmt.Errorf("meta: create session: %w", err)
	}
	_, err := s.exec(ctx, `INSERT INTO sessions (hash, member_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		sess.Hash, sess.MemberID, sess.CSRF, sess.CreatedAt.UnixMilli(), sess.ExpiresAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("meta: create session: %w", err)
	}
	return nil
}

// SessionByHash finds a session that has not expired at now.
func (s *Store) SessionByHash(ctx context.Context, hash string, now time.Time) (usage.Session, error) {
	var sess usage.Session
	err := s.queryRow(ctx, `SELECT hash, member_id, csrf, created_at, expires_at FROM sessions WHERE hash = ? AND expires_at > ?`, hash, now.UnixMilli()).
		Scan(&sess.Hash, &sess.MemberID, &sess.CSRF, sqltime.Millis{T: &sess.CreatedAt}, sqltime.Millis{T: &sess.ExpiresAt})
	if errors.Is(err, sql.ErrNoRows) {
		return sess, usage.Errorf(usage.ENotFound, "session not found")
	}
	if err != nil {
		return sess, fmt.Errorf("meta: session: %w", err)
	}
	return sess, nil
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	if _, err := s.exec(ctx, `DELETE FROM sessions WHERE hash = ?`, hash); err != nil {
		return fmt.Errorf("meta: delete session: %w", err)
	}
	return nil
}

// Settings returns a workspace's settings.
func (s *Store) Settings(ctx context.Context, workspaceID int64) (usage.Settings, error) {
	st := usage.DefaultSettings()
	err := s.queryRow(ctx, `SELECT anonymize_users, anonymize_ips, timezone, export_row_limit, retention_days FROM workspace_settings WHERE workspace_id = ?`, workspaceID).
		Scan(flag{&st.AnonymizeUsers}, flag{&st.AnonymizeIPs}, &st.Timezone, &st.ExportRowLimit, &st.RetentionDays)
	if errors.Is(err, sql.ErrNoRows) {
		return usage.DefaultSettings(), nil
	}
	if err != nil {
		return st, fmt.Errorf("meta: settings: %w", err)
	}
	return st, nil
}

// SaveSettings replaces a workspace's settings.
func (s *Store) SaveSettings(ctx context.Context, workspaceID int64, st usage.Settings) error {
	_, err := s.exec(ctx, `INSERT INTO workspace_settings (workspace_id, anonymize_users, anonymize_ips, timezone, export_row_limit, retention_days) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (workspace_id) DO UPDATE SET anonymize_users = excluded.anonymize_users, anonymize_ips = excluded.anonymize_ips,
		timezone = excluded.timezone, export_row_limit = excluded.export_row_limit, retention_days = excluded.retention_days`,
		workspaceID, st.AnonymizeUsers, st.AnonymizeIPs, st.Timezone, st.ExportRowLimit, st.RetentionDays)
	if err != nil {
		return fmt.Errorf("meta: save settings: %w", err)
	}
	return nil
}

// Classification returns a workspace's classification rules; false when
// it set none.
func (s *Store) Classification(ctx context.Context, workspaceID int64) ([]usage.Rule, bool, error) {
	var text string
	err := s.queryRow(ctx, `SELECT rules FROM classification_rules WHERE workspace_id = ?`, workspaceID).Scan(&text)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("meta: classification: %w", err)
	}
	rules := []usage.Rule{}
	if err := json.Unmarshal([]byte(text), &rules); err != nil {
		return nil, false, fmt.Errorf("meta: classification of workspace %d: %w", workspaceID, err)
	}
	return rules, true, nil
}

// Redaction returns a workspace's redaction rules; false when it set
// none (the defaults apply).
func (s *Store) Redaction(ctx context.Context, workspaceID int64) (usage.Redaction, bool, error) {
	var text string
	err := s.queryRow(ctx, `SELECT rules FROM redaction_rules WHERE workspace_id = ?`, workspaceID).Scan(&text)
	if errors.Is(err, sql.ErrNoRows) {
		return usage.DefaultRedaction(), false, nil
	}
	if err != nil {
		return usage.Redaction{}, false, fmt.Errorf("meta: redaction: %w", err)
	}
	var r usage.Redaction
	if err := json.Unmarshal([]byte(text), &r); err != nil {
		return usage.Redaction{}, false, fmt.Errorf("meta: redaction of workspace %d: %w", workspaceID, err)
	}
	return r, true, nil
}

// SaveRedaction replaces a workspace's redaction rules; nil removes them,
// so that the defaults apply.
func (s *Store) SaveRedaction(ctx context.Context, workspaceID int64, r *usage.Redaction) error {
	if r == nil {
		if _, err := s.exec(ctx, `DELETE FROM redaction_rules WHERE workspace_id = ?`, workspaceID); err != nil {
			return fmt.Errorf("meta: save redaction: %w", err)
		}
		return nil
	}
	text, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("meta: save redaction: %w", err)
	}
	if _, err := s.exec(ctx, `INSERT INTO redaction_rules (workspace_id, rules) VALUES (?, ?)
		ON CONFLICT (workspace_id) DO UPDATE SET rules = excluded.rules`, workspaceID, string(text)); err != nil {
		return fmt.Errorf("meta: save redaction: %w", err)
	}
	return nil
}

// SaveClassification replaces a workspace's rules; nil removes them, so
// that the defaults apply.
func (s *Store) SaveClassification(ctx context.Context, workspaceID int64, rules []usage.Rule) error {
	if rules == nil {
		if _, err := s.exec(ctx, `DELETE FROM classification_rules WHERE workspace_id = ?`, workspaceID); err != nil {
			return fmt.Errorf("meta: save classification: %w", err)
		}
		return nil
	}
	text, err := json.Marshal(rules)
	if err != nil {
		return fmt.Errorf("meta: save classification: %w", err)
	}
	if _, err := s.exec(ctx, `INSERT INTO classification_rules (workspace_id, rules) VALUES (?, ?)
		ON CONFLICT (workspace_id) DO UPDATE SET rules = excluded.rules`, workspaceID, string(text)); err != nil {
		return fmt.Errorf("meta: save classification: %w", err)
	}
	return nil
}
