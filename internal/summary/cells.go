package summary

import (
	"cmp"
	"encoding/binary"
	"errors"
	"slices"
)

// Cell is the calls of one combination of filterable fields (a store's
// combo id), one status and one timing bucket, in one bucket of time.
// Stores that keep a bucket's cells in one value (SQLite) encode them with
// AppendCells and add two encodings up with MergeCells.
type Cell struct {
	Combo  uint64
	Status uint64
	Timing uint64 // TimingBucket
	Calls  uint64
}

func compareCells(a, b Cell) int {
	if a.Combo != b.Combo {
		return cmp.Compare(a.Combo, b.Combo)
	}
	if a.Status != b.Status {
		return cmp.Compare(a.Status, b.Status)
	}
	return cmp.Compare(a.Timing, b.Timing)
}

// SortCells sorts cells by combo, status and timing and adds up those of
// one key, as AppendCells wants them.
func SortCells(cells []Cell) []Cell {
	slices.SortFunc(cells, compareCells)
	out := cells[:0]
	for _, c := range cells {
		if n := len(out); n > 0 && compareCells(out[n-1], c) == 0 {
			out[n-1].Calls += c.Calls
			continue
		}
		out = append(out, c)
	}
	return out
}

// AppendCells appends the encoding of sorted cells (SortCells): four
// uvarints a cell, the combo as the distance from the previous cell's.
func AppendCells(dst []byte, cells []Cell) []byte {
	prev := uint64(0)
	for _, c := range cells {
		dst = appendCell(dst, c, prev)
		prev = c.Combo
	}
	return dst
}

// appendCell appends one cell, after a cell of combo prev.
func appendCell(dst []byte, c Cell, prev uint64) []byte {
	dst = binary.AppendUvarint(dst, c.Combo-prev)
	dst = binary.AppendUvarint(dst, c.Status)
	dst = binary.AppendUvarint(dst, c.Timing)
	return binary.AppendUvarint(dst, c.Calls)
}

var errCells = errors.New("summary: malformed rollup cells")

// CellReader reads encoded cells one at a time.
type CellReader struct {
	p    []byte
	prev uint64
	err  error
}

// NewCellReader reads the cells of p.
func NewCellReader(p []byte) CellReader { return CellReader{p: p} }

// Next reads the next cell; false at the end or on malformed input (Err).
func (r *CellReader) Next(c *Cell) bool {
	if len(r.p) == 0 || r.err != nil {
		return false
	}
	// Uvarints of one and two bytes (combo steps, statuses, most timing
	// buckets and counts) are read inline: summaries read millions of
	// cells.
	p := r.p
	var v [4]uint64
	i := 0
	for k := range v {
		switch {
		case i < len(p) && p[i] < 0x80:
			v[k] = uint64(p[i])
			i++
		case i+1 < len(p) && p[i+1] < 0x80:
			v[k] = uint64(p[i]&0x7f) | uint64(p[i+1])<<7
			i += 2
		default:
			x, n := binary.Uvarint(p[i:])
			if n <= 0 {
				r.err = errCells
				return false
			}
			v[k] = x
			i += n
		}
	}
	r.p = p[i:]
	r.prev += v[0]
	*c = Cell{Combo: r.prev, Status: v[1], Timing: v[2], Calls: v[3]}
	return true
}

// Err is the reader's error, nil at a clean end.
func (r *CellReader) Err() error { return r.err }

// MergeCells adds two encodings up into a new one: the SQLite store's
// usagelog_cells_merge, which its upserts call. A malformed side counts as
// empty, so that one damaged value cannot fail every later insert.
func MergeCells(a, b []byte) []byte {
	out := make([]byte, 0, len(a)+len(b))
	ra, rb := NewCellReader(a), NewCellReader(b)
	var ca, cb Cell
	okA, okB := ra.Next(&ca), rb.Next(&cb)
	prev := uint64(0)
	emit := func(c Cell) {
		out = appendCell(out, c, prev)
		prev = c.Combo
	}
	for okA || okB {
		switch {
		case !okB || okA && compareCells(ca, cb) < 0:
			emit(ca)
			okA = ra.Next(&ca)
		case !okA || compareCells(cb, ca) < 0:
			emit(cb)
			okB = rb.Next(&cb)
		default:
			// A negative count (two's complement: an erasure takes calls
			// out) wraps back; a cell that comes to nothing goes.
			if ca.Calls += cb.Calls; ca.Calls != 0 {
				emit(ca)
			}
			okA, okB = ra.Next(&ca), rb.Next(&cb)
		}
	}
	if ra.Err() != nil && rb.Err() == nil {
		return MergeCells(nil, b)
	}
	if rb.Err() != nil && ra.Err() == nil {
		return MergeCells(a, nil)
	}
	if ra.Err() != nil && rb.Err() != nil {
		return nil
	}
	return out
}

