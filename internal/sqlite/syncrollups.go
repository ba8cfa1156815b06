package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// syncKey is a sync group in one day.
type syncKey struct {
	day                                                                      int64
	integration, system1, system2, project1, project2, endSystem, entityType string
}

// syncDay is a syncKey's events.
type syncDay struct {
	events, synced int64
	lastSynced     sql.NullInt64
	lastUpdated    int64
	status         string
	statusMS       int64
}

func (d *syncDay) add(e *usage.Event) {
	t := e.Time.UnixMilli()
	d.events++
	if e.Outcome == "synced" {
		d.synced++
		if !d.lastSynced.Valid || t > d.lastSynced.Int64 {
			d.lastSynced = sql.NullInt64{Int64: t, Valid: true}
		}
	}
	if u := e.IntegrationUpdatedAt; !u.IsZero() {
		d.lastUpdated = max(d.lastUpdated, u.UnixMilli())
	}
	if d.events == 1 || t >= d.statusMS {
		d.status, d.statusMS = e.IntegrationStatus, t
	}
}

// syncDays are sync events summed by syncKey.
type syncDays map[syncKey]*syncDay

// add adds e to its group of day.
func (days syncDays) add(day int64, e *usage.Event) {
	k := syncKey{day, e.Integration, e.System1, e.System2, e.Project1, e.Project2, e.EndSystem, e.EntityType}
	d := days[k]
	if d == nil {
		d = &syncDay{}
		days[k] = d
	}
	d.add(e)
}

const syncUpsert = `INSERT INTO sync_rollups (workspace_id, day_ms, integration, system1, system2, project1, project2, end_system, entity_type,
	events, synced, last_synced_ms, last_updated_ms, status, status_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (workspace_id, day_ms, integration, system1, system2, project1, project2, end_system, entity_type) DO UPDATE SET
	events = events + excluded.events, synced = synced + excluded.synced,
	last_synced_ms = CASE WHEN last_synced_ms IS NULL THEN excluded.last_synced_ms
		WHEN excluded.last_synced_ms IS NULL THEN last_synced_ms ELSE max(last_synced_ms, excluded.last_synced_ms) END,
	last_updated_ms = max(last_updated_ms, excluded.last_updated_ms),
	status = CASE WHEN excluded.status_ms >= status_ms THEN excluded.status ELSE status END,
	status_ms = max(status_ms, excluded.status_ms)`

// syncRollups adds stored sync events to the workspace's sync rollups, in tx.
func syncRollups(ctx context.Context, tx *sql.Tx, workspaceID int64, events []*usage.Event) error {
	if len(events) == 0 {
		return nil
	}
	days := syncDays{}
	for _, e := range events {
		days.add(summary.Floor(e.Time.UnixMilli(), summary.DayMS), e)
	}
	st, err := tx.PrepareContext(ctx, syncUpsert)
	if err != nil {
		return fmt.Errorf("sync rollups: %w", err)
	}
	defer st.Close()
	for k, d := range days {
		if _, err := st.ExecContext(ctx, workspaceID, k.day, k.integration, k.system1, k.system2, k.project1, k.project2, k.endSystem, k.entityType,
			d.events, d.synced, d.lastSynced, d.lastUpdated, d.status, d.statusMS); err != nil {
			return fmt.Errorf("sync rollups: %w", err)
		}
	}
	return nil
}

// syncFields are what the sync rollups read of an event.
var syncFields = []string{"id", "time", "integration", "system1", "system2", "project1", "project2", "end_system", "entity_type",
	"integration_status", "integration_updated_ms", "outcome"}

// SyncGroups sums sync events between from and to, those at or after split
// apart: whole days from the sync rollups, the parts of days at from, split
// and to from the events.
func (s *Store) SyncGroups(ctx context.Context, workspaceID int64, from, split, to time.Time) ([]usage.SyncGroup, error) {
	defer s.timed("sync_groups", time.Now())
	groups := map[usage.SyncGroup]*usage.SyncGroup{} // by the group's key and Recent
	add := func(g usage.SyncGroup) {
		k := usage.SyncGroup{Integration: g.Integration, System1: g.System1, System2: g.System2, Project1: g.Project1,
			Project2: g.Project2, EndSystem: g.EndSystem, EntityType: g.EntityType, Recent: g.Recent}
		have := groups[k]
		if have == nil {
			c := k
			groups[k] = &c
			have = &c
		}
		have.Synced += g.Synced
		if g.LastSynced.After(have.LastSynced) {
			have.LastSynced = g.LastSynced
		}
		if g.LastUpdated.After(have.LastUpdated) {
			have.LastUpdated = g.LastUpdated
		}
	}
	for _, part := range []struct {
		from, to time.Time
		recent   bool
	}{{from, split, false}, {split, to, true}} {
		if !part.from.Before(part.to) {
			continue
		}
		lo, hi := part.from.UnixMilli(), part.to.UnixMilli()
		d0, d1 := summary.Ceil(lo, summary.DayMS), summary.Floor(hi, summary.DayMS)
		edges := [][2]int64{{lo, hi}}
		if d0 < d1 {
			edges = [][2]int64{{lo, d0}, {d1, hi}}
			if err := s.syncDays(ctx, workspaceID, d0, d1, part.recent, add); err != nil {
				return nil, fmt.Errorf("sqlite: sync groups: %w", err)
			}
		}
		for _, e := range edges {
			if e[0] >= e[1] {
				continue
			}
			days := syncDays{}
			for ev, err := range s.ScanEvents(ctx, workspaceID, usage.KindSync, time.UnixMilli(e[0]), time.UnixMilli(e[1]), syncFields...) {
				if err != nil {
					return nil, fmt.Errorf("sqlite: sync groups: %w", err)
				}
				days.add(0, ev)
			}
			for k, d := range days {
				add(syncGroup(k, d, part.recent))
			}
		}
	}
	out := make([]usage.SyncGroup, 0, len(groups))
	for _, g := range groups {
		out = append(out, *g)
	}
	return out, nil
}

