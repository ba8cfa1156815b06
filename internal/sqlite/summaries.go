package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// cellsMergeFunc is the SQL function, registered on every connection
// (driver_*.go), that adds two encodings of rollup cells up.
const cellsMergeFunc = "usagelog_cells_merge"

// quartersMergeFunc adds two encodings of an hour's quarter hours up.
const quartersMergeFunc = "usagelog_quarters_merge"

var _ summary.Source = (*Store)(nil)

// A rollup row is an hour, which keeps the cells of each of its quarter
// hours, so that every zone's local hours and days are whole buckets, and
// a summary of 90 days reads a row an hour.

// combo is one combination of the filterable fields of a call.
type combo struct {
	client, collection, collectionType, community string
	usageType                                     usage.Type
}

func comboOf(e *usage.Event) combo {
	return combo{e.Client, e.Collection, e.CollectionType, e.Community, e.UsageType}
}

// combos caches each workspace's combo ids; ids written by a transaction
// not yet committed are pending until it is.
type combos struct {
	mu      sync.Mutex
	ids     map[int64]map[combo]int64
	pending map[int64]map[combo]int64
}

// rollups adds events, stored in tx, to the workspace's rollups: one row
// an hour, with the cells of each of its quarter hours. upserts are the
// prepared upserts to use: the store's, or during its migration the
// transaction's own.
func (s *Store) rollups(ctx context.Context, tx *sql.Tx, upserts []*sql.Stmt, workspaceID int64, events []*usage.Event) error {
	cells := hourCells{}
	if err := s.addCells(ctx, tx, workspaceID, tailRows(workspaceID, events), cells); err != nil {
		return err
	}
	return writeRollups(ctx, tx, upserts, workspaceID, cells)
}

// hourCells is the rollup cells of some events of a workspace, by hour and
// quarter hour.
type hourCells map[int64]*[4][]summary.Cell

// addCells adds the cells of a workspace's calls to hours, giving new
// combos their ids in tx.
func (s *Store) addCells(ctx context.Context, tx *sql.Tx, workspaceID int64, calls []tailRow, hours hourCells) error {
	if len(calls) == 0 {
		return nil
	}
	ids, err := s.comboIDs(ctx, tx, workspaceID, calls)
	if err != nil {
		return err
	}
	var (
		lastHour int64
		quarters *[4][]summary.Cell
	)
	for i, e := range calls {
		t := e.timeMS
		h := summary.Floor(t, summary.HourMS)
		if quarters == nil || h != lastHour {
			if quarters = hours[h]; quarters == nil {
				quarters = new([4][]summary.Cell)
				hours[h] = quarters
			}
			lastHour = h
		}
		q := (t - h) / summary.QuarterMS
		quarters[q] = append(quarters[q], summary.Cell{Combo: ids[i], Status: uint64(max(e.status, 0)),
			Timing: uint64(summary.TimingBucket(e.timingMS)), Calls: 1})
	}
	return nil
}

// writeRollups adds hours to the workspace's rollup rows, in hour order.
func writeRollups(ctx context.Context, tx *sql.Tx, upserts []*sql.Stmt, workspaceID int64, hours hourCells) error {
	const width = 5 // columns of an upsert's row
	args := make([]any, 0, width*len(hours))
	for _, h := range slices.Sorted(maps.Keys(hours)) {
		quarters := hours[h]
		for i := range quarters {
			quarters[i] = summary.SortCells(quarters[i])
		}
		r := summary.EncodeHour(quarters)
		args = append(args, workspaceID, h, r.Counts, r.Timings, r.Quarters)
	}
	for i, size := range upsertSizes {
		for len(args) >= width*size {
			if _, err := tx.StmtContext(ctx, upserts[i]).ExecContext(ctx, args[:width*size]...); err != nil {
				return fmt.Errorf("rollups: %w", err)
			}
			args = args[width*size:]
		}
	}
	return nil
}