// An hour's quarters encoding holds the cells of each of its four quarter
// hours: per quarter, the length of its cells' encoding (a uvarint) and
// the encoding. Stores that keep an hour in one row (SQLite) read whole
// hours from it, and the quarter hours at a window's edges.

// AppendQuarters appends the encoding of the four quarter hours' sorted
// cells (SortCells).
func AppendQuarters(dst []byte, quarters *[4][]Cell) []byte {
	var buf []byte
	for _, cells := range quarters {
		buf = AppendCells(buf[:0], cells)
		dst = binary.AppendUvarint(dst, uint64(len(buf)))
		dst = append(dst, buf...)
	}
	return dst
}

// SplitQuarters returns the cell encodings of an hour's four quarter
// hours.
func SplitQuarters(p []byte) ([4][]byte, error) {
	var out [4][]byte
	for i := range out {
		if len(p) == 0 {
			break
		}
		n, k := binary.Uvarint(p)
		if k <= 0 || n > uint64(len(p)-k) {
			return out, errCells
		}
		out[i], p = p[k:k+int(n)], p[k+int(n):]
	}
	if len(p) > 0 {
		return out, errCells
	}
	return out, nil
}

// MergeQuarters adds two quarters encodings up, quarter by quarter: the
// SQLite store's usagelog_quarters_merge. A malformed side counts as
// empty, as in MergeCells.
func MergeQuarters(a, b []byte) []byte {
	qa, errA := SplitQuarters(a)
	qb, errB := SplitQuarters(b)
	if errA != nil {
		qa = [4][]byte{}
	}
	if errB != nil {
		qb = [4][]byte{}
	}
	out := make([]byte, 0, len(a)+len(b))
	for i := range qa {
		m := MergeCells(qa[i], qb[i])
		out = binary.AppendUvarint(out, uint64(len(m)))
		out = append(out, m...)
	}
	return out
}

// HourCells are the encodings of an hour's row, from its quarter hours'
// cells.
type HourCells struct {
	// Counts are the calls by combo and status (Timing 0).
	Counts []byte
	// Timings are the calls by timing bucket (Combo and Status 0).
	Timings []byte
	// Quarters are the cells of each quarter hour (AppendQuarters).
	Quarters []byte
}

// EncodeHour encodes an hour's row from its quarter hours' sorted cells
// (SortCells).
func EncodeHour(quarters *[4][]Cell) HourCells {
	var r HourCells
	size := 0
	for _, cells := range quarters {
		size += len(cells)
	}
	r.Quarters = AppendQuarters(make([]byte, 0, 6*size+8), quarters)
	counts := make([]Cell, 0, size)
	var byTiming []uint64
	for _, cells := range quarters {
		for _, c := range cells {
			counts = append(counts, Cell{Combo: c.Combo, Status: c.Status, Calls: c.Calls})
			if c.Timing >= uint64(len(byTiming)) {
				byTiming = slices.Grow(byTiming, int(c.Timing)+1-len(byTiming))[:c.Timing+1]
			}
			byTiming[c.Timing] += c.Calls
		}
	}
	counts = SortCells(counts)
	r.Counts = AppendCells(make([]byte, 0, 4*len(counts)), counts)
	timings := make([]Cell, 0, 64)
	for tb, n := range byTiming {
		if n > 0 {
			timings = append(timings, Cell{Timing: uint64(tb), Calls: n})
		}
	}
	r.Timings = AppendCells(make([]byte, 0, 4*len(timings)), timings)
	return r
}
