package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// Reclassify classifies the workspace's stored API calls again by rules,
// a UTC day of them at a time, each day's waiting calls and then its
// merged ones in a transaction of their own (reclassifyDay): ingest waits
// for one day's waiting calls at most, and a summary read meanwhile sees
// each part of a day either before or after, never half of one.
// The rules are applied in Go (usage.Classifier), as ingest applies them;
// the rollups of a day whose usage types changed are computed again from
// its events. Progress is in calls, of those stored when it began.
func (s *Store) Reclassify(ctx context.Context, workspaceID int64, rules usage.Classifier, _ bool, progress func(done, total int64)) (int64, error) {
	defer s.timed("reclassify", time.Now())
	api := eventsql.KindCode(usage.KindAPIRequest)
	var total int64
	if err := s.read.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM `+eventsTable+` WHERE workspace_id = ?1 AND kind = ?2)
		+ (SELECT count(*) FROM `+waitingView+` WHERE workspace_id = ?1 AND kind = ?2)`, workspaceID, api).Scan(&total); err != nil {
		return 0, fmt.Errorf("sqlite: reclassify: %w", err)
	}
	var done, changed int64
	if progress != nil {
		progress(0, total)
	}
	for from := int64(-1 << 62); ; {
		var next sql.NullInt64
		var last sql.NullInt64
		if err := s.read.QueryRowContext(ctx, timeSpanSQL(), workspaceID, api, from, int64(1<<63-1)).Scan(&next, &last); err != nil {
			return changed, fmt.Errorf("sqlite: reclassify: %w", err)
		}
		if !next.Valid {
			return changed, nil
		}
		day := summary.Floor(next.Int64, summary.DayMS)
		n, c, err := s.reclassifyDay(ctx, workspaceID, rules, day)
		if err != nil {
			return changed, fmt.Errorf("sqlite: reclassify the day of %s: %w", time.UnixMilli(day).UTC().Format(time.DateOnly), err)
		}
		done, changed = done+n, changed+c
		if progress != nil {
			progress(min(done, total), total)
		}
		from = day + summary.DayMS
	}
}

// reclassifyDay classifies the calls of one UTC day again, waiting and
// merged, and returns how many it read and how many changed. Each file's
// part is a transaction of its own, the waiting ones' first and with the
// merge held back: a merge step that moves some of them afterwards moves
// them classified again, where one between would move them as they were.
func (s *Store) reclassifyDay(ctx context.Context, workspaceID int64, rules usage.Classifier, day int64) (read, changed int64, err error) {
	seen := map[call][2]string{} // the few distinct URLs and agents of a day, classified once
	for _, table := range []string{arrivalsTable, eventsTable} {
		r, c, err := s.reclassifyDayOf(ctx, table, workspaceID, rules, day, seen)
		if err != nil {
			return 0, 0, err
		}
		read, changed = read+r, changed+c
	}
	return read, changed, nil
}

// call is what classifies an API call.
type call struct{ url, ua string }

// reclassifyDayOf is reclassifyDay's part of table, in a transaction of
// its file's writer.
func (s *Store) reclassifyDayOf(ctx context.Context, table string, workspaceID int64, rules usage.Classifier, day int64, seen map[call][2]string) (read, changed int64, err error) {
	db, waiting := s.write, ""
	if table == arrivalsTable {
		s.mergeMu.Lock()
		defer s.mergeMu.Unlock()
		db, waiting = s.appendDB, " AND "+unmergedArrival // of the arrivals, those not merged
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	typesChanged := false
	var updates []update
	// All of the day's rows first, then the updates: reads and writes on
	// the transaction's connection never interleave.
	rows, err := tx.QueryContext(ctx, `SELECT rowid, url, user_agent, client_class, usage_type FROM `+table+`
		WHERE workspace_id = ? AND kind = ? AND time_ms >= ? AND time_ms < ?`+waiting,
		workspaceID, eventsql.KindCode(usage.KindAPIRequest), day, day+summary.DayMS)
	if err != nil {
		return 0, 0, err
	}
	for rows.Next() {
		var (
			rowid               int64
			url, ua, class, typ string
		)
		if err := rows.Scan(&rowid, &url, &ua, &class, &typ); err != nil {
			rows.Close()
			return 0, 0, err
		}
		read++
		got, ok := seen[call{url, ua}]
		if !ok {
			c, t := rules.Classify(url, ua)
			got = [2]string{string(c), string(t)}
			seen[call{url, ua}] = got
		}
		if got[0] != class || got[1] != typ {
			updates = append(updates, update{rowid, usage.ClientClass(got[0]), usage.Type(got[1])})
			typesChanged = typesChanged || got[1] != typ
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	if len(updates) == 0 {
		return read, 0, nil
	}
	if err := applyUpdates(ctx, tx, table, updates); err != nil {
		return 0, 0, err
	}
	if table == arrivalsTable {
		// Readers hold the arrivals' old types; the rollups hold none.
		if err := bumpGeneration(ctx, tx); err != nil {
			return 0, 0, err
		}
		return read, int64(len(updates)), tx.Commit()
	}
	// A rewrite in time order under way copied the old classes.
	if err := dropCopy(ctx, tx); err != nil {
		return 0, 0, err
	}
	if typesChanged {
		if err := s.rerollDay(ctx, tx, workspaceID, day); err != nil {
			s.settleCombos(false)
			return 0, 0, err
		}
	}
	err = tx.Commit()
	s.settleCombos(err == nil)
	return read, int64(len(updates)), err
}

// rerollDay computes the rollups of a workspace's day again from its
// merged events, in tx.
func (s *Store) rerollDay(ctx context.Context, tx *sql.Tx, workspaceID, day int64) error {
	var calls []tailRow
	rows, err := tx.QueryContext(ctx, `SELECT `+callColumns+`
		FROM `+eventsTable+` WHERE workspace_id = ? AND kind = ? AND time_ms >= ? AND time_ms < ? ORDER BY time_ms`,
		workspaceID, eventsql.KindCode(usage.KindAPIRequest), day, day+summary.DayMS)
	if err != nil {
		return err
	}
	for rows.Next() {
		r, own, err := scanCall(rows, nil)
		if err != nil {
			rows.Close()
			return err
		}
		if !own {
			calls = append(calls, r)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM rollups WHERE workspace_id = ? AND hour_ms >= ? AND hour_ms < ?`, workspaceID, day, day+summary.DayMS); err != nil {
		return err
	}
	cells := hourCells{}
	if err := s.addCells(ctx, tx, workspaceID, calls, cells); err != nil {
		return err
	}
	return writeRollups(ctx, tx, s.upserts, workspaceID, cells)
}

