package export

import (
	"bufio"
	"encoding/csv"
	"io"
	"strconv"
)

// CSV writes RFC 4180 CSV in UTF-8 with CRLF line ends, neutralising text
// cells that a spreadsheet would run as a formula (OWASP CSV injection).
type CSV struct {
	buf    *bufio.Writer
	w      *csv.Writer
	fields []Field
	row    []string
	num    []byte // scratch for formatting numbers and times
}

// NewCSV returns a CSV writer on w.
func NewCSV(w io.Writer) *CSV {
	buf := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(buf)
	cw.UseCRLF = true
	return &CSV{buf: buf, w: cw}
}

// WriteHeader writes the header row.
func (c *CSV) WriteHeader(fields []Field) error {
	c.fields = fields
	c.row = make([]string, len(fields))
	for i, f := range fields {
		c.row[i] = Neutralize(f.Header)
	}
	return c.w.Write(c.row)
}

// WriteRow writes one row.
func (c *CSV) WriteRow(vals []Value) error {
	for i, f := range c.fields {
		v := &vals[i]
		switch {
		case v.Null:
			c.row[i] = ""
		case f.Kind == Number:
			c.row[i] = strconv.FormatInt(v.N, 10)
		case f.Kind == Time:
			c.num = v.T.AppendFormat(c.num[:0], f.Layout)
			c.row[i] = string(c.num)
		default:
			c.row[i] = Neutralize(v.S)
		}
	}
	return c.w.Write(c.row)
}

// Close writes out what is buffered.
func (c *CSV) Close() error {
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return err
	}
	return c.buf.Flush()
}

// Neutralize prefixes a cell that begins with =, +, -, @, tab or carriage
// return with an apostrophe, so spreadsheets show it as text.
func Neutralize(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
