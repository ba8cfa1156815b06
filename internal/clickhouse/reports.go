package clickhouse

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// SyncGroups sums sync events by integration, projects, end system and
// entity type: the events before split and those at or after it apart,
// whole UTC days from rollup_syncs (migration 035) and the hours at the
// ends from the events, as the SQLite store does.
func (s *Store) SyncGroups(ctx context.Context, workspaceID int64, from, split, to time.Time) ([]usage.SyncGroup, error) {
	groups := map[usage.SyncGroup]*usage.SyncGroup{} // by the group's key and Recent
	var order []*usage.SyncGroup
	add := func(g usage.SyncGroup) {
		k := g
		k.Synced, k.LastSynced, k.LastUpdated = 0, time.Time{}, time.Time{}
		have := groups[k]
		if have == nil {
			have = &k
			groups[k] = have
			order = append(order, have)
		}
		have.Synced += g.Synced
		if g.LastSynced.After(have.LastSynced) {
			have.LastSynced = g.LastSynced
		}
		if g.LastUpdated.After(have.LastUpdated) {
			have.LastUpdated = g.LastUpdated
		}
	}
	// Whole UTC days from the rollup, the rest from the events: each in one
	// query over its spans, both parts at once (recent: at or after
	// split), the two queries side by side (add is called under mu).
	end, err := s.lastDayEnd(ctx, workspaceID, usage.KindSync, to)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: sync groups: %w", err)
	}
	var days, edges [][2]int64
	for _, part := range [][2]time.Time{{from, split}, {split, to}} {
		lo, hi := part[0].UnixMilli(), part[1].UnixMilli()
		if part[1].Equal(to) {
			hi = end
		}
		if lo >= hi {
			continue
		}
		d0, d1 := summary.Ceil(lo, summary.DayMS), summary.Floor(hi, summary.DayMS)
		if d0 >= d1 {
			edges = append(edges, [2]int64{lo, hi})
			continue
		}
		days = append(days, [2]int64{d0, d1})
		edges = append(edges, [2]int64{lo, d0}, [2]int64{d1, hi})
	}
	var mu sync.Mutex
	locked := func(g usage.SyncGroup) { mu.Lock(); defer mu.Unlock(); add(g) }
	sp := split.UnixMilli()
	parts := []func(context.Context) error{
		func(ctx context.Context) error {
			return s.syncGroups(ctx, syncRollupQuery, "day_ms", workspaceID, sp, days, locked)
		},
		func(ctx context.Context) error {
			return s.syncGroups(ctx, syncEventsQuery, "time_ms", workspaceID, sp, edges, locked)
		},
	}
	if err := together(ctx, parts); err != nil {
		return nil, err
	}
	out := make([]usage.SyncGroup, 0, len(order))
	for _, g := range order {
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b usage.SyncGroup) int {
		return cmp.Or(cmp.Compare(a.Integration, b.Integration), cmp.Compare(a.System1, b.System1), cmp.Compare(a.System2, b.System2),
			cmp.Compare(a.Project1, b.Project1), cmp.Compare(a.Project2, b.Project2), cmp.Compare(a.EndSystem, b.EndSystem),
			cmp.Compare(a.EntityType, b.EntityType), compareBool(b.Recent, a.Recent))
	})
	return out, nil
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// The two sources of sync groups: whole days of rollup_syncs, and the
// events of the hours at the spans' ends (a re-sent copy not merged yet
// dropped by LIMIT 1 BY its key: FINAL merged every part of the range,
// 90-170 ms a query on the 50,000,000-event demo store). Each takes the
// split, the workspace and its spans (%s).
var (
	syncRollupQuery = `SELECT integration, system1, system2, project1, project2, end_system, entity_type, toUInt8(day_ms >= ?) AS recent,
		       toUInt64(countMerge(events)), toUInt64(countIfMerge(synced)), maxIfMerge(last_synced_ms), maxMerge(last_updated_ms)
		FROM rollup_syncs WHERE workspace_id = ? AND (%s)
		GROUP BY integration, system1, system2, project1, project2, end_system, entity_type, recent`
	syncEventsQuery = `SELECT integration, system1, system2, project1, project2, end_system, entity_type, toUInt8(time_ms >= ?) AS recent,
		       toUInt64(count()), toUInt64(countIf(outcome = 'synced')), maxIf(time_ms, outcome = 'synced'), max(integration_updated_ms)
		FROM (SELECT integration, system1, system2, project1, project2, end_system, entity_type, outcome, time_ms, integration_updated_ms
			FROM events WHERE workspace_id = ? AND kind = ` + strconv.FormatInt(eventsql.KindCode(usage.KindSync), 10) + ` AND (%s)
			LIMIT 1 BY time_ms, id)
		GROUP BY integration, system1, system2, project1, project2, end_system, entity_type, recent`
)

