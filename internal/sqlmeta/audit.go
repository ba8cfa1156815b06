package sqlmeta

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/sqltime"
	"github.com/usagelog/usagelog/internal/usage"
)

// AppendAudit adds entries to the audit log, in one statement.
func (s *Store) AppendAudit(ctx context.Context, entries []usage.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	rows := make([]string, len(entries))
	args := make([]any, 0, len(entries)*10)
	for i, e := range entries {
		details, err := json.Marshal(e.Details)
		if err != nil {
			return fmt.Errorf("meta: audit: %w", err)
		}
		rows[i] = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		args = append(args, e.ID, e.WorkspaceID, sqltime.ToMillis(e.Time), e.Actor.Type, e.Actor.ID, e.Actor.Name, e.Action, e.Target, e.IP, string(details))
	}
	if _, err := s.exec(ctx, `INSERT INTO audit_log (id, workspace_id, time_ms, actor_type, actor_id, actor_name, action, target, ip, details) VALUES `+
		strings.Join(rows, ", "), args...); err != nil {
		return fmt.Errorf("meta: audit: %w", err)
	}
	return nil
}

// Audit reads a workspace's entries, newest first.
func (s *Store) Audit(ctx context.Context, workspaceID int64, q usage.AuditQuery) ([]usage.AuditEntry, error) {
	var b strings.Builder
	b.WriteString(`SELECT id, time_ms, actor_type, actor_id, actor_name, action, target, ip, details FROM audit_log WHERE workspace_id = ?`)
	args := []any{workspaceID}
	if q.Action != "" {
		b.WriteString(" AND action = ?")
		args = append(args, q.Action)
	}
	if !q.From.IsZero() {
		b.WriteString(" AND time_ms >= ?")
		args = append(args, sqltime.ToMillis(q.From))
	}
	if !q.To.IsZero() {
		b.WriteString(" AND time_ms < ?")
		args = append(args, sqltime.ToMillis(q.To))
	}
	if q.After != nil {
		b.WriteString(" AND (time_ms < ? OR (time_ms = ? AND id < ?))")
		args = append(args, q.After.TimeMS, q.After.TimeMS, q.After.ID)
	}
	b.WriteString(" ORDER BY time_ms DESC, id DESC")
	if q.Limit > 0 {
		fmt.Fprintf(&b, " LIMIT %d", q.Limit)
	}
	rows, err := s.query(ctx, b.String(), args...)
	out, err := collect(rows, err, func(r scanner) (usage.AuditEntry, error) {
		e := usage.AuditEntry{WorkspaceID: workspaceID}
		var ms int64
		var details string
		if err := r.Scan(&e.ID, &ms, &e.Actor.Type, &e.Actor.ID, &e.Actor.Name, &e.Action, &e.Target, &e.IP, &details); err != nil {
			return e, err
		}
		e.Time = sqltime.FromMillis(ms)
		if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
			return e, fmt.Errorf("entry %s: %w", e.ID, err)
		}
		return e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("meta: audit: %w", err)
	}
	if out == nil {
		out = []usage.AuditEntry{} // an empty page is [] in JSON
	}
	return out, nil
}

// PurgeAudit removes entries older than before.
func (s *Store) PurgeAudit(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM audit_log WHERE time_ms < ?`, sqltime.ToMillis(before))
	if err != nil {
		return 0, fmt.Errorf("meta: purge audit: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
