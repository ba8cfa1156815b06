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

// DefaultRollupBatch is how many events (by rowid) ingest lets pile up
// before it adds the api_request ones to the rollups in one go: a batch
// spread over a year touches most hours of it, and adding each batch on
// its own rewrote those hours' rows once a batch (BenchmarkArrivalOrder,
// random order). Summaries read the pile from the events meanwhile.
const DefaultRollupBatch = 100_000

// tailPage is how many events a fold reads before it writes their rollups:
// reads and writes on the transaction's connection never interleave.
const tailPage = 20_000

// rollupState is the row of rollup_state: the events with a rowid above
// rolledTo are the tail, not yet in the rollups.
type rollupState struct {
	rolledTo, generation int64
}

// readTailBounds reads rollup_state and the largest rowid stored: the
// tail is the events of (st.rolledTo, top].
func readTailBounds(ctx context.Context, q eventsql.Queryer) (st rollupState, top int64, err error) {
	rows, err := q.QueryContext(ctx, `SELECT rolled_to, generation, (SELECT coalesce(max(rowid), 0) FROM events) FROM rollup_state WHERE id = 1`)
	if err != nil {
		return st, 0, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return st, 0, err
		}
		return st, 0, errors.New("rollup_state has no row")
	}
	if err := rows.Scan(&st.rolledTo, &st.generation, &top); err != nil {
		return st, 0, err
	}
	return st, top, rows.Err()
}

// tailEvent is what a summary reads of an api_request event of the tail.
type tailEvent struct {
	rowid  int64
	timeMS int64
	status int32
	timing int32 // summary.TimingBucket of its timing
	combo  int32 // index in its workspace's tailWorkspace.combos
}

// tailRow is an api_request event of the tail as rollups read it.
type tailRow struct {
	ws, rowid, timeMS, status, timingMS int64
	combo                               combo
}

// readTail reads up to tailPage api_request events with a rowid in
// (from, to], in rowid order, usagelog's own calls left out; full says
// whether it read that many, last is the rowid it read up to.
func readTail(ctx context.Context, q eventsql.Queryer, from, to int64) (page []tailRow, last int64, full bool, err error) {
	rows, err := q.QueryContext(ctx, `SELECT rowid, workspace_id, time_ms, status, timing_ms, client, collection, collection_type, community, usage_type
		FROM events WHERE rowid > ? AND rowid <= ? AND kind = ? ORDER BY rowid LIMIT ?`, from, to, eventsql.KindCode(usage.KindAPIRequest), tailPage)
	if err != nil {
		return nil, from, false, err
	}
	defer rows.Close()
	last = from
	n := 0
	for rows.Next() {
		var (
			r  tailRow
			ut string
		)
		if err := rows.Scan(&r.rowid, &r.ws, &r.timeMS, &r.status, &r.timingMS, &r.combo.client, &r.combo.collection, &r.combo.collectionType, &r.combo.community, &ut); err != nil {
			return nil, from, false, err
		}
		n++
		last = r.rowid
		if r.combo.collection == usage.SelfCollection {
			continue
		}
		r.combo.usageType = usage.Type(ut)
		page = append(page, r)
	}
	return page, last, n == tailPage, rows.Err()
}

