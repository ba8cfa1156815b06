package export

import (
	"archive/zip"
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/klauspost/compress/flate"
)

// MaxSheetRows is how many rows a worksheet holds (Excel's limit). An export
// with more continues on another sheet, which repeats the header.
const MaxSheetRows = 1_048_576

// maxCellChars is Excel's limit on the text of one cell.
const maxCellChars = 32_767

// XLSX streams a workbook: rows go as inline strings straight into the
// compressed sheet entry of the zip, so memory stays flat however many
// rows pass. excelize's StreamWriter spools every sheet to a temporary file
// and re-reads it; BenchmarkXLSX shows this writer is several times faster.
type XLSX struct {
	zw      *zip.Writer
	sheet   *bufio.Writer // the open worksheet entry
	base    string        // sheet name
	sheets  []string      // names of the sheets written so far
	fields  []Field
	styles  []int    // cell style per field
	refs    [][]byte // column letters per field
	formats []string // number formats, style i+2 uses formats[i]
	part    int      // sheets written under base, for continuation names
	rows    int      // rows in the open sheet, header included
	limit   int      // rows per sheet; MaxSheetRows but for tests
	buf     []byte
	err     error
}

// NewXLSX returns a workbook writer on w whose first sheet is called sheet.
func NewXLSX(w io.Writer, sheet string) *XLSX {
	zw := zip.NewWriter(w)
	// Deflate is two thirds of this writer's CPU time (BenchmarkXLSX
	// profile); klauspost's level 1 made the api-logs workbook 1.4× faster
	// than compress/flate's BestSpeed did.
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed)
	})
	return &XLSX{zw: zw, base: sheetName(sheet), limit: MaxSheetRows}
}

