package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// SyncGroups sums sync events with GROUP BY in SQLite: the report reads
// groups, not the millions of events behind them.
func (s *Store) SyncGroups(ctx context.Context, workspaceID int64, from, split, to time.Time) ([]usage.SyncGroup, error) {
	defer s.timed("sync_groups", time.Now())
	rows, err := s.read.QueryContext(ctx, `
		SELECT integration, system1, system2, project1, project2, end_system, entity_type,
		       time_ms >= ? AS recent,
		       SUM(CASE WHEN outcome = 'synced' THEN 1 ELSE 0 END),
		       MAX(CASE WHEN outcome = 'synced' THEN time_ms END),
		       MAX(integration_updated_ms)
		FROM events
		WHERE workspace_id = ? AND kind = ? AND time_ms >= ? AND time_ms < ?
		GROUP BY integration, system1, system2, project1, project2, end_system, entity_type, recent`,
		split.UnixMilli(), workspaceID, kindCodes[usage.KindSync], from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("sqlite: sync groups: %w", err)
	}
	defer rows.Close()
	var out []usage.SyncGroup
	for rows.Next() {
		var g usage.SyncGroup
		var lastSynced, lastUpdated sql.NullInt64
		if err := rows.Scan(&g.Integration, &g.System1, &g.System2, &g.Project1, &g.Project2, &g.EndSystem, &g.EntityType,
			&g.Recent, &g.Synced, &lastSynced, &lastUpdated); err != nil {
			return nil, fmt.Errorf("sqlite: sync groups: %w", err)
		}
		g.LastSynced, g.LastUpdated = nullTime(lastSynced), nullTime(lastUpdated)
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: sync groups: %w", err)
	}
	return out, nil
}

func nullTime(n sql.NullInt64) time.Time {
	if !n.Valid || n.Int64 == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n.Int64).UTC()
}

// SeenGroups groups user_seen events by system and identity, compared
// case-insensitively without surrounding spaces.
func (s *Store) SeenGroups(ctx context.Context, workspaceID int64, from, split, to time.Time) ([]usage.SeenGroup, error) {
	defer s.timed("seen_groups", time.Now())
	rows, err := s.read.QueryContext(ctx, `
		SELECT system, MIN(email), MIN(username), MIN(display_name),
		       time_ms >= ? AS recent,
		       group_concat(DISTINCT interaction), MAX(service_account), MAX(time_ms)
		FROM events
		WHERE workspace_id = ? AND kind = ? AND time_ms >= ? AND time_ms < ?
		GROUP BY system, lower(trim(email)), lower(trim(username)), lower(trim(display_name)), recent`,
		split.UnixMilli(), workspaceID, kindCodes[usage.KindUserSeen], from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("sqlite: seen groups: %w", err)
	}
	defer rows.Close()
	var out []usage.SeenGroup
	for rows.Next() {
		var g usage.SeenGroup
		var interactions sql.NullString
		var last int64
		if err := rows.Scan(&g.System, &g.Email, &g.Username, &g.DisplayName, &g.Recent, &interactions, &g.ServiceAccount, &last); err != nil {
			return nil, fmt.Errorf("sqlite: seen groups: %w", err)
		}
		for _, i := range strings.Split(interactions.String, ",") {
			if i != "" {
				g.Interactions = append(g.Interactions, i)
			}
		}
		g.LastSeen = time.UnixMilli(last).UTC()
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: seen groups: %w", err)
	}
	return out, nil
}

// IntegrationStatus returns each integration's status as of its latest
// sync event (SQLite returns the bare column of the MAX row).
func (s *Store) IntegrationStatus(ctx context.Context, workspaceID int64) (map[string]string, error) {
	defer s.timed("integration_status", time.Now())
	rows, err := s.read.QueryContext(ctx, `
		SELECT integration, integration_status, MAX(time_ms) FROM events
		WHERE workspace_id = ? AND kind = ? GROUP BY integration`,
		workspaceID, kindCodes[usage.KindSync])
	if err != nil {
		return nil, fmt.Errorf("sqlite: integration status: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, status string
		var last int64
		if err := rows.Scan(&name, &status, &last); err != nil {
			return nil, fmt.Errorf("sqlite: integration status: %w", err)
		}
		out[name] = status
	}
	return out, rows.Err()
}
