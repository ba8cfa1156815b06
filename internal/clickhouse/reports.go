package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/usage"
)

// SyncGroups sums sync events by integration, projects, end system and
// entity type in ClickHouse, the events at or after split and those before
// it apart by conditional aggregates, in one pass.
func (s *Store) SyncGroups(ctx context.Context, workspaceID int64, from, split, to time.Time) ([]usage.SyncGroup, error) {
	sp := split.UnixMilli()
	rows, err := s.db.QueryContext(ctx, `
		SELECT integration, system1, system2, project1, project2, end_system, entity_type,
		       countIf(time_ms >= ?), countIf(time_ms < ?),
		       countIf(outcome = 'synced' AND time_ms >= ?), countIf(outcome = 'synced' AND time_ms < ?),
		       maxIf(time_ms, outcome = 'synced' AND time_ms >= ?), maxIf(time_ms, outcome = 'synced' AND time_ms < ?),
		       maxIf(integration_updated_ms, time_ms >= ?), maxIf(integration_updated_ms, time_ms < ?)
		FROM `+table+`
		WHERE workspace_id = ? AND kind = ? AND time_ms >= ? AND time_ms < ?
		GROUP BY integration, system1, system2, project1, project2, end_system, entity_type
		ORDER BY integration, system1, system2, project1, project2, end_system, entity_type`,
		sp, sp, sp, sp, sp, sp, sp, sp, workspaceID, eventsql.KindCode(usage.KindSync), from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("clickhouse: sync groups: %w", err)
	}
	defer rows.Close()
	var out []usage.SyncGroup
	for rows.Next() {
		var g usage.SyncGroup
		var nRecent, nOld, syncedRecent, syncedOld uint64
		var lastRecent, lastOld, updRecent, updOld int64
		if err := rows.Scan(&g.Integration, &g.System1, &g.System2, &g.Project1, &g.Project2, &g.EndSystem, &g.EntityType,
			&nRecent, &nOld, &syncedRecent, &syncedOld, &lastRecent, &lastOld, &updRecent, &updOld); err != nil {
			return nil, fmt.Errorf("clickhouse: sync groups: %w", err)
		}
		if nRecent > 0 {
			r := g
			r.Recent, r.Synced, r.LastSynced, r.LastUpdated = true, int64(syncedRecent), msTime(lastRecent), msTime(updRecent)
			out = append(out, r)
		}
		if nOld > 0 {
			g.Synced, g.LastSynced, g.LastUpdated = int64(syncedOld), msTime(lastOld), msTime(updOld)
			out = append(out, g)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: sync groups: %w", err)
	}
	return out, nil
}

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// fold is the SQL of an identity compared case-insensitively without
// surrounding spaces, as SQLite's lower(trim(x)); written with
// replaceRegexpAll because ClickHouse 18.16 has no trim.
func fold(col string) string {
	return `lower(replaceRegexpAll(` + col + `, '^[[:space:]]+|[[:space:]]+$', ''))`
}

// SeenGroups groups user_seen events by system and identity.
func (s *Store) SeenGroups(ctx context.Context, workspaceID int64, from, to time.Time) ([]usage.SeenGroup, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT system, min(email), min(username), min(display_name),
		       arrayStringConcat(arraySort(groupUniqArray(interaction)), ','), max(service_account), max(time_ms)
		FROM `+table+`
		WHERE workspace_id = ? AND kind = ? AND time_ms >= ? AND time_ms < ?
		GROUP BY system, `+fold("email")+`, `+fold("username")+`, `+fold("display_name")+`
		ORDER BY system`,
		workspaceID, eventsql.KindCode(usage.KindUserSeen), from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("clickhouse: seen groups: %w", err)
	}
	defer rows.Close()
	var out []usage.SeenGroup
	lists := map[string][]string{}
	for rows.Next() {
		var g usage.SeenGroup
		var interactions string
		var service, last int64
		if err := rows.Scan(&g.System, &g.Email, &g.Username, &g.DisplayName, &interactions, &service, &last); err != nil {
			return nil, fmt.Errorf("clickhouse: seen groups: %w", err)
		}
		l, ok := lists[interactions]
		if !ok {
			for _, v := range strings.Split(interactions, ",") {
				if v != "" {
					l = append(l, v)
				}
			}
			lists[interactions] = l
		}
		g.Interactions, g.ServiceAccount, g.LastSeen = l, service != 0, time.UnixMilli(last).UTC()
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: seen groups: %w", err)
	}
	return out, nil
}

// IntegrationStatus returns each integration's status as of its latest
// sync event.
func (s *Store) IntegrationStatus(ctx context.Context, workspaceID int64) (map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT integration, argMax(integration_status, time_ms) FROM `+table+`
		WHERE workspace_id = ? AND kind = ? GROUP BY integration`, workspaceID, eventsql.KindCode(usage.KindSync))
	if err != nil {
		return nil, fmt.Errorf("clickhouse: integration status: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, status string
		if err := rows.Scan(&name, &status); err != nil {
			return nil, fmt.Errorf("clickhouse: integration status: %w", err)
		}
		out[name] = status
	}
	return out, rows.Err()
}