// comboIDs returns the combo id of each event in the workspace, adding
// new combos in tx.
func (s *Store) comboIDs(ctx context.Context, tx *sql.Tx, workspaceID int64, calls []tailRow) ([]uint64, error) {
	s.combos.mu.Lock()
	defer s.combos.mu.Unlock()
	known, pending := s.combos.ids[workspaceID], s.combos.pending[workspaceID]
	out := make([]uint64, len(calls))
	var last combo
	lastID := int64(-1)
	for i := range calls {
		c := calls[i].combo
		if lastID < 0 || c != last {
			id, ok := known[c]
			if !ok {
				if id, ok = pending[c]; !ok {
					var err error
					if id, err = addCombo(ctx, tx, workspaceID, c); err != nil {
						return nil, err
					}
					if pending == nil {
						pending = map[combo]int64{}
						s.combos.pending[workspaceID] = pending
					}
					pending[c] = id
				}
			}
			last, lastID = c, id
		}
		out[i] = uint64(lastID)
	}
	return out, nil
}

// addCombo returns the id of c in the workspace, adding it in tx when new.
func addCombo(ctx context.Context, tx *sql.Tx, workspaceID int64, c combo) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM rollup_combos WHERE workspace_id = ? AND client = ? AND collection = ?
		AND collection_type = ? AND community = ? AND usage_type = ?`,
		workspaceID, c.client, c.collection, c.collectionType, c.community, string(c.usageType)).Scan(&id)
	if err == sql.ErrNoRows {
		var res sql.Result
		res, err = tx.ExecContext(ctx, `INSERT INTO rollup_combos (workspace_id, client, collection, collection_type, community, usage_type)
			VALUES (?, ?, ?, ?, ?, ?)`, workspaceID, c.client, c.collection, c.collectionType, c.community, string(c.usageType))
		if err == nil {
			id, err = res.LastInsertId()
		}
	}
	if err != nil {
		return 0, fmt.Errorf("rollup combo: %w", err)
	}
	return id, nil
}

// settleCombos keeps the ids of a committed transaction, or forgets those
// of one rolled back.
func (s *Store) settleCombos(committed bool) {
	s.combos.mu.Lock()
	defer s.combos.mu.Unlock()
	if committed {
		for ws, m := range s.combos.pending {
			if s.combos.ids[ws] == nil {
				s.combos.ids[ws] = map[combo]int64{}
			}
			for c, id := range m {
				s.combos.ids[ws][c] = id
			}
		}
	}
	clear(s.combos.pending)
}

// upsertSizes are the row counts of the prepared rollup upserts: full
// upserts of the first, the rest in halves. They are prepared when the
// store opens: the transaction that writes rollups holds the one write
// connection.
var upsertSizes = []int{64, 32, 16, 8, 4, 2, 1}

// prepareUpserts prepares the rollup upserts on db, one per size.
func prepareUpserts(ctx context.Context, db interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}) ([]*sql.Stmt, error) {
	var out []*sql.Stmt
	for _, n := range upsertSizes {
		q := "INSERT INTO rollups (workspace_id, hour_ms, counts, timings, quarters) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?), ", n), ", ") +
			" ON CONFLICT (workspace_id, hour_ms) DO UPDATE SET" +
			// An hour an erasure emptied merges to no cells, which the
			// driver gives as NULL: an empty blob instead.
			" counts = coalesce(" + cellsMergeFunc + "(counts, excluded.counts), x'')," +
			" timings = coalesce(" + cellsMergeFunc + "(timings, excluded.timings), x'')," +
			" quarters = coalesce(" + quartersMergeFunc + "(quarters, excluded.quarters), x'')"
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			for _, st := range out {
				st.Close()
			}
			return nil, fmt.Errorf("prepare rollups: %w", err)
		}
		out = append(out, st)
	}
	return out, nil
}

func isSelf(e *usage.Event) bool { return e.Collection == usage.SelfCollection }

// rebuildRollups computes the rollups of every stored event of kind
// (api_request or sync), in tx: a store made before them gets them once,
// when the migration that creates their tables runs. It reads the events
// in pages, so that reads and writes on the transaction's connection never
// interleave.
func (s *Store) rebuildRollups(ctx context.Context, tx *sql.Tx, kind usage.Kind) error {
	each := func(ws int64, evs []*usage.Event) error { return syncRollups(ctx, tx, ws, evs) }
	fields := syncFields
	if kind == usage.KindAPIRequest {
		upserts, err := prepareUpserts(ctx, tx)
		if err != nil {
			return err
		}
		defer func() {
			for _, st := range upserts {
				st.Close()
			}
		}()
		each = func(ws int64, evs []*usage.Event) error { return s.rollups(ctx, tx, upserts, ws, evs) }
		fields = []string{"id", "time", "status", "client", "collection", "collection_type", "community", "usage_type", "timing_ms"}
	}
	// The workspaces that hold events, one index seek each.
	var workspaces []int64
	for next := int64(math.MinInt64); ; {
		var ws sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT min(workspace_id) FROM events WHERE workspace_id > ?`, next).Scan(&ws); err != nil {
			return err
		}
		if !ws.Valid {
			break
		}
		workspaces = append(workspaces, ws.Int64)
		next = ws.Int64
	}
	// The merged events only: arrivals join the rollups as they merge.
	for _, ws := range workspaces {
		if err := pages(ctx, tx, ws, kind, fields, func(evs []*usage.Event) error { return each(ws, evs) }); err != nil {
			return err
		}
	}
	return nil
}

