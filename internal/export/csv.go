package export

import (
	"bufio"
	"encoding/csv"
	"io"
)

// CSV writes RFC 4180 CSV in UTF-8, neutralising text cells that a
// spreadsheet would run as a formula (OWASP CSV injection).
type CSV struct {
	buf *bufio.Writer
	w   *csv.Writer
	row []string
}

// NewCSV returns a CSV writer on w, buffered; call Flush at the end.
func NewCSV(w io.Writer) *CSV {
	buf := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(buf)
	cw.UseCRLF = true
	return &CSV{buf: buf, w: cw}
}

// WriteRow writes one row; kinds (nil for the header) mark which cells are
// numbers and need no neutralising.
func (c *CSV) WriteRow(cells []string, kinds []CellKind) error {
	c.row = c.row[:0]
	for i, v := range cells {
		if kinds == nil || kinds[i] == Text {
			v = Neutralize(v)
		}
		c.row = append(c.row, v)
	}
	return c.w.Write(c.row)
}

// Flush writes out what is buffered.
func (c *CSV) Flush() error {
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
