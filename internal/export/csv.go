package export

import (
	"bufio"
	"io"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// CSV writes RFC 4180 CSV in UTF-8 with CRLF line ends, neutralising text
// cells that a spreadsheet would run as a formula (OWASP CSV injection).
// Its output is byte for byte encoding/csv's with UseCRLF (TestCSVMatchesEncodingCSV);
// it writes cells straight into its buffer instead, without a string per
// cell, which made the api-usage CSV about twice as fast (BenchmarkCSV).
type CSV struct {
	buf    *bufio.Writer
	fields []Field
	num    []byte // scratch for formatting numbers and times
}

// NewCSV returns a CSV writer on w.
func NewCSV(w io.Writer) *CSV {
	return &CSV{buf: bufio.NewWriterSize(w, 64<<10)}
}

// WriteHeader writes the header row.
func (c *CSV) WriteHeader(fields []Field) error {
	c.fields = fields
	for i, f := range fields {
		if i > 0 {
			c.buf.WriteByte(',')
		}
		c.text(f.Header)
	}
	_, err := c.buf.WriteString("\r\n")
	return err
}

// WriteRow writes one row.
func (c *CSV) WriteRow(vals []Value) error {
	for i, f := range c.fields {
		if i > 0 {
			c.buf.WriteByte(',')
		}
		v := &vals[i]
		switch {
		case v.Null:
		case f.Kind == Number:
			c.num = strconv.AppendInt(c.num[:0], v.N, 10)
			c.buf.Write(c.num)
		case f.Kind == Time:
			c.num = v.T.AppendFormat(c.num[:0], f.Layout)
			c.cell(false, string(c.num))
		default:
			c.text(v.S)
		}
	}
	_, err := c.buf.WriteString("\r\n")
	return err
}

// text writes a text cell, neutralised.
func (c *CSV) text(s string) {
	c.cell(s != "" && formulaStart(s[0]), s)
}

// cell writes s, after an apostrophe if apostrophe is set, quoted as
// encoding/csv would quote the cell.
func (c *CSV) cell(apostrophe bool, s string) {
	if !needsQuotes(apostrophe, s) {
		if apostrophe {
			c.buf.WriteByte('\'')
		}
		c.buf.WriteString(s)
		return
	}
	c.buf.WriteByte('"')
	if apostrophe {
		c.buf.WriteByte('\'')
	}
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			c.buf.WriteString(s[start:i])
			c.buf.WriteString(`""`)
		case '\n':
			c.buf.WriteString(s[start:i])
			c.buf.WriteString("\r\n")
		case '\r': // dropped, as encoding/csv does with UseCRLF
			c.buf.WriteString(s[start:i])
		default:
			continue
		}
		start = i + 1
	}
	c.buf.WriteString(s[start:])
	c.buf.WriteByte('"')
}

// needsQuotes is encoding/csv's rule for the cell s, prefixed by an
// apostrophe if apostrophe is set: a comma, quote or line break anywhere,
// a leading space, or the cell \. alone.
func needsQuotes(apostrophe bool, s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if csvSpecial[s[i]] {
			return true
		}
	}
	if apostrophe {
		return false
	}
	if s == `\.` {
		return true
	}
	if s[0] < utf8.RuneSelf {
		return asciiSpace[s[0]]
	}
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsSpace(r)
}

// csvSpecial are the bytes that make a cell quoted; a byte table, as
// strings.ContainsAny took a fifth of a million-row export.
var csvSpecial = [256]bool{',': true, '"': true, '\r': true, '\n': true}

var asciiSpace = [256]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// Close writes out what is buffered.
func (c *CSV) Close() error {
	return c.buf.Flush()
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