// pages reads a workspace's events of kind in tx, oldest first, a page at
// a time, and hands each page to each.
func pages(ctx context.Context, tx *sql.Tx, workspaceID int64, kind usage.Kind, fields []string, each func([]*usage.Event) error) error {
	cols, err := eventsql.Projection(eventsql.KindColumns(kind), fields)
	if err != nil {
		return err
	}
	const page = 50_000
	var (
		timeMS int64 = math.MinInt64
		id     string
	)
	for {
		query := "SELECT " + eventsql.Names(cols) + ` FROM events
			WHERE workspace_id = ? AND kind = ? AND (time_ms, id) > (?, ?) ORDER BY time_ms, id LIMIT ?`
		events, err := eventsql.Query(ctx, tx, kind, cols, query, []any{workspaceID, eventsql.KindCode(kind), timeMS, id, page})
		if err != nil {
			return err
		}
		ptrs := make([]*usage.Event, len(events))
		for i := range events {
			ptrs[i] = &events[i]
		}
		if err := each(ptrs); err != nil {
			return err
		}
		if len(events) < page {
			return nil
		}
		last := events[len(events)-1]
		timeMS, id = last.Time.UnixMilli(), last.ID
	}
}

// Rollup sums the workspace's rollups over q's buckets: whole hours from
// the hourly rows, the rest (a window's ends, and hours a bucket boundary
// cuts, in zones offset by a half or quarter hour) from the quarter-hour
// rows.
func (s *Store) Rollup(ctx context.Context, workspaceID int64, q summary.Query) (*summary.Rollup, error) {
	defer s.timed("rollup", time.Now())
	n := len(q.Bounds)
	r := summary.NewRollup(n - 1)
	if n < 2 || q.Bounds[0] >= q.Bounds[n-1] {
		return r, nil
	}
	// One snapshot for the rollups and the tail that is not in them yet.
	tx, err := s.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: rollup: %w", err)
	}
	defer tx.Rollback()
	a, err := newAggregate(ctx, tx, workspaceID, &q, r)
	if err != nil {
		return nil, fmt.Errorf("sqlite: rollup: %w", err)
	}
	d := a.decoder()
	for _, p := range plan(q.Bounds) {
		if err := readRollups(ctx, tx, workspaceID, p, a, d); err != nil {
			d.close()
			return nil, fmt.Errorf("sqlite: rollup: %w", err)
		}
	}
	if err := d.close(); err != nil {
		return nil, fmt.Errorf("sqlite: rollup: %w", err)
	}
	tail, combos, err := s.tailOf(ctx, tx, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: rollup: tail: %w", err)
	}
	a.addTail(tail, combos)
	a.finish()
	return r, nil
}

