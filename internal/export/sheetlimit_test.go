//go:build !race

// Writing 1,048,576 rows takes 50 s under the race detector, so this file
// is built only without it; scripts/test.sh runs it in a second, race-free
// pass.

package export

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestXLSXSheetLimit writes one row more than a sheet holds: the first
// sheet ends at Excel's last row, 1,048,576, and the second holds the
// header and the last row.
func TestXLSXSheetLimit(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "big-*.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := MaxSheetRows // data rows: the header takes one, so one spills over
	if _, err := Write(context.Background(), APIUsage, memoryRows(rows), time.UTC, NewXLSX(f, "api-usage"), nil); err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	zr, err := zip.NewReader(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	lastRow := map[string]string{}
	for _, zf := range zr.File {
		if !strings.HasPrefix(zf.Name, "xl/worksheets/") {
			continue
		}
		r, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		// Count "<row " without holding the sheet: scan in chunks after the
		// previous chunk's last 4 bytes, too few to hold a whole tag, so a
		// tag split between chunks is counted once.
		var carry []byte
		chunk := make([]byte, 1<<20)
		for {
			n, err := io.ReadFull(r, chunk)
			buf := append(carry, chunk[:n]...)
			counts[zf.Name] += bytes.Count(buf, []byte("<row "))
			if i := bytes.LastIndex(buf, []byte(`<row r="`)); i >= 0 {
				if j := bytes.IndexByte(buf[i+8:], '"'); j >= 0 {
					lastRow[zf.Name] = string(buf[i+8 : i+8+j])
				}
			}
			carry = append([]byte(nil), buf[max(0, len(buf)-4):]...)
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		r.Close()
	}
	want := map[string]int{"xl/worksheets/sheet1.xml": MaxSheetRows, "xl/worksheets/sheet2.xml": 2}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("rows per sheet %v, want %v", counts, want)
	}
	if lastRow["xl/worksheets/sheet1.xml"] != "1048576" || lastRow["xl/worksheets/sheet2.xml"] != "2" {
		t.Errorf("last rows %v", lastRow)
	}
}