// sheetName makes s a valid worksheet name: no []:*?/\ and at most 31
// characters.
func sheetName(s string) string {
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`[]:*?/\`, r) {
			return '_'
		}
		return r
	}, s)
	if s == "" {
		s = "Sheet"
	}
	if utf8.RuneCountInString(s) > 26 { // room for " (99)"
		s = string([]rune(s)[:26])
	}
	return s
}

// WriteHeader starts the first sheet with the header row.
func (x *XLSX) WriteHeader(fields []Field) error {
	x.setFields(fields)
	return x.startSheet()
}

// Sheet ends the open sheet, if any, and starts another called name with
// its own header: a workbook of different tables.
func (x *XLSX) Sheet(name string, fields []Field) error {
	if x.err != nil {
		return x.err
	}
	if x.sheet != nil {
		if err := x.endSheet(); err != nil {
			return err
		}
	}
	x.base, x.part = sheetName(name), 0
	x.setFields(fields)
	return x.startSheet()
}

func (x *XLSX) setFields(fields []Field) {
	x.fields = fields
	x.styles = make([]int, len(fields))
	x.refs = make([][]byte, len(fields))
	for i, f := range fields {
		x.refs[i] = columnName(i)
		if f.Kind == Time && f.Excel != "" {
			x.styles[i] = x.style(f.Excel)
		}
	}
}

// style returns the cell style of a number format, adding it if new.
func (x *XLSX) style(format string) int {
	for i, f := range x.formats {
		if f == format {
			return i + 2
		}
	}
	x.formats = append(x.formats, format)
	return len(x.formats) + 1
}

func columnName(i int) []byte {
	var b []byte
	for i++; i > 0; i = (i - 1) / 26 {
		b = append([]byte{byte('A' + (i-1)%26)}, b...)
	}
	return b
}

const sheetHead = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" +
	`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">` +
	`<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>`

func (x *XLSX) startSheet() error {
	name := x.base
	if x.part > 0 {
		name = fmt.Sprintf("%s (%d)", x.base, x.part+1)
	}
	x.part++
	x.sheets = append(x.sheets, name)
	f, err := x.zw.Create(fmt.Sprintf("xl/worksheets/sheet%d.xml", len(x.sheets)))
	if err != nil {
		return x.fail(err)
	}
	if x.sheet == nil {
		x.sheet = bufio.NewWriterSize(f, 64<<10)
	} else {
		x.sheet.Reset(f)
	}
	b := append(x.buf[:0], sheetHead...)
	b = append(b, "<cols>"...)
	for i, f := range x.fields {
		w := max(10, min(60, utf8.RuneCountInString(f.Header)+4))
		if f.Kind == Time {
			w = max(w, len(f.Layout)+2)
		}
		if f.Width > 0 {
			w = max(w, min(f.Width, 100))
		}
		b = fmt.Appendf(b, `<col min="%d" max="%d" width="%d" customWidth="1"/>`, i+1, i+1, w)
	}
	b = append(b, "</cols><sheetData>"...)
	x.rows = 1
	b = append(b, `<row r="1">`...)
	for i, f := range x.fields {
		b = x.appendRef(b, i)
		b = append(b, `" s="1" t="inlineStr"><is>`...)
		b = appendXMLText(b, Neutralize(f.Header))
		b = append(b, "</is></c>"...)
	}
	b = append(b, "</row>"...)
	x.buf = b
	_, err = x.sheet.Write(b)
	return x.fail(err)
}

func (x *XLSX) appendRef(b []byte, col int) []byte {
	b = append(b, `<c r="`...)
	b = append(b, x.refs[col]...)
	return strconv.AppendInt(b, int64(x.rows), 10)
}

func (x *XLSX) endSheet() error {
	if _, err := x.sheet.WriteString("</sheetData></worksheet>"); err != nil {
		return x.fail(err)
	}
	return x.fail(x.sheet.Flush())
}

// WriteRow writes one row, starting a new sheet when this one is full.
func (x *XLSX) WriteRow(vals []Value) error {
	if x.err != nil {
		return x.err
	}
	if x.rows == x.limit {
		if err := x.endSheet(); err != nil {
			return err
		}
		if err := x.startSheet(); err != nil {
			return err
		}
	}
	x.rows++
	b := append(x.buf[:0], `<row r="`...)
	b = strconv.AppendInt(b, int64(x.rows), 10)
	b = append(b, `">`...)
	for i, f := range x.fields {
		v := &vals[i]
		if v.Null {
			continue
		}
		switch {
		case f.Kind == Number:
			b = x.appendRef(b, i)
			b = append(b, `"><v>`...)
			b = strconv.AppendInt(b, v.N, 10)
			b = append(b, "</v></c>"...)
		case f.Kind == Time && f.Excel != "":
			b = x.appendRef(b, i)
			b = append(b, `" s="`...)
			b = strconv.AppendInt(b, int64(x.styles[i]), 10)
			b = append(b, `"><v>`...)
			b = strconv.AppendFloat(b, serial(v), 'f', -1, 64)
			b = append(b, "</v></c>"...)
		case f.Kind == Time:
			b = x.appendRef(b, i)
			b = append(b, `" t="inlineStr"><is><t>`...)
			b = v.T.AppendFormat(b, f.Layout)
			b = append(b, "</t></is></c>"...)
		default:
			text := v.Text()
			if text == "" {
				continue
			}
			b = x.appendRef(b, i)
			b = append(b, `" t="inlineStr"><is>`...)
			b = appendXMLText(b, Neutralize(text))
			b = append(b, "</is></c>"...)
		}
	}
	b = append(b, "</row>"...)
	x.buf = b
	_, err := x.sheet.Write(b)
	return x.fail(err)
}

// serial is the spreadsheet date of the value's wall-clock time: days since
// 1899-12-30, to the millisecond.
func serial(v *Value) float64 {
	_, off := v.T.Zone()
	ms := v.T.UnixMilli() + int64(off)*1000
	days := ms / 86_400_000
	rem := ms % 86_400_000
	if rem < 0 {
		days, rem = days-1, rem+86_400_000
	}
	return float64(days+25_569) + float64(rem)/86_400_000
}

// appendXMLText appends a <t> element holding s, escaped; characters XML
// cannot carry are dropped and the text is cut at Excel's cell limit.
func appendXMLText(b []byte, s string) []byte {
	if len(s) > maxCellChars {
		i := maxCellChars
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i]
	}
	if s != "" && (isSpace(s[0]) || isSpace(s[len(s)-1])) {
		b = append(b, `<t xml:space="preserve">`...)
	} else {
		b = append(b, "<t>"...)
	}
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x80 {
			r, size := utf8.DecodeRuneInString(s[i:])
			if (r == utf8.RuneError && size == 1) || r == 0xFFFE || r == 0xFFFF {
				b = append(b, s[start:i]...)
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		var esc string
		switch {
		case c == '&':
			esc = "&amp;"
		case c == '<':
			esc = "&lt;"
		case c == '>':
			esc = "&gt;"
		case c < 0x20 && c != '\t' && c != '\n' && c != '\r':
			esc = ""
		case c == '\r':
			esc = "&#13;" // a raw CR would be read back as a line feed
		default:
			i++
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, esc...)
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, "</t>"...)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// Close ends the last sheet and writes the workbook parts that list the
// sheets and styles.
func (x *XLSX) Close() error {
	if x.err != nil {
		return x.err
	}
	if x.sheet == nil { // no header was written
		if err := x.WriteHeader(nil); err != nil {
			return err
		}
	}
	if err := x.endSheet(); err != nil {
		return err
	}
	parts := []struct{ name, body string }{
		{"[Content_Types].xml", x.contentTypes()},
		{"_rels/.rels", rootRels},
		{"docProps/app.xml", appProps},
		{"xl/workbook.xml", x.workbook()},
		{"xl/_rels/workbook.xml.rels", x.workbookRels()},
		{"xl/styles.xml", x.stylesXML()},
	}
	for _, p := range parts {
		f, err := x.zw.Create(p.name)
		if err != nil {
			return x.fail(err)
		}
		if _, err := io.WriteString(f, p.body); err != nil {
			return x.fail(err)
		}
	}
	return x.fail(x.zw.Close())
}

func (x *XLSX) fail(err error) error {
	if err != nil && x.err == nil {
		x.err = fmt.Errorf("xlsx: %w", err)
	}
	return x.err
}

const xmlHead = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n"

const rootRels = xmlHead + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
	`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>` +
	`<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" Target="docProps/app.xml"/>` +
	`</Relationships>`

const appProps = xmlHead + `<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"><Application>usagelog</Application></Properties>`

func (x *XLSX) contentTypes() string {
	var b strings.Builder
	b.WriteString(xmlHead + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
		`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
		`<Default Extension="xml" ContentType="application/xml"/>` +
		`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>` +
		`<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>` +
		`<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>`)
	for i := range x.sheets {
		fmt.Fprintf(&b, `<Override PartName="/xl/worksheets/sheet%d.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`, i+1)
	}
	b.WriteString(`</Types>`)
	return b.String()
}

func (x *XLSX) workbook() string {
	var b strings.Builder
	b.WriteString(xmlHead + `<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>`)
	for i, name := range x.sheets {
		fmt.Fprintf(&b, `<sheet name="%s" sheetId="%d" r:id="rId%d"/>`, xmlAttr(name), i+1, i+1)
	}
	b.WriteString(`</sheets></workbook>`)
	return b.String()
}

func (x *XLSX) workbookRels() string {
	var b strings.Builder
	b.WriteString(xmlHead + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`)
	for i := range x.sheets {
		fmt.Fprintf(&b, `<Relationship Id="rId%d" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet%d.xml"/>`, i+1, i+1)
	}
	fmt.Fprintf(&b, `<Relationship Id="rId%d" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>`, len(x.sheets)+1)
	b.WriteString(`</Relationships>`)
	return b.String()
}

// stylesXML holds style 0 (plain), 1 (bold header) and one style per
// number format.
func (x *XLSX) stylesXML() string {
	var b strings.Builder
	b.WriteString(xmlHead + `<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`)
	if len(x.formats) > 0 {
		fmt.Fprintf(&b, `<numFmts count="%d">`, len(x.formats))
		for i, f := range x.formats {
			fmt.Fprintf(&b, `<numFmt numFmtId="%d" formatCode="%s"/>`, 164+i, xmlAttr(f))
		}
		b.WriteString(`</numFmts>`)
	}
	b.WriteString(`<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts>` +
		`<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>` +
		`<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>` +
		`<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>`)
	fmt.Fprintf(&b, `<cellXfs count="%d"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>`, len(x.formats)+2)
	for i := range x.formats {
		fmt.Fprintf(&b, `<xf numFmtId="%d" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>`, 164+i)
	}
	b.WriteString(`</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>`)
	return b.String()
}

func xmlAttr(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