// plan is the rollup rows that cover bounds: runs of hours that lie in one
// bucket, and quarter hours for the rest.
func plan(bounds []int64) []summary.Piece {
	var out []summary.Piece
	add := func(g, from, to int64) {
		if from >= to {
			return
		}
		if n := len(out); n > 0 && out[n-1].Grain == g && out[n-1].To == from {
			out[n-1].To = to
			return
		}
		out = append(out, summary.Piece{Grain: g, From: from, To: to})
	}
	for i := 0; i+1 < len(bounds); i++ {
		lo, hi := bounds[i], bounds[i+1]
		h0, h1 := summary.Ceil(lo, summary.HourMS), summary.Floor(hi, summary.HourMS)
		if h0 >= h1 {
			add(summary.QuarterMS, lo, hi)
			continue
		}
		add(summary.QuarterMS, lo, h0)
		add(summary.HourMS, h0, h1)
		add(summary.QuarterMS, h1, hi)
	}
	return out
}

// readRollups adds the rows of piece p: whole hours, or the quarter hours
// of the hours it touches that lie in it. Rows of cells go to d, which
// decodes them beside the reading.
func readRollups(ctx context.Context, tx *sql.Tx, workspaceID int64, p summary.Piece, a *aggregate, d *decoder) error {
	// Unfiltered hours read their counts and timings, summed over every
	// combo already; facets, filtered or not, only the counts by combo
	// and status, which the filter sorts; the rest reads every cell.
	cells := p.Grain != summary.HourMS || (a.filtered && !a.q.DimsOnly)
	cols := "counts, timings"
	switch {
	case cells:
		cols = "quarters, x''"
	case a.q.DimsOnly:
		cols = "counts, x''"
	}
	rows, err := tx.QueryContext(ctx, `SELECT hour_ms, `+cols+` FROM rollups
		WHERE workspace_id = ? AND hour_ms >= ? AND hour_ms < ?`, workspaceID, summary.Floor(p.From, summary.HourMS), p.To)
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		hour     int64
		one, two sql.RawBytes
	)
	for rows.Next() {
		if err := rows.Scan(&hour, &one, &two); err != nil {
			return err
		}
		if !cells {
			if err := a.add(&a.tallies, a.q.Bucket(hour), one, two); err != nil {
				return err
			}
			continue
		}
		if err := d.decode(hour, p, one); err != nil {
			return err
		}
	}
	return rows.Err()
}

// decoder decodes rows of quarter-hour cells on another goroutine while
// the reader reads the next rows (reading a row's blob out of SQLite and
// decoding it cost about the same); when that goroutine is behind, the
// reader decodes the row itself. Each keeps tallies of its own, added up
// at close.
type decoder struct {
	a    *aggregate
	rows chan quarterRow
	free chan []byte
	done chan error
	own  *tallies // the worker's
}

type quarterRow struct {
	hour  int64
	piece summary.Piece
	cells []byte
}

func (a *aggregate) decoder() *decoder {
	d := &decoder{a: a, rows: make(chan quarterRow, 8), free: make(chan []byte, 10), done: make(chan error, 1), own: a.newTallies()}
	go func() {
		var err error
		for row := range d.rows {
			if err == nil {
				err = a.addQuarters(d.own, row.hour, row.piece, row.cells)
			}
			select {
			case d.free <- row.cells[:0]:
			default:
			}
		}
		d.done <- err
	}()
	return d
}

// decode adds a row's quarter hours that lie in p.
func (d *decoder) decode(hour int64, p summary.Piece, cells []byte) error {
	var buf []byte
	select {
	case buf = <-d.free:
	default:
	}
	row := quarterRow{hour, p, append(buf, cells...)}
	select {
	case d.rows <- row:
		return nil
	default:
		err := d.a.addQuarters(&d.a.tallies, hour, p, row.cells)
		select {
		case d.free <- row.cells[:0]:
		default:
		}
		return err
	}
}

// close waits for the worker and adds its tallies to the aggregate's.
func (d *decoder) close() error {
	close(d.rows)
	if err := <-d.done; err != nil {
		return err
	}
	d.a.tallies.merge(d.own)
	return nil
}

