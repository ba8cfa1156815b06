package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// tailPage is how many arrivals a merge step or a reader of the tail
// reads at a time: reads and writes on a transaction's connection never
// interleave.
const tailPage = 20_000

// mergeState is merge_state's merged_to, in the store's file (the arrivals
// with a seq above it are not merged yet), and arrival_state's generation,
// in the arrivals file.
type mergeState struct {
	mergedTo, generation int64
}

// readArrivalBounds reads merge_state and the largest seq of the
// arrivals: those of (st.mergedTo, top] wait to be merged.
func readArrivalBounds(ctx context.Context, q eventsql.Queryer) (st mergeState, top int64, err error) {
	rows, err := q.QueryContext(ctx, `SELECT m.merged_to, a.generation, (SELECT coalesce(max(seq), 0) FROM `+arrivalsTable+`)
		FROM merge_state m, arrival_state a WHERE m.id = 1 AND a.id = 1`)
	if err != nil {
		return st, 0, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return st, 0, err
		}
		return st, 0, errors.New("merge_state has no row")
	}
	if err := rows.Scan(&st.mergedTo, &st.generation, &top); err != nil {
		return st, 0, err
	}
	return st, max(top, st.mergedTo), rows.Err()
}

// tailEvent is what a summary reads of an api_request arrival.
type tailEvent struct {
	seq    int64
	timeMS int64
	status int32
	timing int32 // summary.TimingBucket of its timing
	combo  int32 // index in its workspace's tailWorkspace.combos
}

// tailRow is an api_request event as rollups read it.
type tailRow struct {
	ws, seq, timeMS, status, timingMS int64
	combo                             combo
}

// readArrivalCalls reads up to tailPage api_request arrivals with a seq in
// (from, to], in seq order, usagelog's own calls left out; full says
// whether it read that many, last is the seq it read up to.
func readArrivalCalls(ctx context.Context, q eventsql.Queryer, from, to int64) (page []tailRow, last int64, full bool, err error) {
	rows, err := q.QueryContext(ctx, `SELECT seq, `+callColumns+`
		FROM `+arrivalsTable+` WHERE seq > ? AND seq <= ? AND kind = ? ORDER BY seq LIMIT ?`, from, to, eventsql.KindCode(usage.KindAPIRequest), tailPage)
	if err != nil {
		return nil, from, false, err
	}
	defer rows.Close()
	last = from
	n := 0
	for rows.Next() {
		r, own, err := scanCall(rows, &last)
		if err != nil {
			return nil, from, false, err
		}
		n++
		if r.seq = last; !own {
			page = append(page, r)
		}
	}
	return page, last, n == tailPage, rows.Err()
}

// callColumns are what rollups read of an api_request row (scanCall).
const callColumns = "workspace_id, time_ms, status, timing_ms, client, collection, collection_type, community, usage_type"

// scanCall scans a row of key (a seq or rowid; nil: none) and
// callColumns; own says it is one of usagelog's own calls, which rollups
// leave out.
func scanCall(rows *sql.Rows, key *int64) (r tailRow, own bool, err error) {
	var ut string
	dest := []any{&r.ws, &r.timeMS, &r.status, &r.timingMS, &r.combo.client, &r.combo.collection, &r.combo.collectionType, &r.combo.community, &ut}
	if key != nil {
		dest = append([]any{key}, dest...)
	}
	if err := rows.Scan(dest...); err != nil {
		return r, false, err
	}
	r.combo.usageType = usage.Type(ut)
	return r, r.combo.collection == usage.SelfCollection, nil
}

// rollUp adds api_request events to the rollups, in tx: every hour once,
// a workspace at a time, in hour order.
func (s *Store) rollUp(ctx context.Context, tx *sql.Tx, upserts []*sql.Stmt, rows []tailRow) error {
	byWS := map[int64]hourCells{}
	slices.SortStableFunc(rows, func(a, b tailRow) int { return cmp.Compare(a.ws, b.ws) })
	for len(rows) > 0 {
		ws := rows[0].ws
		n := 1
		for n < len(rows) && rows[n].ws == ws {
			n++
		}
		if byWS[ws] == nil {
			byWS[ws] = hourCells{}
		}
		if err := s.addCells(ctx, tx, ws, rows[:n], byWS[ws]); err != nil {
			return err
		}
		rows = rows[n:]
	}
	for _, ws := range slices.Sorted(maps.Keys(byWS)) {
		if err := writeRollups(ctx, tx, upserts, ws, byWS[ws]); err != nil {
			return err
		}
	}
	return nil
}

