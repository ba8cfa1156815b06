package export

import (
	"bufio"
	"io"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
)

// JSON writes a report as a JSON array of objects, or as NDJSON (one object
// a line). Keys are the headers in snake case; numbers are numbers, times
// are strings in the report's layout, empty cells are null. Text is data
// here, not a spreadsheet cell, so it is written as it is.
type JSON struct {
	w      *bufio.Writer
	lines  bool
	keys   [][]byte // `"key":` per field
	fields []Field
	line   []byte
	rows   int
}

// NewJSON returns a JSON writer on w: an array, or NDJSON when lines is
// true.
func NewJSON(w io.Writer, lines bool) *JSON {
	return &JSON{w: bufio.NewWriterSize(w, 64<<10), lines: lines}
}

// WriteHeader records the keys; JSON has no header row.
func (j *JSON) WriteHeader(fields []Field) error {
	j.fields = fields
	j.keys = make([][]byte, len(fields))
	for i, f := range fields {
		k, _ := jsontext.AppendQuote(nil, f.Key())
		j.keys[i] = append(k, ':')
	}
	if !j.lines {
		return j.w.WriteByte('[')
	}
	return nil
}

// WriteRow writes one object.
func (j *JSON) WriteRow(vals []Value) error {
	b := j.line[:0]
	if !j.lines {
		if j.rows > 0 {
			b = append(b, ',')
		}
		b = append(b, '\n')
	}
	b = append(b, '{')
	for i, f := range j.fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, j.keys[i]...)
		v := &vals[i]
		switch {
		case v.Null:
			b = append(b, "null"...)
		case f.Kind == Number:
			b = strconv.AppendInt(b, v.N, 10)
		case f.Kind == Time:
			b = append(b, '"')
			b = v.T.AppendFormat(b, f.Layout)
			b = append(b, '"')
		default:
			// Invalid UTF-8 comes out as U+FFFD; the row is still written.
			if v.B != nil {
				b, _ = jsontext.AppendQuote(b, v.B)
			} else {
				b, _ = jsontext.AppendQuote(b, v.S)
			}
		}
	}
	b = append(b, '}')
	if j.lines {
		b = append(b, '\n')
	}
	j.line = b
	j.rows++
	_, err := j.w.Write(b)
	return err
}

// Close ends the array and writes out what is buffered.
func (j *JSON) Close() error {
	if !j.lines {
		if j.rows > 0 {
			j.w.WriteByte('\n')
		}
		j.w.WriteString("]\n")
	}
	return j.w.Flush()
}