// syncGroups adds the groups query finds in spans of column col.
func (s *Store) syncGroups(ctx context.Context, query, col string, workspaceID, split int64, spans [][2]int64, add func(usage.SyncGroup)) error {
	where, args := spansWhere(col, spans, []any{split, workspaceID})
	if where == "" {
		return nil
	}
	err := s.rows(ctx, fmt.Sprintf(query, where), args, func(scan func(...any) error) error {
		var g usage.SyncGroup
		var recent uint8
		var n, synced uint64
		var last, upd int64
		if err := scan(&g.Integration, &g.System1, &g.System2, &g.Project1, &g.Project2, &g.EndSystem, &g.EntityType, &recent, &n, &synced, &last, &upd); err != nil {
			return err
		}
		if n > 0 {
			g.Recent, g.Synced, g.LastSynced, g.LastUpdated = recent != 0, int64(synced), msTime(last), msTime(upd)
			add(g)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("clickhouse: sync groups: %w", err)
	}
	return nil
}

// lastDayEnd is where a read of kind up to to may end: the end of to's
// UTC day when the workspace holds no event of kind from to to then, so
// that the day is read whole from its rollup row, else to. A window ends
// now, so that the last day's events after it are only ones stamped in
// the future: almost always none, and the day's events up to now (the
// busiest hours of a report, some 100,000 syncs on the 50,000,000-event
// demo store) are not read one by one. One stamped in the future that
// arrives between this check and the read is counted.
func (s *Store) lastDayEnd(ctx context.Context, workspaceID int64, kind usage.Kind, to time.Time) (int64, error) {
	hi := to.UnixMilli()
	end := summary.Ceil(hi, summary.DayMS)
	if end == hi {
		return hi, nil
	}
	var later uint64
	if err := s.db.QueryRowContext(ctx, `SELECT count() FROM events WHERE workspace_id = ? AND kind = ? AND time_ms >= ? AND time_ms < ?`,
		workspaceID, eventsql.KindCode(kind), hi, end).Scan(&later); err != nil {
		return 0, err
	}
	if later > 0 {
		return hi, nil
	}
	return end, nil
}

// spansWhere is the OR of col's spans (from inclusive, to exclusive; empty
// ones left out), "" when none is left, with args and the spans' bounds.
func spansWhere(col string, spans [][2]int64, args []any) (string, []any) {
	var ors []string
	for _, sp := range spans {
		if sp[0] < sp[1] {
			ors = append(ors, "("+col+" >= ? AND "+col+" < ?)")
			args = append(args, sp[0], sp[1])
		}
	}
	return strings.Join(ors, " OR "), args
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

// SeenGroups groups user_seen events by system and identity: whole UTC
// days from rollup_seen (migration 054), the hours at the ends from the
// events, side by side, merged here by the identity's keys (the folded
// email, username and display name). A re-sent copy not merged yet is
// dropped by LIMIT 1 BY its key rather than FINAL, which merges every part
// that holds a granule of the range.
func (s *Store) SeenGroups(ctx context.Context, workspaceID int64, from, to time.Time) ([]usage.SeenGroup, error) {
	type key struct{ system, email, username, displayName string }
	type group struct {
		g            usage.SeenGroup
		interactions map[string]bool
	}
	groups := map[key]*group{}
	var keys []key
	var mu sync.Mutex
	add := func(scan func(...any) error) error {
		var k key
		var g usage.SeenGroup
		var interactions []string
		var service, last int64
		if err := scan(&k.system, &k.email, &k.username, &k.displayName, &g.Email, &g.Username, &g.DisplayName, &interactions, &service, &last); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		have := groups[k]
		if have == nil {
			g.System = k.system
			have = &group{g: g, interactions: map[string]bool{}}
			groups[k] = have
			keys = append(keys, k)
		}
		have.g.Email, have.g.Username, have.g.DisplayName = min(have.g.Email, g.Email), min(have.g.Username, g.Username), min(have.g.DisplayName, g.DisplayName)
		for _, v := range interactions {
			if v != "" {
				have.interactions[v] = true
			}
		}
		have.g.ServiceAccount = have.g.ServiceAccount || service != 0
		if t := time.UnixMilli(last).UTC(); t.After(have.g.LastSeen) {
			have.g.LastSeen = t
		}
		return nil
	}
	hi, err := s.lastDayEnd(ctx, workspaceID, usage.KindUserSeen, to)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: seen groups: %w", err)
	}
	lo := from.UnixMilli()
	d0, d1 := summary.Ceil(lo, summary.DayMS), summary.Floor(hi, summary.DayMS)
	spans := [][2]int64{{lo, hi}}
	var parts []func(context.Context) error
	if d0 < d1 {
		spans = [][2]int64{{lo, d0}, {d1, hi}}
		parts = append(parts, func(ctx context.Context) error {
			return s.rows(ctx, `SELECT system, `+fold("email")+` AS ek, `+fold("username")+` AS uk, `+fold("display_name")+` AS dk,
				min(email), min(username), min(display_name), groupUniqArrayMerge(interactions), maxMerge(service_account_max), maxMerge(last_ms)
				FROM rollup_seen WHERE workspace_id = ? AND day_ms >= ? AND day_ms < ?
				GROUP BY system, ek, uk, dk`, []any{workspaceID, d0, d1}, add)
		})
	}
	if where, args := spansWhere("time_ms", spans, []any{workspaceID, eventsql.KindCode(usage.KindUserSeen)}); where != "" {
		parts = append(parts, func(ctx context.Context) error {
			return s.rows(ctx, `SELECT system, `+fold("email")+` AS ek, `+fold("username")+` AS uk, `+fold("display_name")+` AS dk,
				min(email), min(username), min(display_name), groupUniqArray(interaction), max(service_account), max(time_ms)
				FROM (SELECT system, email, username, display_name, interaction, service_account, time_ms FROM events
					WHERE workspace_id = ? AND kind = ? AND (`+where+`) LIMIT 1 BY time_ms, id)
				GROUP BY system, ek, uk, dk`, args, add)
		})
	}
	if err := together(ctx, parts); err != nil {
		return nil, fmt.Errorf("clickhouse: seen groups: %w", err)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.system, b.system), cmp.Compare(a.email, b.email), cmp.Compare(a.username, b.username), cmp.Compare(a.displayName, b.displayName))
	})
	out := make([]usage.SeenGroup, 0, len(keys))
	for _, k := range keys {
		g := groups[k]
		g.g.Interactions = slices.Sorted(maps.Keys(g.interactions))
		out = append(out, g.g)
	}
	return out, nil
}

// IntegrationStatus returns each integration's status as of its latest
// sync event, from rollup_syncs: every event is in it, whatever its day.
func (s *Store) IntegrationStatus(ctx context.Context, workspaceID int64) (map[string]string, error) {
	out := map[string]string{}
	err := s.rows(ctx, `SELECT integration, argMaxMerge(status) FROM rollup_syncs WHERE workspace_id = ? GROUP BY integration`,
		[]any{workspaceID}, func(scan func(...any) error) error {
			var name, status string
			if err := scan(&name, &status); err != nil {
				return err
			}
			out[name] = status
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("clickhouse: integration status: %w", err)
	}
	return out, nil
}

// Communities lists the communities the workspace's API calls name (not
// usagelog's own), from rollup_days and its buffer: a row a day and
// combination, not the calls.
func (s *Store) Communities(ctx context.Context, workspaceID int64) ([]string, error) {
	var out []string
	from, args := s.rollupFrom("rollup_days", "WHERE workspace_id = ? AND community != ''", []any{workspaceID}, true)
	err := s.rows(ctx, `SELECT DISTINCT community FROM `+from, args, func(scan func(...any) error) error {
		var c string
		if err := scan(&c); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse: communities: %w", err)
	}
	return out, nil
}
