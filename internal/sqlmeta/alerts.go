package sqlmeta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/alerts"
	"github.com/usagelog/usagelog/internal/sqltime"
	"github.com/usagelog/usagelog/internal/usage"
)

const alertColumns = `id, workspace_id, name, metric, op, threshold, window_ms, filters, min_calls, webhook, format, emails, secret,
	renotify_ms, enabled, created_at, updated_at, state, state_since, notified_at, last_at, last_value, last_calls,
	notify_error, notify_error_at`

func scanAlert(sc scanner) (alerts.Entry, error) {
	var e alerts.Entry
	var metric, filters, emails, state string
	var window, renotify, enabled int64
	err := sc.Scan(&e.ID, &e.WorkspaceID, &e.Name, &metric, &e.Op, &e.Threshold, &window, &filters, &e.MinCalls,
		&e.Notify.Webhook, &e.Notify.Format, &emails, &e.Secret, &renotify, &enabled,
		sqltime.Millis{T: &e.Created}, sqltime.Millis{T: &e.Updated}, &state, sqltime.Millis{T: &e.Status.Since},
		sqltime.Millis{T: &e.Status.Notified}, sqltime.Millis{T: &e.Last.At}, &e.Last.Value, &e.Last.Calls,
		&e.NotifyError, sqltime.Millis{T: &e.NotifyErrorAt})
	if err != nil {
		return e, fmt.Errorf("meta: scan alert: %w", err)
	}
	e.Metric, e.Status.State = alerts.Metric(metric), alerts.State(state)
	e.Window, e.Renotify, e.Enabled = time.Duration(window)*time.Millisecond, time.Duration(renotify)*time.Millisecond, enabled != 0
	if e.Filters, err = url.ParseQuery(filters); err != nil {
		return e, fmt.Errorf("meta: alert %s filters: %w", e.ID, err)
	}
	if emails != "" {
		e.Notify.Email = strings.Split(emails, "\n")
	}
	return e, nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// CreateAlert implements alerts.Store.
func (s *Store) CreateAlert(ctx context.Context, r *alerts.Rule, secret string, now time.Time) error {
	at := sqltime.ToMillis(now)
	res, err := s.exec(ctx, `INSERT INTO alert_rules (id, workspace_id, name, metric, op, threshold, window_ms, filters, min_calls,
			webhook, format, emails, secret, renotify_ms, enabled, created_at, updated_at, state_since, next_at)
		SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
		WHERE (SELECT count(*) FROM alert_rules WHERE workspace_id = ?) < ?`,
		r.ID, r.WorkspaceID, r.Name, string(r.Metric), r.Op, r.Threshold, r.Window.Milliseconds(), r.Filters.Encode(), r.MinCalls,
		r.Notify.Webhook, r.Notify.Format, strings.Join(r.Notify.Email, "\n"), secret, r.Renotify.Milliseconds(), boolInt(r.Enabled),
		at, at, at, at, r.WorkspaceID, alerts.MaxRules)
	if err != nil {
		return fmt.Errorf("meta: create alert: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usage.Errorf(usage.EInvalid, "the workspace has %d alert rules already, the most it may keep: delete one first", alerts.MaxRules)
	}
	return nil
}

// UpdateAlert implements alerts.Store.
func (s *Store) UpdateAlert(ctx context.Context, r *alerts.Rule, now time.Time) error {
	at := sqltime.ToMillis(now)
	res, err := s.exec(ctx, `UPDATE alert_rules SET name = ?, metric = ?, op = ?, threshold = ?, window_ms = ?, filters = ?,
			min_calls = ?, webhook = ?, format = ?, emails = ?, renotify_ms = ?, enabled = ?, updated_at = ?, next_at = ?
		WHERE workspace_id = ? AND id = ?`,
		r.Name, string(r.Metric), r.Op, r.Threshold, r.Window.Milliseconds(), r.Filters.Encode(), r.MinCalls,
		r.Notify.Webhook, r.Notify.Format, strings.Join(r.Notify.Email, "\n"), r.Renotify.Milliseconds(), boolInt(r.Enabled),
		at, at, r.WorkspaceID, r.ID)
	if err != nil {
		return fmt.Errorf("meta: update alert: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usage.Errorf(usage.ENotFound, "no alert rule %q", r.ID)
	}
	return nil
}

// DeleteAlert implements alerts.Store.
func (s *Store) DeleteAlert(ctx context.Context, workspaceID int64, id string) error {
	res, err := s.exec(ctx, `DELETE FROM alert_rules WHERE workspace_id = ? AND id = ?`, workspaceID, id)
	if err != nil {
		return fmt.Errorf("meta: delete alert: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usage.Errorf(usage.ENotFound, "no alert rule %q", id)
	}
	if _, err := s.exec(ctx, `DELETE FROM alert_events WHERE workspace_id = ? AND rule_id = ?`, workspaceID, id); err != nil {
		return fmt.Errorf("meta: delete alert history: %w", err)
	}
	return nil
}

// Alert implements alerts.Store.
func (s *Store) Alert(ctx context.Context, workspaceID int64, id string) (alerts.Entry, error) {
	e, err := scanAlert(s.queryRow(ctx, `SELECT `+alertColumns+` FROM alert_rules WHERE workspace_id = ? AND id = ?`, workspaceID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, usage.Errorf(usage.ENotFound, "no alert rule %q", id)
	}
	return e, err
}

// Alerts implements alerts.Store.
func (s *Store) Alerts(ctx context.Context, workspaceID int64) ([]alerts.Entry, error) {
	rows, err := s.query(ctx, `SELECT `+alertColumns+` FROM alert_rules WHERE workspace_id = ? ORDER BY name, id`, workspaceID)
	out, err := collect(rows, err, scanAlert)
	if err != nil {
		return nil, fmt.Errorf("meta: alerts: %w", err)
	}
	return out, nil
}

// ClaimDueAlerts implements alerts.Store: each due rule is claimed by
// moving its next_at on from the value read, which only one caller can do.
func (s *Store) ClaimDueAlerts(ctx context.Context, now, next time.Time, limit int) ([]alerts.Entry, error) {
	rows, err := s.queryW(ctx, `SELECT `+alertColumns+`, next_at FROM alert_rules WHERE enabled = 1 AND next_at <= ? ORDER BY next_at, id LIMIT ?`,
		sqltime.ToMillis(now), limit)
	type due struct {
		e  alerts.Entry
		at int64
	}
	candidates, err := collect(rows, err, func(sc scanner) (due, error) {
		var d due
		var err error
		d.e, err = scanAlert(scanTail{sc, &d.at})
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("meta: due alerts: %w", err)
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	// One transaction for the claims: a commit a rule cost a pass of a
	// thousand rules more than its summaries did on SQLite. Each claim is
	// still a compare-and-set on next_at: a replica that claimed a rule
	// first leaves this UPDATE nothing to change (on PostgreSQL, after its
	// commit releases the row); the ORDER BY above takes the rows in one
	// order on every replica, so that two claims at once wait for each
	// other's rows in that order and never deadlock.
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("meta: claim alerts: %w", err)
	}
	defer tx.Rollback()
	claim, err := tx.PrepareContext(ctx, s.rebind(`UPDATE alert_rules SET next_at = ? WHERE id = ? AND next_at = ?`))
	if err != nil {
		return nil, fmt.Errorf("meta: claim alerts: %w", err)
	}
	defer claim.Close()
	var out []alerts.Entry
	for _, d := range candidates {
		res, err := claim.ExecContext(ctx, sqltime.ToMillis(next), d.e.ID, d.at)
		if err != nil {
			return nil, fmt.Errorf("meta: claim alert: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			out = append(out, d.e)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("meta: claim alerts: %w", err)
	}
	return out, nil
}

// scanTail scans a row of alertColumns followed by one more column.
type scanTail struct {
	sc   scanner
	tail any
}

func (t scanTail) Scan(dest ...any) error { return t.sc.Scan(append(dest, t.tail)...) }

// RecordAlerts implements alerts.Store: one transaction for a round, so
// that a thousand rules are one commit.
func (s *Store) RecordAlerts(ctx context.Context, records []alerts.Record) error {
	if len(records) == 0 {
		return nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("meta: record alerts: %w", err)
	}
	defer tx.Rollback()
	update, err := tx.PrepareContext(ctx, s.rebind(`UPDATE alert_rules SET state = ?, state_since = ?, notified_at = ?, last_at = ?, last_value = ?, last_calls = ?
		WHERE id = ?`))
	if err != nil {
		return fmt.Errorf("meta: record alerts: %w", err)
	}
	defer update.Close()
	insert, err := tx.PrepareContext(ctx, s.rebind(`INSERT INTO alert_events (id, rule_id, workspace_id, at, state, notice, value, calls) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`))
	if err != nil {
		return fmt.Errorf("meta: record alerts: %w", err)
	}
	defer insert.Close()
	for _, rec := range records {
		e, m := rec.Entry, rec.Entry.Last
		if _, err := update.ExecContext(ctx, string(e.Status.State), sqltime.ToMillis(e.Status.Since), sqltime.ToMillis(e.Status.Notified),
			sqltime.ToMillis(m.At), m.Value, m.Calls, e.ID); err != nil {
			return fmt.Errorf("meta: record alert: %w", err)
		}
		if e.Status.State == rec.Prev && rec.Notice == alerts.NoNotice {
			continue
		}
		if _, err := insert.ExecContext(ctx, usage.RandomID("ale_", 12), e.ID, e.WorkspaceID, sqltime.ToMillis(m.At), string(e.Status.State), string(rec.Notice), m.Value, m.Calls); err != nil {
			return fmt.Errorf("meta: alert history: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("meta: record alerts: %w", err)
	}
	return nil
}

// AlertNotifyError implements alerts.Store.
func (s *Store) AlertNotifyError(ctx context.Context, id, failure string, at time.Time) error {
	if _, err := s.exec(ctx, `UPDATE alert_rules SET notify_error = ?, notify_error_at = ? WHERE id = ?`, failure, sqltime.ToMillis(at), id); err != nil {
		return fmt.Errorf("meta: alert notify error: %w", err)
	}
	return nil
}

// AlertEvents implements alerts.Store.
func (s *Store) AlertEvents(ctx context.Context, workspaceID int64, id string, limit int) ([]alerts.Event, error) {
	rows, err := s.query(ctx, `SELECT id, rule_id, at, state, notice, value, calls FROM alert_events
		WHERE workspace_id = ? AND rule_id = ? ORDER BY at DESC, id DESC LIMIT ?`, workspaceID, id, limit)
	out, err := collect(rows, err, func(sc scanner) (alerts.Event, error) {
		var ev alerts.Event
		var state, notice string
		err := sc.Scan(&ev.ID, &ev.RuleID, sqltime.Millis{T: &ev.At}, &state, &notice, &ev.Value, &ev.Calls)
		ev.State, ev.Notice = alerts.State(state), alerts.Notice(notice)
		return ev, err
	})
	if err != nil {
		return nil, fmt.Errorf("meta: alert history: %w", err)
	}
	return out, nil
}