// aggregate adds rollup cells up for one query: by combo id while it
// reads, into the rollup's named dimensions at the end.
type aggregate struct {
	q        *summary.Query
	filtered bool
	combos   []comboInfo // by id
	ids      map[combo]uint64
	// comboFilter is the query's filter without its statuses and window:
	// what a combo must pass.
	comboFilter usage.LogFilter
	// statusPass is by HTTP status, which ingest keeps to 100-599:
	// whether the query's filter keeps it.
	statusPass [600]bool
	tallies
}

type comboInfo struct {
	combo
	known bool
	pass  bool // the combo passes the query's filter
}

// tallies are what cells add up to: the rollup's buckets and timings, and
// calls by combo and by status.
type tallies struct {
	r      *summary.Rollup
	combos []summary.Tally // by combo id
	status [600]summary.Tally
}

func (a *aggregate) newTallies() *tallies {
	return &tallies{r: summary.NewRollup(len(a.r.Buckets)), combos: make([]summary.Tally, len(a.combos))}
}

// merge adds o up into t.
func (t *tallies) merge(o *tallies) {
	t.r.Merge(o.r)
	for i, c := range o.combos {
		t.combos[i].Calls += c.Calls
		t.combos[i].Errors += c.Errors
	}
	for i, c := range o.status {
		t.status[i].Calls += c.Calls
		t.status[i].Errors += c.Errors
	}
}

