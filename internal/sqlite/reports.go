package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/usage"
)

// distinct lists the values of a column of the workspace's events of a
// kind, in order: of the merged events by an index that starts with it
// after workspace_id, seeking to the next value, one index probe per
// value, where SELECT DISTINCT would read every entry; of the arrivals,
// few, by reading them. The arrivals are read first, each read in a
// snapshot of its own: a merge only moves arrivals into the events table,
// so a value that has left the arrivals by the time they are read is in
// the events read after. The other way round, a merge between the reads
// hid its values from both (a background merge made a conformance run
// find no seen groups).
func (s *Store) distinct(ctx context.Context, workspaceID int64, kind usage.Kind, index, column string) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, fmt.Sprintf(`SELECT DISTINCT %s FROM %s WHERE workspace_id = ? AND kind = ?`, column, waitingView),
		workspaceID, eventsql.KindCode(kind))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var waiting []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		waiting = append(waiting, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if distinctHook != nil {
		distinctHook()
	}
	merged, err := s.distinctMerged(ctx, workspaceID, kind, index, column)
	if err != nil {
		return nil, err
	}
	for _, v := range waiting {
		if i, found := slices.BinarySearch(merged, v); !found {
			merged = slices.Insert(merged, i, v)
		}
	}
	return merged, nil
}

// distinctHook, when set (tests), runs between distinct's two reads.
var distinctHook func()

func (s *Store) distinctMerged(ctx context.Context, workspaceID int64, kind usage.Kind, index, column string) ([]string, error) {
	query := fmt.Sprintf(`SELECT %[2]s FROM events INDEXED BY %[1]s
		WHERE workspace_id = ? AND kind = %[3]d AND %[2]s > ? ORDER BY %[2]s LIMIT 1`, index, column, eventsql.KindCode(kind))
	first := strings.Replace(query, column+" > ?", column+" >= ?", 1)
	var out []string
	for {
		q := query
		if out == nil {
			q = first
		}
		after := ""
		if len(out) > 0 {
			after = out[len(out)-1]
		}
		var v string
		err := s.read.QueryRowContext(ctx, q, workspaceID, after).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = []string{}
		}
		out = append(out, v)
	}
}

// partitioned runs part for every key on as many connections as there are
// cores and returns the parts in key order.
func partitioned[T any](ctx context.Context, keys []string, part func(context.Context, string) ([]T, error)) ([]T, error) {
	parts := make([][]T, len(keys))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, k := range keys {
		g.Go(func() error {
			var err error
			parts[i], err = part(ctx, k)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]T, 0, n)
	for i := range parts {
		out = append(out, parts[i]...)
		parts[i] = nil
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
// events_seen_groups index; each system is its own query, and the
// queries share the cores.
func (s *Store) SeenGroups(ctx context.Context, workspaceID int64, from, to time.Time) ([]usage.SeenGroup, error) {
	defer s.timed("seen_groups", time.Now())
	systems, err := s.distinct(ctx, workspaceID, usage.KindUserSeen, "events_seen_groups", "system")
	if err != nil {
		return nil, fmt.Errorf("sqlite: seen groups: %w", err)
	}
	const aggregates = `SELECT MIN(email), MIN(username), MIN(display_name), group_concat(DISTINCT interaction),
		MAX(service_account), MAX(time_ms)`
	const groups = ` GROUP BY lower(trim(email)), lower(trim(username)), lower(trim(display_name))`
	where := fmt.Sprintf(` WHERE workspace_id = ?1 AND kind = %d AND system = ?4 AND time_ms >= ?2 AND time_ms < ?3`, eventsql.KindCode(usage.KindUserSeen))
	query := aggregates + ` FROM ` + eventsTable + ` INDEXED BY events_seen_groups` + where + groups
	// Arrivals waiting: the groups of both tables, which SQLite sorts.
	var waiting bool
	if err := s.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+waitingView+` WHERE workspace_id = ? AND kind = ? AND time_ms >= ? AND time_ms < ?)`,
		workspaceID, eventsql.KindCode(usage.KindUserSeen), from.UnixMilli(), to.UnixMilli()).Scan(&waiting); err != nil {
		return nil, fmt.Errorf("sqlite: seen groups: %w", err)
	}
	if waiting {
		// In the index's order, which group_concat lists interactions in.
		cols := `SELECT email, username, display_name, interaction, service_account, time_ms FROM `
		query = aggregates + ` FROM (SELECT * FROM (` + cols + eventsTable + where + ` UNION ALL ` + cols + waitingView + where +
			`) ORDER BY lower(trim(email)), lower(trim(username)), lower(trim(display_name)), time_ms, email, username, display_name, interaction, service_account)` + groups
	}
	out, err := partitioned(ctx, systems, func(ctx context.Context, system string) ([]usage.SeenGroup, error) {
		rows, err := s.read.QueryContext(ctx, query, workspaceID, from.UnixMilli(), to.UnixMilli(), system)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []usage.SeenGroup
		// Interaction lists repeat across hundreds of thousands of
		// groups: one copy of each is shared.
		lists := map[string][]string{}
		for rows.Next() {
			g := usage.SeenGroup{System: system}
			var interactions sql.NullString
			var service, last int64
			if err := rows.Scan(&g.Email, &g.Username, &g.DisplayName, &interactions, &service, &last); err != nil {
				return nil, err
			}
			l, ok := lists[interactions.String]
			if !ok {
				l = splitList(interactions.String)
				lists[interactions.String] = l
			}
			g.Interactions, g.ServiceAccount, g.LastSeen = l, service != 0, time.UnixMilli(last).UTC()
			out = append(out, g)
		}
		return out, rows.Err()
	})
	if err != nil {
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