// update is a call's new class and type.
type update struct {
	rowid int64
	class usage.ClientClass
	typ   usage.Type
}

// updateBatch is how many calls one UPDATE statement sets: one a statement
// took half of a run's time (BenchmarkReclassify).
const updateBatch = 500

// applyUpdates sets the calls' classes and types in table, in tx, those that get
// the same ones (a rule's) in statements of updateBatch.
func applyUpdates(ctx context.Context, tx *sql.Tx, table string, updates []update) error {
	type target struct {
		class usage.ClientClass
		typ   usage.Type
	}
	byTarget := map[target][]any{}
	for _, u := range updates {
		k := target{u.class, u.typ}
		byTarget[k] = append(byTarget[k], u.rowid)
	}
	var full *sql.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	for k, rowids := range byTarget {
		for len(rowids) > 0 {
			n := min(len(rowids), updateBatch)
			args := append([]any{string(k.class), string(k.typ)}, rowids[:n]...)
			query := `UPDATE ` + table + ` SET client_class = ?, usage_type = ? WHERE rowid IN (?` + strings.Repeat(", ?", n-1) + `)`
			var err error
			if n == updateBatch {
				if full == nil {
					if full, err = tx.PrepareContext(ctx, query); err != nil {
						return err
					}
				}
				_, err = full.ExecContext(ctx, args...)
			} else {
				_, err = tx.ExecContext(ctx, query, args...)
			}
			if err != nil {
				return err
			}
			rowids = rowids[n:]
		}
	}
	return nil
}
