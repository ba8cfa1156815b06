package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// SyncGroups sums sync events with GROUP BY in SQLite, in the order of
// the events_sync_groups index (no sort), each group's recent and older
// events apart by conditional aggregates: the report reads groups, not the
// millions of events behind them.
func (s *Store) SyncGroups(ctx context.Context, workspaceID int64, from, split, to time.Time) ([]usage.SyncGroup, error) {
	defer s.timed("sync_groups", time.Now())
	// kind is a literal so the planner can use the partial index.
	rows, err := s.read.QueryContext(ctx, fmt.Sprintf(`
		SELECT integration, system1, system2, project1, project2, end_system, entity_type,
		       SUM(time_ms >= ?1), SUM(time_ms < ?1),
		       SUM(outcome = 'synced' AND time_ms >= ?1), SUM(outcome = 'synced' AND time_ms < ?1),
		       MAX(CASE WHEN outcome = 'synced' AND time_ms >= ?1 THEN time_ms END),
		       MAX(CASE WHEN outcome = 'synced' AND time_ms < ?1 THEN time_ms END),
		       MAX(CASE WHEN time_ms >= ?1 THEN integration_updated_ms END),
		       MAX(CASE WHEN time_ms < ?1 THEN integration_updated_ms END)
		FROM events INDEXED BY events_sync_groups
		WHERE workspace_id = ?2 AND kind = %d AND time_ms >= ?3 AND time_ms < ?4
		GROUP BY integration, system1, system2, project1, project2, end_system, entity_type`, kindCodes[usage.KindSync]),
		split.UnixMilli(), workspaceID, from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("sqlite: sync groups: %w", err)
	}
	defer rows.Close()
	var out []usage.SyncGroup
	for rows.Next() {
		var g usage.SyncGroup
		var nRecent, nOld, syncedRecent, syncedOld int64
		var lastRecent, lastOld, updRecent, updOld sql.NullInt64
		if err := rows.Scan(&g.Integration, &g.System1, &g.System2, &g.Project1, &g.Project2, &g.EndSystem, &g.EntityType,
			&nRecent, &nOld, &syncedRecent, &syncedOld, &lastRecent, &lastOld, &updRecent, &updOld); err != nil {
			return nil, fmt.Errorf("sqlite: sync groups: %w", err)
		}
		if nRecent > 0 {
			r := g
			r.Recent, r.Synced, r.LastSynced, r.LastUpdated = true, syncedRecent, nullTime(lastRecent), nullTime(updRecent)
			out = append(out, r)
		}
		if nOld > 0 {
			g.Synced, g.LastSynced, g.LastUpdated = syncedOld, nullTime(lastOld), nullTime(updOld)
			out = append(out, g)
		}
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
// case-insensitively without surrounding spaces, in the order of the
// events_seen_groups index; each group's recent and older sightings apart.
func (s *Store) SeenGroups(ctx context.Context, workspaceID int64, from, split, to time.Time) ([]usage.SeenGroup, error) {
	defer s.timed("seen_groups", time.Now())
	rows, err := s.read.QueryContext(ctx, fmt.Sprintf(`
		SELECT system, MIN(email), MIN(username), MIN(display_name),
		       group_concat(DISTINCT CASE WHEN time_ms >= ?1 THEN interaction END),
		       group_concat(DISTINCT CASE WHEN time_ms < ?1 THEN interaction END),
		       MAX(CASE WHEN time_ms >= ?1 THEN service_account END),
		       MAX(CASE WHEN time_ms < ?1 THEN service_account END),
		       MAX(CASE WHEN time_ms >= ?1 THEN time_ms END),
		       MAX(CASE WHEN time_ms < ?1 THEN time_ms END)
		FROM events INDEXED BY events_seen_groups
		WHERE workspace_id = ?2 AND kind = %d AND time_ms >= ?3 AND time_ms < ?4
		GROUP BY system, lower(trim(email)), lower(trim(username)), lower(trim(display_name))`, kindCodes[usage.KindUserSeen]),
		split.UnixMilli(), workspaceID, from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("sqlite: seen groups: %w", err)
	}
	defer rows.Close()
	var out []usage.SeenGroup
	// Systems and interaction lists repeat across hundreds of thousands of
	// groups: one copy of each is shared.
	systems, lists := map[string]string{}, map[string][]string{}
	intern := func(s string) []string {
		l, ok := lists[s]
		if !ok {
			l = splitList(s)
			lists[s] = l
		}
		return l
	}
	for rows.Next() {
		var g usage.SeenGroup
		var inRecent, inOld sql.NullString
		var svcRecent, svcOld, lastRecent, lastOld sql.NullInt64
		if err := rows.Scan(&g.System, &g.Email, &g.Username, &g.DisplayName, &inRecent, &inOld, &svcRecent, &svcOld, &lastRecent, &lastOld); err != nil {
			return nil, fmt.Errorf("sqlite: seen groups: %w", err)
		}
		if sys, ok := systems[g.System]; ok {
			g.System = sys
		} else {
			systems[g.System] = g.System
		}
		if lastRecent.Valid {
			r := g
			r.Recent, r.Interactions, r.ServiceAccount, r.LastSeen = true, intern(inRecent.String), svcRecent.Int64 != 0, nullTime(lastRecent)
			out = append(out, r)
		}
		if lastOld.Valid {
			g.Interactions, g.ServiceAccount, g.LastSeen = intern(inOld.String), svcOld.Int64 != 0, nullTime(lastOld)
			out = append(out, g)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: seen groups: %w", err)
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// IntegrationStatus returns each integration's status as of its latest
// sync event (SQLite returns the bare column of the MAX row).
func (s *Store) IntegrationStatus(ctx context.Context, workspaceID int64) (map[string]string, error) {
	defer s.timed("integration_status", time.Now())
	rows, err := s.read.QueryContext(ctx, `
		SELECT integration, integration_status, MAX(time_ms) FROM events INDEXED BY events_sync_groups
		WHERE workspace_id = ? AND kind = `+fmt.Sprint(kindCodes[usage.KindSync])+` GROUP BY integration`,
		workspaceID)
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
