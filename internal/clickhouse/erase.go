package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// Erase deletes every event of the workspace that m names, in four steps:
// it records their ids as erased (Append refuses them from then on), takes
// their API calls out of the rollups (negative rows: the sums wrap back),
// deletes them and the person's rows of rollup_seen (ALTER TABLE … DELETE
// mutations, which it waits for), and sums what the erasure removed.
//
// A run taken up again (resumed) cannot tell whether the rollups were
// corrected before it stopped: it deletes first, then computes the rollups
// of the days the erased calls were in again from the events (correct), as
// a resumed reclassification does. Every step is safe to run twice.
func (s *Store) Erase(ctx context.Context, workspaceID int64, erasureID string, m usage.ErasureMatch, resumed bool, progress func(done, total int64)) (usage.EraseResult, error) {
	fail := func(step string, err error) (usage.EraseResult, error) {
		return usage.EraseResult{}, fmt.Errorf("clickhouse: erase: %s: %w", step, s.unavailable(err))
	}
	const steps = 4
	report := func(done int64) {
		if progress != nil {
			progress(done, steps)
		}
	}
	report(0)
	where, args := eventsql.ErasureWhere(m)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO erased_events (workspace_id, id, erasure_id, kind, time_ms)
		SELECT workspace_id, id, ?, kind, time_ms FROM events WHERE workspace_id = ? AND `+where,
		append([]any{erasureID, workspaceID}, args...)...); err != nil {
		return fail("record the ids", err)
	}
	report(1)
	calls := m.Field == usage.EraseMemberID || m.Field == usage.EraseIP
	if calls && !resumed {
		if err := s.unrollCalls(ctx, workspaceID, where, args); err != nil {
			return fail("rollups", err)
		}
	}
	report(2)
	if err := s.deleteErased(ctx, workspaceID, m); err != nil {
		return fail("delete", err)
	}
	report(3)
	if calls && resumed {
		days, err := s.erasedDays(ctx, erasureID)
		if err != nil {
			return fail("rollups", err)
		}
		// A week of days a correction: the buffers are flushed before each,
		// since a read through them right after an insert into them (the
		// last correction's) can count rows twice.
		for i := 0; i < len(days); {
			j := i
			for j < len(days) && days[j] < days[i]+7*summary.DayMS {
				j++
			}
			if err := s.flushRollups(ctx); err != nil {
				return fail("rollups", err)
			}
			if err := s.correct(ctx, workspaceID, "usage_type", days[i], days[j-1]+summary.DayMS, callRollups); err != nil {
				return fail("rollups", err)
			}
			i = j
		}
	}
	res, err := s.erasedBy(ctx, erasureID)
	if err != nil {
		return fail("receipt", err)
	}
	report(steps)
	return res, nil
}

// callRollups are every rollup of calls, which an erasure corrects.
var callRollups = slices.Concat(typedRollups, untypedRollups)

// unrollCalls takes the workspace's calls that where matches out of every
// rollup of calls: each rollup's rows of them, with negative sums.
func (s *Store) unrollCalls(ctx context.Context, workspaceID int64, where string, args []any) error {
	calls, err := s.readRows(ctx, `SELECT `+floorMS(summary.QuarterMS)+` AS bucket_ms, status, `+timingBucket+` AS tb, `+strings.Join(callStrs, ", ")+`, toInt64(count())
		FROM events FINAL WHERE workspace_id = ? AND `+where+` AND collection != '`+usage.SelfCollection+`'
		GROUP BY bucket_ms, status, tb, `+strings.Join(callStrs, ", "), len(callInts), len(callStrs), 1, false, append([]any{workspaceID}, args...)...)
	if err != nil || len(calls) == 0 {
		return err
	}
	for _, r := range callRollups {
		rows := map[rollupKey][3]int64{}
		for _, c := range calls {
			addRow(rows, r.of(c), -1)
		}
		if _, err := s.addRows(ctx, workspaceID, r, rows); err != nil {
			return err
		}
	}
	return nil
}

// deleteErased deletes the events m names, and the person's rows of
// rollup_seen (whose key holds the email), and waits for the mutations.
func (s *Store) deleteErased(ctx context.Context, workspaceID int64, m usage.ErasureMatch) error {
	where, args := eventsql.ErasureWhere(m)
	// A mutation takes no bound arguments: the values are quoted in.
	for _, a := range args {
		lit := ""
		switch v := a.(type) {
		case string:
			lit = quoteString(v)
		case int64:
			lit = fmt.Sprint(v)
		}
		where = strings.Replace(where, "?", lit, 1)
	}
	if err := s.alter(ctx, "events", fmt.Sprintf("DELETE WHERE workspace_id = %d AND %s", workspaceID, where)); err != nil {
		return err
	}
	if m.Field == usage.EraseUserEmail {
		// Buffered rows of it are flushed first, so that the delete
		// reaches them.
		if err := s.flushRollups(ctx); err != nil {
			return err
		}
		if err := s.alter(ctx, "rollup_seen", fmt.Sprintf("DELETE WHERE workspace_id = %d AND lower(email) = %s", workspaceID, quoteString(m.Value))); err != nil {
			return err
		}
	}
	return s.waitMutations(ctx, "")
}

// erasedDays are the UTC days of the calls the erasure recorded.
func (s *Store) erasedDays(ctx context.Context, erasureID string) ([]int64, error) {
	var days []int64
	err := s.rows(ctx, `SELECT DISTINCT `+floorMS(summary.DayMS)+` AS d FROM erased_events WHERE erasure_id = ? AND kind = ? ORDER BY d`,
		[]any{erasureID, eventsql.KindCode(usage.KindAPIRequest)}, func(scan func(...any) error) error {
			var d int64
			err := scan(&d)
			days = append(days, d)
			return err
		})
	return days, err
}

// erasedBy sums what the erasure erasureID removed (ids it recorded twice
// once).
func (s *Store) erasedBy(ctx context.Context, erasureID string) (usage.EraseResult, error) {
	res := usage.EraseResult{Removed: map[usage.Kind]int64{}}
	err := s.rows(ctx, `SELECT kind, toInt64(uniqExact(id)), min(time_ms), max(time_ms) FROM erased_events WHERE erasure_id = ? GROUP BY kind`,
		[]any{erasureID}, func(scan func(...any) error) error {
			var kind, n, lo, hi int64
			if err := scan(&kind, &n, &lo, &hi); err != nil {
				return err
			}
			res.Removed[eventsql.KindOf(kind)] += n
			first, last := time.UnixMilli(lo).UTC(), time.UnixMilli(hi).UTC()
			if res.First.IsZero() || first.Before(res.First) {
				res.First = first
			}
			if last.After(res.Last) {
				res.Last = last
			}
			return nil
		})
	return res, err
}
