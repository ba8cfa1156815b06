package export

import (
	"context"
	"io"
	"iter"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/usagelog/usagelog/internal/storetest"
)

// memoryRows is an in-memory source of n api_request events: a cycle over
// 1,000 varied events, so the writers, not a store, are measured.
func memoryRows(n int) iter.Seq2[Event, error] {
	pool := storetest.Fixture(1000)
	return func(yield func(Event, error) bool) {
		for i := range n {
			e := &pool[i%len(pool)]
			e.Time = e.Time.Add(time.Second)
			if !yield(e, nil) {
				return
			}
		}
	}
}

var benchReports = []*Definition[Event]{APILogs, APIUsage}

// BenchmarkCSV formats and writes rows from memory; the target is
// 1,000,000 rows/s.
func BenchmarkCSV(b *testing.B) {
	for _, d := range benchReports {
		b.Run(d.Name, func(b *testing.B) {
			benchWrite(b, d, 200_000, func(w io.Writer) RowWriter { return NewCSV(w) })
		})
	}
}

// BenchmarkXLSX writes the same rows with this package's streaming
// workbook writer and with excelize's StreamWriter, side by side. The
// issue's target is 5× excelize's rows/s.
func BenchmarkXLSX(b *testing.B) {
	writers := []struct {
		name string
		new  func(io.Writer) RowWriter
	}{
		{"usagelog", func(w io.Writer) RowWriter { return NewXLSX(w, "report") }},
		{"excelize", func(w io.Writer) RowWriter { return newExcelize(w) }},
	}
	const rows = 100_000
	for _, d := range benchReports {
		for _, w := range writers {
			b.Run(d.Name+"/"+w.name, func(b *testing.B) {
				benchWrite(b, d, rows, w.new)
			})
		}
	}
}

// BenchmarkJSON writes rows as NDJSON from memory.
func BenchmarkJSON(b *testing.B) {
	for _, d := range benchReports {
		b.Run(d.Name, func(b *testing.B) {
			benchWrite(b, d, 200_000, func(w io.Writer) RowWriter { return NewJSON(w, true) })
		})
	}
}

func benchWrite(b *testing.B, d *Definition[Event], rows int, newWriter func(io.Writer) RowWriter) {
	ctx := context.Background()
	cw := &countingWriter{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n, err := Write(ctx, d, memoryRows(rows), time.UTC, newWriter(cw), nil)
		if err != nil || n != rows {
			b.Fatalf("%d rows, %v", n, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(cw.n)/float64(b.N)/float64(rows), "bytes/row")
}

// BenchmarkExportMemory writes 2,000,000 rows in each format and reports
// the peak of the live heap while it runs (sampled every 5 ms): it must
// stay flat, far under the 100 MB, however many rows go out.
func BenchmarkExportMemory(b *testing.B) {
	const rows = 2_000_000
	for _, f := range Formats {
		b.Run(string(f), func(b *testing.B) {
			peak := storetest.PeakHeap()
			benchWrite(b, APILogs, rows, func(w io.Writer) RowWriter { return NewWriter(f, w, "api-logs") })
			b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
		})
	}
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// excelizeWriter writes the same cells as XLSX, with excelize's
// StreamWriter: inline cells, dates as serial numbers with a number format.
type excelizeWriter struct {
	out    io.Writer
	f      *excelize.File
	sw     *excelize.StreamWriter
	fields []Field
	styles []int
	row    []any
	r      int
}

func newExcelize(w io.Writer) *excelizeWriter { return &excelizeWriter{out: w, f: excelize.NewFile()} }

func (x *excelizeWriter) WriteHeader(fields []Field) error {
	sw, err := x.f.NewStreamWriter("Sheet1")
	if err != nil {
		return err
	}
	x.sw, x.fields = sw, fields
	x.styles = make([]int, len(fields))
	x.row = make([]any, len(fields))
	for i, f := range fields {
		x.row[i] = f.Header
		if f.Kind == Time && f.Excel != "" {
			format := f.Excel
			if x.styles[i], err = x.f.NewStyle(&excelize.Style{CustomNumFmt: &format}); err != nil {
				return err
			}
		}
	}
	x.r = 1
	return x.sw.SetRow("A1", x.row)
}

func (x *excelizeWriter) WriteRow(vals []Value) error {
	for i, f := range x.fields {
		v := &vals[i]
		switch {
		case v.Null:
			x.row[i] = nil
		case f.Kind == Number:
			x.row[i] = v.N
		case f.Kind == Time && f.Excel != "":
			x.row[i] = excelize.Cell{StyleID: x.styles[i], Value: serial(v)}
		case f.Kind == Time:
			x.row[i] = v.T.Format(f.Layout)
		default:
			x.row[i] = Neutralize(v.S)
		}
	}
	x.r++
	cell, err := excelize.CoordinatesToCellName(1, x.r)
	if err != nil {
		return err
	}
	return x.sw.SetRow(cell, x.row)
}

func (x *excelizeWriter) Close() error {
	if err := x.sw.Flush(); err != nil {
		return err
	}
	_, err := x.f.WriteTo(x.out)
	x.f.Close()
	return err
}
