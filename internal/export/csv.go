package export

import (
	"io"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// CSV writes RFC 4180 CSV in UTF-8 with CRLF line ends, neutralising text
// cells that a spreadsheet would run as a formula (OWASP CSV injection).
// Its output is byte for byte encoding/csv's with UseCRLF
// (FuzzCSVMatchesEncodingCSV). It appends cells straight to its buffer,
// without a string per cell, and formats a time written to the minute once
// per minute. Against encoding/csv that made the api-usage CSV about four times
// as fast (BenchmarkCSV), and a million-row export from ClickHouse keep
// pace with clickhouse-client.
type CSV struct {
	w      io.Writer
	b      []byte // output not yet written to w
	err    error
	fields []Field
	times  []timeCell // by field, for Time fields
}

// csvFlush is how much output the writer gathers before writing it out.
const csvFlush = 256 << 10

// NewCSV returns a CSV writer on w.
func NewCSV(w io.Writer) *CSV {
	return &CSV{w: w, b: make([]byte, 0, csvFlush+4<<10)}
}

// WriteHeader writes the header row.
func (c *CSV) WriteHeader(fields []Field) error {
	c.fields = fields
	c.times = make([]timeCell, len(fields))
	for i, f := range fields {
		if i > 0 {
			c.b = append(c.b, ',')
		}
		c.b = appendText(c.b, f.Header)
		if f.Kind == Time {
			c.times[i] = timeCell{layout: compileLayout(f.Layout), minutes: toTheMinute(f.Layout)}
		}
	}
	c.b = append(c.b, "\r\n"...)
	return c.flush(false)
}

// WriteRow writes one row.
func (c *CSV) WriteRow(vals []Value) error {
	for i := range c.fields {
		if i > 0 {
			c.b = append(c.b, ',')
		}
		f, v := &c.fields[i], &vals[i]
		switch {
		case v.Null:
		case f.Kind == Number:
			c.b = strconv.AppendInt(c.b, v.N, 10)
		case f.Kind == Time:
			c.time(&c.times[i], v.T)
		case v.B != nil:
			c.b = appendText(c.b, v.B)
		default:
			c.b = appendText(c.b, v.S)
		}
	}
	c.b = append(c.b, "\r\n"...)
	return c.flush(false)
}

// flush writes the buffer out when it is full, or when all is set.
func (c *CSV) flush(all bool) error {
	if c.err == nil && (all || len(c.b) >= csvFlush) {
		_, c.err = c.w.Write(c.b)
		c.b = c.b[:0]
	}
	return c.err
}

// time writes t with the cell's layout.
func (c *CSV) time(m *timeCell, t time.Time) {
	u := t.Unix()
	if !m.minutes || u < m.from || u >= m.to {
		m.text = m.layout.append(m.text[:0], t)
		m.quoted = needsQuotes(false, m.text)
		if m.minutes {
			m.from, m.to = m.minute(t)
		}
	}
	if m.quoted { // a layout with a comma, say
		c.b = appendCell(c.b, false, m.text)
		return
	}
	c.b = append(c.b, m.text...)
}

// timeCell is how a Time field is written: its layout, read once, and for
// a layout to the minute the text of the last minute written, for the
// instants [from, to) that write the same: the rows of an export come in
// time order, often many a minute.
type timeCell struct {
	layout   timeLayout
	minutes  bool // the layout writes no unit finer than the minute
	text     []byte
	quoted   bool  // text is written quoted
	from, to int64 // Unix seconds
}

// minute returns the Unix seconds of the local minute that holds t, or an
// empty span when the zone's offset changes within it (offsets of whole
// seconds, as before 1900).
func (m *timeCell) minute(t time.Time) (from, to int64) {
	from = t.Unix() - int64(t.Second())
	to = from + 60
	_, off := t.Zone()
	loc := t.Location()
	if _, o := time.Unix(from, 0).In(loc).Zone(); o != off {
		return 0, 0
	}
	if _, o := time.Unix(to-1, 0).In(loc).Zone(); o != off {
		return 0, 0
	}
	return from, to
}

// toTheMinute reports whether layout writes no unit finer than the minute:
// two instants a second and a millisecond apart within a minute write the
// same.
func toTheMinute(layout string) bool {
	t := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	return t.Format(layout) == t.Add(time.Second+time.Millisecond+time.Microsecond+time.Nanosecond).Format(layout)
}

// appendText appends a text cell, neutralised.
func appendText[T ~string | ~[]byte](b []byte, s T) []byte {
	return appendCell(b, len(s) > 0 && formulaStart(s[0]), s)
}

// appendCell appends s, after an apostrophe if apostrophe is set, quoted as
// encoding/csv would quote the cell.
func appendCell[T ~string | ~[]byte](b []byte, apostrophe bool, s T) []byte {
	if !needsQuotes(apostrophe, s) {
		if apostrophe {
			b = append(b, '\'')
		}
		return append(b, s...)
	}
	b = append(b, '"')
	if apostrophe {
		b = append(b, '\'')
	}
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			b = append(b, s[start:i]...)
			b = append(b, `""`...)
		case '\n':
			b = append(b, s[start:i]...)
			b = append(b, "\r\n"...)
		case '\r': // dropped, as encoding/csv does with UseCRLF
			b = append(b, s[start:i]...)
		default:
			continue
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// needsQuotes is encoding/csv's rule for the cell s, prefixed by an
// apostrophe if apostrophe is set: a comma, quote or line break anywhere,
// a leading space, or the cell \. alone.
func needsQuotes[T ~string | ~[]byte](apostrophe bool, s T) bool {
	if len(s) == 0 {
		return false
	}
	if hasSpecial(s) {
		return true
	}
	if apostrophe {
		return false
	}
	if len(s) == 2 && s[0] == '\\' && s[1] == '.' {
		return true
	}
	if s[0] < utf8.RuneSelf {
		return asciiSpace[s[0]]
	}
	r, _ := utf8.DecodeRuneInString(string(s[:min(len(s), utf8.UTFMax)]))
	return unicode.IsSpace(r)
}

// hasSpecial reports whether s holds a comma, quote, CR or LF. A byte
// table: strings.ContainsAny took a fifth of a million-row export; testing
// eight bytes at a time was only a fifth faster than the table, and wanted
// an unsafe load.
func hasSpecial[T ~string | ~[]byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if csvSpecial[s[i]] {
			return true
		}
	}
	return false
}

// csvSpecial are the bytes that make a cell quoted.
var csvSpecial = [256]bool{',': true, '"': true, '\r': true, '\n': true}

var asciiSpace = [256]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// Close writes out what is buffered.
func (c *CSV) Close() error {
	return c.flush(true)
}

// Neutralize prefixes a cell that begins with =, +, -, @, tab or carriage
// return with an apostrophe, so spreadsheets show it as text.
func Neutralize(s string) string {
	if s == "" {
		return s
	}
	if formulaStart(s[0]) {
		return "'" + s
	}
	return s
}

// formulaStart reports whether a cell beginning with b would be taken for
// a formula.
func formulaStart(b byte) bool {
	switch b {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}