func syncGroup(k syncKey, d *syncDay, recent bool) usage.SyncGroup {
	g := usage.SyncGroup{Integration: k.integration, System1: k.system1, System2: k.system2, Project1: k.project1,
		Project2: k.project2, EndSystem: k.endSystem, EntityType: k.entityType, Recent: recent, Synced: d.synced,
		LastSynced: nullTime(d.lastSynced), LastUpdated: nullTime(sql.NullInt64{Int64: d.lastUpdated, Valid: true})}
	return g
}

// syncDays adds the sync events of the days from d0 to d1 by group: the
// merged ones' rollups and the arrivals, in one snapshot.
func (s *Store) syncDays(ctx context.Context, workspaceID, d0, d1 int64, recent bool, add func(usage.SyncGroup)) error {
	tx, err := s.read.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT integration, system1, system2, project1, project2, end_system, entity_type,
		sum(events), sum(synced), max(last_synced_ms), max(last_updated_ms) FROM sync_rollups
		WHERE workspace_id = ? AND day_ms >= ? AND day_ms < ?
		GROUP BY integration, system1, system2, project1, project2, end_system, entity_type`, workspaceID, d0, d1)
	if err != nil {
		return err
	}
	for rows.Next() {
		var k syncKey
		var d syncDay
		if err := rows.Scan(&k.integration, &k.system1, &k.system2, &k.project1, &k.project2, &k.endSystem, &k.entityType,
			&d.events, &d.synced, &d.lastSynced, &d.lastUpdated); err != nil {
			rows.Close()
			return err
		}
		add(syncGroup(k, &d, recent))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	days, err := arrivalSyncDays(ctx, tx, workspaceID, d0, d1)
	for k, d := range days {
		add(syncGroup(k, d, recent))
	}
	return err
}

// arrivalSyncDays sums the workspace's sync arrivals with d0 <= time < d1
// by group (the day left 0).
func arrivalSyncDays(ctx context.Context, tx *sql.Tx, workspaceID, d0, d1 int64) (syncDays, error) {
	cols, err := eventsql.Projection(eventsql.KindColumns(usage.KindSync), syncFields)
	if err != nil {
		return nil, err
	}
	where, args := eventsql.KindRange(workspaceID, usage.KindSync, time.UnixMilli(d0), time.UnixMilli(d1))
	events, err := eventsql.Query(ctx, tx, usage.KindSync, cols, `SELECT `+eventsql.Names(cols)+` FROM `+waitingView+where, args)
	if err != nil {
		return nil, err
	}
	days := syncDays{}
	for i := range events {
		days.add(0, &events[i])
	}
	return days, nil
}

// IntegrationStatus returns each integration's status at its latest sync
// event, from the sync rollups and the arrivals, in one snapshot.
func (s *Store) IntegrationStatus(ctx context.Context, workspaceID int64) (map[string]string, error) {
	defer s.timed("integration_status", time.Now())
	tx, err := s.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: integration status: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT integration, status, status_ms FROM sync_rollups WHERE workspace_id = ?
		UNION ALL SELECT integration, integration_status, time_ms FROM `+waitingView+` WHERE workspace_id = ? AND kind = ?`,
		workspaceID, workspaceID, eventsql.KindCode(usage.KindSync))
	if err != nil {
		return nil, fmt.Errorf("sqlite: integration status: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	latest := map[string]int64{}
	for rows.Next() {
		var name, status string
		var at int64
		if err := rows.Scan(&name, &status, &at); err != nil {
			return nil, fmt.Errorf("sqlite: integration status: %w", err)
		}
		if t, ok := latest[name]; !ok || at >= t {
			latest[name], out[name] = at, status
		}
	}
	return out, rows.Err()
}