// rollUpOldTail adds to the rollups, in tx, the events that a store of the
// release before arrivals had not added yet (its tail: a rowid above
// rollup_state.rolled_to), before migration 19 drops rollup_state.
func rollUpOldTail(ctx context.Context, s *Store, tx *sql.Tx) error {
	var from int64
	if err := tx.QueryRowContext(ctx, `SELECT rolled_to FROM rollup_state WHERE id = 1`).Scan(&from); err != nil {
		return fmt.Errorf("the rollup tail: %w", err)
	}
	upserts, err := prepareUpserts(ctx, tx)
	if err != nil {
		return err
	}
	defer func() {
		for _, st := range upserts {
			st.Close()
		}
	}()
	for {
		// A page at a time: reads and writes on the transaction's
		// connection never interleave.
		rows, err := tx.QueryContext(ctx, `SELECT rowid, `+callColumns+`
			FROM events WHERE rowid > ? AND kind = ? ORDER BY rowid LIMIT ?`, from, eventsql.KindCode(usage.KindAPIRequest), tailPage)
		if err != nil {
			return fmt.Errorf("the rollup tail: %w", err)
		}
		var page []tailRow
		n := 0
		for rows.Next() {
			r, own, err := scanCall(rows, &from)
			if err != nil {
				rows.Close()
				return fmt.Errorf("the rollup tail: %w", err)
			}
			n++
			if !own {
				page = append(page, r)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("the rollup tail: %w", err)
		}
		if err := s.rollUp(ctx, tx, upserts, page); err != nil {
			return fmt.Errorf("the rollup tail: %w", err)
		}
		if n < tailPage {
			return nil
		}
	}
}

// tailRows is the api_request events of a batch as rollups read them.
func tailRows(workspaceID int64, events []*usage.Event) []tailRow {
	rows := make([]tailRow, 0, len(events))
	for _, e := range events {
		if !isSelf(e) {
			rows = append(rows, tailRow{ws: workspaceID, timeMS: e.Time.UnixMilli(), status: int64(e.Status), timingMS: e.TimingMS, combo: comboOf(e)})
		}
	}
	return rows
}

// tailCache is what this process has read of the arrivals, for
// summaries: the api_request arrivals of (from, upto] of one generation,
// by workspace, in seq order. A summary's read transaction drops what
// merges moved to the rollups since, adds what other transactions stored
// since, and reads only the arrivals its snapshot holds.
type tailCache struct {
	mu sync.Mutex
	tail
}

type tail struct {
	generation int64
	from, upto int64
	valid      bool
	byWS       map[int64]*tailWorkspace
}

func newTail(st mergeState) tail {
	return tail{generation: st.generation, from: st.mergedTo, upto: st.mergedTo, valid: true, byWS: map[int64]*tailWorkspace{}}
}

type tailWorkspace struct {
	events []tailEvent
	comboSet
}

func (w *tailWorkspace) add(r *tailRow) {
	w.events = append(w.events, tailEvent{seq: r.seq, timeMS: r.timeMS, status: int32(max(r.status, 0)),
		timing: int32(summary.TimingBucket(r.timingMS)), combo: w.id(r.combo)})
}

// comboSet numbers combos in the order it meets them.
type comboSet struct {
	combos []combo
	ids    map[combo]int32
}

func (c *comboSet) id(k combo) int32 {
	id, ok := c.ids[k]
	if !ok {
		if c.ids == nil {
			c.ids = map[combo]int32{}
		}
		id = int32(len(c.combos))
		c.combos = append(c.combos, k)
		c.ids[k] = id
	}
	return id
}

// tailOf returns the workspace's api_request arrivals as tx's snapshot
// holds them: in seq order, and the combos they index. What it returns is
// never changed afterwards.
func (s *Store) tailOf(ctx context.Context, tx *sql.Tx, workspaceID int64) ([]tailEvent, []combo, error) {
	st, top, err := readArrivalBounds(ctx, tx)
	if err != nil {
		return nil, nil, err
	}
	c := &s.tail
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.valid || st.generation > c.generation || (st.generation == c.generation && st.mergedTo > c.upto) {
		c.tail = newTail(st)
	}
	if st.generation != c.generation || st.mergedTo < c.from {
		// An older snapshot than the cache's: read its arrivals on their
		// own.
		own := newTail(st)
		if err := own.extend(ctx, tx, top); err != nil {
			return nil, nil, err
		}
		return own.of(workspaceID, top)
	}
	c.trim(st.mergedTo)
	if err := c.extend(ctx, tx, top); err != nil {
		// What was read before the error is whole events: keep it, and
		// read the rest next time.
		return nil, nil, err
	}
	return c.of(workspaceID, top)
}

// trim drops the events of seq up to mergedTo: merged into the rollups.
func (c *tail) trim(mergedTo int64) {
	if mergedTo <= c.from {
		return
	}
	c.from = mergedTo
	for ws, w := range c.byWS {
		n := sort.Search(len(w.events), func(i int) bool { return w.events[i].seq > mergedTo })
		switch {
		case n == len(w.events):
			delete(c.byWS, ws)
		case n > len(w.events)/2:
			// Slices handed out keep the old array; the cache lets it go.
			w.events = slices.Clone(w.events[n:])
		default:
			w.events = w.events[n:]
		}
	}
}

// extend reads the arrivals above c.upto up to top.
func (c *tail) extend(ctx context.Context, tx *sql.Tx, top int64) error {
	for full := top > c.upto; full; {
		page, last, more, err := readArrivalCalls(ctx, tx, c.upto, top)
		if err != nil {
			return err
		}
		for i := range page {
			w := c.byWS[page[i].ws]
			if w == nil {
				w = &tailWorkspace{}
				c.byWS[page[i].ws] = w
			}
			w.add(&page[i])
		}
		c.upto, full = last, more
	}
	c.upto = max(c.upto, top)
	return nil
}

// of returns the workspace's events up to seq top: slices that later
// appends do not change.
func (c *tail) of(workspaceID, top int64) ([]tailEvent, []combo, error) {
	w := c.byWS[workspaceID]
	if w == nil {
		return nil, nil, nil
	}
	n := sort.Search(len(w.events), func(i int) bool { return w.events[i].seq > top })
	return slices.Clip(w.events[:n]), slices.Clip(w.combos), nil
}