func newAggregate(ctx context.Context, tx *sql.Tx, workspaceID int64, q *summary.Query, r *summary.Rollup) (*aggregate, error) {
	a := &aggregate{q: q, filtered: q.Filtered(), ids: map[combo]uint64{}, tallies: tallies{r: r}}
	rows, err := tx.QueryContext(ctx, `SELECT id, client, collection, collection_type, community, usage_type FROM rollup_combos WHERE workspace_id = ?`, workspaceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	a.comboFilter = q.Filter
	a.comboFilter.Statuses, a.comboFilter.StatusClasses, a.comboFilter.From, a.comboFilter.To = nil, nil, time.Time{}, time.Time{}
	for rows.Next() {
		var id uint64
		var c combo
		var ut string
		if err := rows.Scan(&id, &c.client, &c.collection, &c.collectionType, &c.community, &ut); err != nil {
			return nil, err
		}
		c.usageType = usage.Type(ut)
		a.know(id, c)
	}
	// The statuses the filter keeps, as LogFilter.Match tells.
	sf := usage.LogFilter{Statuses: q.Filter.Statuses, StatusClasses: q.Filter.StatusClasses}
	for st := range a.statusPass {
		a.statusPass[st] = sf.Match(&usage.Event{Kind: usage.KindAPIRequest, Status: st})
	}
	return a, rows.Err()
}

// know gives combo c the id id in the tallies.
func (a *aggregate) know(id uint64, c combo) {
	e := usage.Event{Kind: usage.KindAPIRequest, Client: c.client, Collection: c.collection, CollectionType: c.collectionType,
		Community: c.community, UsageType: c.usageType}
	for uint64(len(a.combos)) <= id {
		a.combos = append(a.combos, comboInfo{})
		a.tallies.combos = append(a.tallies.combos, summary.Tally{})
	}
	a.combos[id] = comboInfo{combo: c, known: true, pass: a.comboFilter.Match(&e)}
	a.ids[c] = id
}

// addTail adds the events not in the rollups yet, each in the bucket of
// its quarter hour, as the quarter-hour rows would count it.
func (a *aggregate) addTail(events []tailEvent, combos []combo) {
	ids := make([]uint64, len(combos))
	for i, c := range combos {
		id, ok := a.ids[c]
		if !ok {
			id = uint64(len(a.combos))
			a.know(id, c)
		}
		ids[i] = id
	}
	first, end := a.q.Bounds[0], a.q.Bounds[len(a.q.Bounds)-1]
	for _, e := range events {
		t := summary.Floor(e.timeMS, summary.QuarterMS)
		if t < first || t >= end {
			continue
		}
		c := summary.Cell{Combo: ids[e.combo], Status: uint64(e.status), Timing: uint64(e.timing), Calls: 1}
		if a.count(&a.tallies, a.q.Bucket(t), &c) && !a.q.DimsOnly {
			a.r.Timing.Add(int(c.Timing), 1)
		}
	}
}

// add adds an unfiltered hour's counts (by combo and status) and timings
// (summed over every combo) to bucket, in t.
func (a *aggregate) add(t *tallies, bucket int, counts, timings []byte) error {
	cr := summary.NewCellReader(counts)
	var c summary.Cell
	for cr.Next(&c) {
		a.count(t, bucket, &c)
	}
	if err := cr.Err(); err != nil {
		return err
	}
	tr := summary.NewCellReader(timings)
	for tr.Next(&c) {
		t.r.Timing.Add(int(c.Timing), int64(c.Calls))
	}
	return tr.Err()
}

// addQuarters adds the quarter hours of an hour's row that lie in p to
// their buckets, in t.
func (a *aggregate) addQuarters(t *tallies, hour int64, p summary.Piece, row []byte) error {
	quarters, err := summary.SplitQuarters(row)
	if err != nil {
		return err
	}
	for i, q := range quarters {
		start := hour + int64(i)*summary.QuarterMS
		if start < p.From || start >= p.To {
			continue
		}
		if err := a.addCells(t, a.q.Bucket(start), q); err != nil {
			return err
		}
	}
	return nil
}

// addCells adds a quarter hour's cells by combo, status and timing to
// bucket, in t.
func (a *aggregate) addCells(t *tallies, bucket int, cells []byte) error {
	cr := summary.NewCellReader(cells)
	var c summary.Cell
	for cr.Next(&c) {
		if a.count(t, bucket, &c) && !a.q.DimsOnly {
			t.r.Timing.Add(int(c.Timing), int64(c.Calls))
		}
	}
	return cr.Err()
}

// count adds a cell's calls to bucket, its combo and its status in t, if
// the query keeps its combo and status; it reports whether it did.
func (a *aggregate) count(t *tallies, bucket int, c *summary.Cell) bool {
	if c.Combo >= uint64(len(a.combos)) || !a.combos[c.Combo].pass || c.Status >= uint64(len(a.statusPass)) || !a.statusPass[c.Status] {
		return false
	}
	n := summary.Tally{Calls: int64(c.Calls)}
	if c.Status >= 400 {
		n.Errors = n.Calls
	}
	add := func(to *summary.Tally) { to.Calls += n.Calls; to.Errors += n.Errors }
	add(&t.combos[c.Combo])
	add(&t.status[c.Status])
	if bucket >= 0 {
		add(&t.r.Buckets[bucket])
	}
	return true
}

func (a *aggregate) finish() {
	for id, ct := range a.combos {
		t := a.tallies.combos[id]
		if !ct.known || t.Calls == 0 {
			continue
		}
		if ct.usageType == usage.TypeMCP {
			a.r.MCP += t.Calls
		}
		a.r.AddDim(summary.DimClient, ct.client, t)
		a.r.AddDim(summary.DimCollection, ct.collection, t)
		a.r.AddDim(summary.DimCommunity, ct.community, t)
	}
	for st, t := range a.status {
		if t.Calls > 0 {
			a.r.AddStatus(st, t)
		}
	}
}

// Communities lists the communities the workspace's API calls name (not
// usagelog's own), from the rollups' combos and the calls waiting in
// arrivals: the export form's choices. A community whose calls retention has
// purged may still be listed; its export is empty.
func (s *Store) Communities(ctx context.Context, workspaceID int64) ([]string, error) {
	tx, err := s.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: communities: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT community FROM rollup_combos WHERE workspace_id = ? AND community != ''`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: communities: %w", err)
	}
	seen := map[string]bool{}
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: communities: %w", err)
		}
		seen[c] = true
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: communities: %w", err)
	}
	_, combos, err := s.tailOf(ctx, tx, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: communities: tail: %w", err)
	}
	for _, c := range combos {
		if c.community != "" && !seen[c.community] && c.collection != usage.SelfCollection {
			seen[c.community] = true
			out = append(out, c.community)
		}
	}
	return out, nil
}