// fold adds the tail up to rowid to (every event stored) to the rollups,
// in tx, and moves rolled_to there. own is the tail when this store
// appended all of it (pendingTail), else nil: then fold reads it.
func (s *Store) fold(ctx context.Context, tx *sql.Tx, st rollupState, to int64, own []tailRow) error {
	// Every hour once, however many pages the tail takes.
	byWS := map[int64]hourCells{}
	add := func(rows []tailRow) error {
		// Rows of one workspace at a time, in their order.
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
		return nil
	}
	if own != nil {
		if err := add(own); err != nil {
			return fmt.Errorf("fold: %w", err)
		}
	} else {
		for from, full := st.rolledTo, true; full; {
			// A page at a time: reads and writes on the transaction's
			// connection never interleave.
			var (
				page []tailRow
				err  error
			)
			if page, from, full, err = readTail(ctx, tx, from, to); err == nil {
				err = add(page)
			}
			if err != nil {
				return fmt.Errorf("fold: %w", err)
			}
		}
	}
	for _, ws := range slices.Sorted(maps.Keys(byWS)) {
		if err := writeRollups(ctx, tx, s.upserts, ws, byWS[ws]); err != nil {
			return fmt.Errorf("fold: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE rollup_state SET rolled_to = ?, generation = generation + 1 WHERE id = 1`, to); err != nil {
		return fmt.Errorf("fold: %w", err)
	}
	return nil
}

// pendingTail is the tail as this store appended it, so that a fold need
// not read it back: valid while it holds every event of (from, upto] of
// its generation, that is while no other process appended, folded or
// purged. It is lost with the process, and then read from the events.
type pendingTail struct {
	mu sync.Mutex
	tailSpan
}

type tailSpan struct {
	valid                  bool
	generation, from, upto int64
	// The calls without pointers, their combos apart: a tail of 100,000
	// calls grows and sits in memory without the collector walking it.
	rows []spanRow
	comboSet
}

type spanRow struct {
	ws, timeMS, status, timingMS int64
	combo                        int32
}

// newSpan starts a span with room for size calls.
func newSpan(valid bool, generation, from, upto, size int64) tailSpan {
	return tailSpan{valid: valid, generation: generation, from: from, upto: upto, rows: make([]spanRow, 0, min(size, 1<<20))}
}

// add adds calls (tailRows), up to rowid upto.
func (p *tailSpan) add(calls []tailRow, upto int64) {
	for _, r := range calls {
		p.rows = append(p.rows, spanRow{ws: r.ws, timeMS: r.timeMS, status: r.status, timingMS: r.timingMS, combo: p.id(r.combo)})
	}
	p.upto = upto
}

// tailRows is the span's calls as a fold reads them.
func (p *tailSpan) tailRows() []tailRow {
	out := make([]tailRow, len(p.rows))
	for i, r := range p.rows {
		out[i] = tailRow{ws: r.ws, timeMS: r.timeMS, status: r.status, timingMS: r.timingMS, combo: p.combos[r.combo]}
	}
	return out
}

// holds reports whether p is the whole tail of st up to rowid upto.
func (p *tailSpan) holds(st rollupState, upto int64) bool {
	return p.valid && p.generation == st.generation && p.from == st.rolledTo && p.upto == upto
}

// tailRows is the api_request events of a batch as the tail keeps them.
func tailRows(workspaceID int64, events []*usage.Event) []tailRow {
	rows := make([]tailRow, 0, len(events))
	for _, e := range events {
		if !isSelf(e) {
			rows = append(rows, tailRow{ws: workspaceID, timeMS: e.Time.UnixMilli(), status: int64(e.Status), timingMS: e.TimingMS, combo: comboOf(e)})
		}
	}
	return rows
}

// tailCache is what this process has read of the tail, for summaries: the
// events of (rolledTo, upto] of one generation, by workspace, in rowid
// order. A summary's read transaction adds what other transactions stored
// since, and reads only the events its snapshot holds.
type tailCache struct {
	mu sync.Mutex
	tail
}

type tail struct {
	generation int64
	upto       int64
	valid      bool
	byWS       map[int64]*tailWorkspace
}

func newTail(st rollupState) tail {
	return tail{generation: st.generation, upto: st.rolledTo, valid: true, byWS: map[int64]*tailWorkspace{}}
}

type tailWorkspace struct {
	events []tailEvent
	comboSet
}

func (w *tailWorkspace) add(r *tailRow) {
	w.events = append(w.events, tailEvent{rowid: r.rowid, timeMS: r.timeMS, status: int32(max(r.status, 0)),
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

// tailOf returns the workspace's tail as tx's snapshot holds it: events in
// rowid order, and the combos they index. What it returns is never
// changed afterwards.
func (s *Store) tailOf(ctx context.Context, tx *sql.Tx, workspaceID int64) ([]tailEvent, []combo, error) {
	st, top, err := readTailBounds(ctx, tx)
	if err != nil {
		return nil, nil, err
	}
	c := &s.tail
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.valid || st.generation > c.generation {
		c.tail = newTail(st)
	}
	if st.generation != c.generation {
		// An older snapshot than the cache's: read its tail on its own.
		own := newTail(st)
		if err := own.extend(ctx, tx, top); err != nil {
			return nil, nil, err
		}
		return own.of(workspaceID, top)
	}
	if err := c.extend(ctx, tx, top); err != nil {
		// What was read before the error is whole events: keep it, and
		// read the rest next time.
		return nil, nil, err
	}
	return c.of(workspaceID, top)
}

// extend reads the tail's events above c.upto up to top.
func (c *tail) extend(ctx context.Context, tx *sql.Tx, top int64) error {
	for full := top > c.upto; full; {
		page, last, more, err := readTail(ctx, tx, c.upto, top)
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

// of returns the workspace's events up to rowid top: slices that later
// appends do not change.
func (c *tail) of(workspaceID, top int64) ([]tailEvent, []combo, error) {
	w := c.byWS[workspaceID]
	if w == nil {
		return nil, nil, nil
	}
	n := sort.Search(len(w.events), func(i int) bool { return w.events[i].rowid > top })
	return slices.Clip(w.events[:n]), slices.Clip(w.combos), nil
}
