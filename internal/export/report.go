// Package export turns streams of rows into reports. A report is a
// definition — its source, the filters it takes, its columns — and writers
// (CSV, XLSX, JSON, NDJSON) stream its rows to an io.Writer without holding
// the export in memory.
package export

import (
	"context"
	"fmt"
	"io"
	"iter"
	"strings"
	"time"
)

// CellKind says how a writer types a cell.
type CellKind int

// Cell kinds.
const (
	Text CellKind = iota
	Number
	Time
)

// Field is what a writer needs to know about a column.
type Field struct {
	Header string
	Kind   CellKind
	// Layout is the Go time layout Time cells are written with in CSV and
	// JSON.
	Layout string
	// Excel is the number format of a Time cell in a workbook; empty
	// writes the Layout text instead (for times that carry an offset).
	Excel string
	// Width is the column's width in characters in a workbook, when the
	// writer knows the data (0: from the header).
	Width int
}

// Key is the field's name in JSON output: the header in snake case.
func (f Field) Key() string {
	return strings.ReplaceAll(strings.ToLower(f.Header), " ", "_")
}

// Value is one cell of a row. Writers read the text (S, or B when set),
// N or T by the field's kind; Null leaves the cell empty.
type Value struct {
	S string
	// B, when not nil, is a Text cell's text instead of S: text built for
	// the row (AppendTextColumn) in a buffer that the next row reuses, so a
	// writer must not keep it.
	B    []byte
	N    int64
	T    time.Time
	Null bool
}

// Text is a Text cell's text, as a string.
func (v *Value) Text() string {
	if v.B != nil {
		return string(v.B)
	}
	return v.S
}

// Column is one column of a report over rows of type R.
type Column[R any] struct {
	Field
	text       func(R) string
	appendText func([]byte, R) []byte
	num        func(R) (int64, bool)
	at         func(R) time.Time
}

// TextColumn is a column of strings.
func TextColumn[R any](header string, f func(R) string) Column[R] {
	return Column[R]{Field: Field{Header: header, Kind: Text}, text: f}
}

// AppendTextColumn is a column of text that f appends to dst, for text
// made of parts: a string built for each row was an allocation a row, and
// a sixth of the CPU of a million-row api-usage export.
func AppendTextColumn[R any](header string, f func(dst []byte, r R) []byte) Column[R] {
	return Column[R]{Field: Field{Header: header, Kind: Text}, appendText: f}
}

// NumberColumn is a column of integers; ok false leaves the cell empty.
func NumberColumn[R any](header string, f func(R) (n int64, ok bool)) Column[R] {
	return Column[R]{Field: Field{Header: header, Kind: Number}, num: f}
}

// TimeColumn is a column of instants, written in the export's timezone with
// layout, and in workbooks as dates with the excel number format (or as
// layout text when excel is empty).
func TimeColumn[R any](header, layout, excel string, f func(R) time.Time) Column[R] {
	return Column[R]{Field: Field{Header: header, Kind: Time, Layout: layout, Excel: excel}, at: f}
}

func (c *Column[R]) value(r R, loc *time.Location, v *Value) {
	buf := v.B[:0] // the last row's, reused
	*v = Value{}
	switch {
	case c.appendText != nil:
		v.B = c.appendText(buf, r)
		if v.B == nil {
			v.B = []byte{}
		}
	case c.Kind == Text:
		v.S = c.text(r)
	case c.Kind == Number:
		n, ok := c.num(r)
		v.N, v.Null = n, !ok
	case c.Kind == Time:
		t := c.at(r)
		if t.IsZero() {
			v.Null = true
		} else {
			v.T = t.In(loc)
		}
	}
}

// Definition describes a report over rows of type R.
type Definition[R any] struct {
	Name string
	// Source says where the rows come from, for documentation and errors.
	Source string
	// Aggregates is true when a row summarises many events.
	Aggregates bool
	// Reads names the event fields the columns use, so a store reads only
	// those columns (TestReportsReadOnlyWhatTheyDeclare checks it).
	Reads   []string
	Columns []Column[R]
}

// Fields returns the writers' view of the columns.
func (d *Definition[R]) Fields() []Field {
	out := make([]Field, len(d.Columns))
	for i, c := range d.Columns {
		out[i] = c.Field
	}
	return out
}

// RowWriter receives a report: one header, then rows whose values follow
// the header's fields. Close finishes the output; it does not close the
// io.Writer underneath.
type RowWriter interface {
	WriteHeader(fields []Field) error
	WriteRow(vals []Value) error
	Close() error
}

// Format is an output format.
type Format string

// Formats.
const (
	CSVFormat    Format = "csv"
	XLSXFormat   Format = "xlsx"
	JSONFormat   Format = "json"
	NDJSONFormat Format = "ndjson"
)

// Formats lists every format a report can be written in.
var Formats = []Format{CSVFormat, XLSXFormat, JSONFormat, NDJSONFormat}

// ParseFormat validates a format name; empty means CSV.
func ParseFormat(s string) (Format, error) {
	if s == "" {
		return CSVFormat, nil
	}
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown format %q (want csv, xlsx, json or ndjson)", s)
}

// ContentType is the media type of the format.
func (f Format) ContentType() string {
	switch f {
	case XLSXFormat:
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case JSONFormat:
		return "application/json"
	case NDJSONFormat:
		return "application/x-ndjson"
	case "zip":
		return "application/zip"
	}
	return "text/csv; charset=utf-8"
}

// NewWriter returns the format's writer on w; sheet names the workbook's
// sheet (XLSX only).
func NewWriter(f Format, w io.Writer, sheet string) RowWriter {
	switch f {
	case XLSXFormat:
		return NewXLSX(w, sheet)
	case JSONFormat:
		return NewJSON(w, false)
	case NDJSONFormat:
		return NewJSON(w, true)
	}
	return NewCSV(w)
}

// progressEvery is how many rows pass between progress calls and context
// checks.
const progressEvery = 10_000

// Write streams rows through d's columns into w, calling progress (if set)
// with the rows written so far every 10,000 rows and at the end. It
// returns the number of data rows written.
func Write[R any](ctx context.Context, d *Definition[R], rows iter.Seq2[R, error], loc *time.Location, w RowWriter, progress func(int)) (int, error) {
	if loc == nil {
		loc = time.UTC
	}
	if err := w.WriteHeader(d.Fields()); err != nil {
		return 0, fmt.Errorf("export %s: %w", d.Name, err)
	}
	vals := make([]Value, len(d.Columns))
	n := 0
	for r, err := range rows {
		if err != nil {
			return n, fmt.Errorf("export %s: %w", d.Name, err)
		}
		for i := range d.Columns {
			d.Columns[i].value(r, loc, &vals[i])
		}
		if err := w.WriteRow(vals); err != nil {
			return n, fmt.Errorf("export %s: %w", d.Name, err)
		}
		n++
		if n%progressEvery == 0 {
			if progress != nil {
				progress(n)
			}
			if err := ctx.Err(); err != nil {
				return n, err
			}
		}
	}
	if err := w.Close(); err != nil {
		return n, fmt.Errorf("export %s: %w", d.Name, err)
	}
	if progress != nil {
		progress(n)
	}
	return n, nil
}
