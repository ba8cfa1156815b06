// Package export turns streams of events into reports: a report is a
// definition (its source, the filters it takes, its columns), and writers
// stream its rows to CSV without holding the export in memory.
package export

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"strconv"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// CellKind says how a writer should type a cell.
type CellKind int

// Cell kinds.
const (
	Text CellKind = iota
	Number
	Time
)

// Column is one column of a report: its header, how its value is written
// and from which event field.
type Column struct {
	Header string
	Kind   CellKind
	Value  func(e *usage.Event, loc *time.Location) string
}

// Definition describes a report over api_request events.
type Definition struct {
	Name    string
	Columns []Column
	// Filters are the query parameters the report accepts besides the log
	// filters of usage.ParseLogFilter.
	Filters []string
}

// Headers returns the report's header row.
func (d *Definition) Headers() []string {
	out := make([]string, len(d.Columns))
	for i, c := range d.Columns {
		out[i] = c.Header
	}
	return out
}

// RowWriter receives a report's rows.
type RowWriter interface {
	WriteRow(cells []string, kinds []CellKind) error
	Flush() error
}

// Write streams every event of rows through d's columns into w, calling
// progress (if set) with the rows written so far every 10,000 rows. It
// returns the number of data rows written.
func Write(ctx context.Context, d *Definition, rows iter.Seq2[*usage.Event, error], loc *time.Location, w RowWriter, progress func(int)) (int, error) {
	kinds := make([]CellKind, len(d.Columns))
	for i, c := range d.Columns {
		kinds[i] = c.Kind
	}
	if err := w.WriteRow(d.Headers(), nil); err != nil {
		return 0, fmt.Errorf("export %s: %w", d.Name, err)
	}
	cells := make([]string, len(d.Columns))
	n := 0
	for e, err := range rows {
		if err != nil {
			return n, fmt.Errorf("export %s: %w", d.Name, err)
		}
		for i, c := range d.Columns {
			cells[i] = c.Value(e, loc)
		}
		if err := w.WriteRow(cells, kinds); err != nil {
			return n, fmt.Errorf("export %s: %w", d.Name, err)
		}
		n++
		if n%10_000 == 0 {
			if progress != nil {
				progress(n)
			}
			if err := ctx.Err(); err != nil {
				return n, err
			}
		}
	}
	if err := w.Flush(); err != nil {
		return n, fmt.Errorf("export %s: %w", d.Name, err)
	}
	if progress != nil {
		progress(n)
	}
	return n, nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// APILogs is the seed 002 CSV: every field of the logs table and the
// diagnostic ones.
var APILogs = &Definition{
	Name: "api-logs",
	Columns: []Column{
		{"Date", Time, func(e *usage.Event, loc *time.Location) string {
			return e.Time.In(loc).Format("2006-01-02T15:04:05.000Z07:00")
		}},
		{"Type", Text, func(e *usage.Event, _ *time.Location) string { return usage.TypeText(e.Status) }},
		{"Code", Number, func(e *usage.Event, _ *time.Location) string { return strconv.Itoa(e.Status) }},
		{"Status", Text, func(e *usage.Event, _ *time.Location) string { return http.StatusText(e.Status) }},
		{"Gateway code", Number, func(e *usage.Event, _ *time.Location) string {
			if e.GatewayCode == 0 {
				return ""
			}
			return strconv.Itoa(e.GatewayCode)
		}},
		{"Status details", Text, func(e *usage.Event, _ *time.Location) string { return e.StatusDetails }},
		{"IP", Text, func(e *usage.Event, _ *time.Location) string { return e.IP }},
		{"Timing", Number, func(e *usage.Event, _ *time.Location) string { return itoa(e.TimingMS) }},
		{"Delay", Number, func(e *usage.Event, _ *time.Location) string { return itoa(e.DelayMS) }},
		{"API collection", Text, func(e *usage.Event, _ *time.Location) string { return e.Collection }},
		{"Endpoint", Text, func(e *usage.Event, _ *time.Location) string { return e.Endpoint }},
		{"Client", Text, func(e *usage.Event, _ *time.Location) string { return e.Client }},
		{"Job details", Text, func(e *usage.Event, _ *time.Location) string { return e.JobURL }},
	},
}

// APIUsage is the seed 000 export of API actions.
var APIUsage = &Definition{
	Name:    "api-usage",
	Filters: []string{"type", "format"},
	Columns: []Column{
		{"ID", Text, func(e *usage.Event, _ *time.Location) string { return e.ID }},
		{"Community Name", Text, func(e *usage.Event, _ *time.Location) string { return e.Community }},
		{"Member Name", Text, func(e *usage.Event, _ *time.Location) string { return e.MemberName }},
		{"Timestamp", Time, func(e *usage.Event, loc *time.Location) string { return e.Time.In(loc).Format("01/02/2006 15:04") }},
		{"IP Address", Text, func(e *usage.Event, _ *time.Location) string { return e.IP }},
		{"URL", Text, func(e *usage.Event, _ *time.Location) string { return e.URL }},
		{"Remote System Info", Text, func(e *usage.Event, _ *time.Location) string {
			if e.UserAgent == "" {
				return "System: " + e.ClientClass.Label()
			}
			return "System: " + e.ClientClass.Label() + ", User-Agent: " + e.UserAgent
		}},
	},
}
