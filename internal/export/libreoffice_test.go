package export

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// soffice finds LibreOffice, the independent client the exports are checked
// with; scripts/test.sh installs it.
func soffice(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("soffice")
	if err != nil {
		t.Fatal("soffice not found: run scripts/test.sh, which installs libreoffice-calc-nogui")
	}
	return path
}

// convertToCSV has LibreOffice open file (read with infilter, if given)
// and write every sheet as CSV; it returns each sheet's cells in sheet
// order.
func convertToCSV(t *testing.T, bin, file string, infilter string) [][][]string {
	t.Helper()
	sheets := convertSheets(t, bin, file, infilter)
	// "x (2)" sorts after "x".
	names := slices.Sorted(maps.Keys(sheets))
	var out [][][]string
	for _, n := range names {
		out = append(out, sheets[n])
	}
	return out
}

// convertSheets has LibreOffice write every sheet of a workbook as CSV and
// returns them by sheet name.
func convertSheets(t *testing.T, bin, file, infilter string) map[string][][]string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"-env:UserInstallation=file://" + filepath.Join(dir, "profile"), "--headless"}
	if infilter != "" {
		args = append(args, "--infilter="+infilter)
	}
	args = append(args, "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,UTF8,1,,0,false,true,false,false,false,-1",
		"--outdir", filepath.Join(dir, "out"), file)
	cmd := exec.Command(bin, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("soffice: %v\n%s", err, out)
	}
	prefix := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)) + "-"
	names, _ := filepath.Glob(filepath.Join(dir, "out", "*.csv"))
	if len(names) == 0 {
		t.Fatalf("soffice wrote nothing for %s", file)
	}
	sheets := map[string][][]string{}
	for _, n := range names {
		raw, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		sheets[strings.TrimSuffix(strings.TrimPrefix(filepath.Base(n), prefix), ".csv")] = rows
	}
	return sheets
}

// TestLibreOfficeReadsExports opens the CSV and XLSX exports of both reports
// in LibreOffice and compares its cells with the rows written, across New
// York's DST change and with hostile strings.
func TestLibreOfficeReadsExports(t *testing.T) {
	bin := soffice(t)
	ny, _ := time.LoadLocation("America/New_York")
	dir := t.TempDir()
	for _, d := range []*Definition[Event]{APILogs, APIUsage} {
		want := writeCSVRows(t, d, ny)
		csvFile := filepath.Join(dir, d.Name+".csv")
		xlsxFile := filepath.Join(dir, d.Name+".xlsx")
		os.WriteFile(csvFile, writeAll(t, d, CSVFormat, fixture(), ny), 0o644)
		os.WriteFile(xlsxFile, writeAll(t, d, XLSXFormat, fixture(), ny), 0o644)

		got := convertToCSV(t, bin, csvFile, "CSV:44,34,76,1,,0,false,false,false")
		if !reflect.DeepEqual(got, [][][]string{want}) {
			t.Errorf("%s.csv as LibreOffice reads it:\n%q\nwant\n%q", d.Name, got, want)
		}

		// LibreOffice writes dates in its own default format, with seconds.
		wantX := make([][]string, len(want))
		for i, r := range want {
			wantX[i] = append([]string(nil), r...)
			for j, f := range d.Fields() {
				if i > 0 && f.Kind == Time && f.Excel != "" {
					wantX[i][j] += ":00"
				}
			}
		}
		got = convertToCSV(t, bin, xlsxFile, "")
		if !reflect.DeepEqual(got, [][][]string{wantX}) {
			t.Errorf("%s.xlsx as LibreOffice reads it:\n%q\nwant\n%q", d.Name, got, wantX)
		}
	}
}

// TestLibreOfficeReadsSplitSheets: a workbook continued over sheets opens
// with every row on the sheet it was written to.
func TestLibreOfficeReadsSplitSheets(t *testing.T) {
	bin := soffice(t)
	var ev []usage.Event
	for i := range 7 {
		e := fixture()[i%3]
		e.ID = fmt.Sprintf("e%d", i)
		ev = append(ev, e)
	}
	var buf bytes.Buffer
	x := NewXLSX(&buf, "api-usage")
	x.limit = 4
	if _, err := Write(context.Background(), APIUsage, seq(ev), time.UTC, x, nil); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "split.xlsx")
	os.WriteFile(file, buf.Bytes(), 0o644)
	sheets := convertToCSV(t, bin, file, "")
	var ids []string
	for i, rows := range sheets {
		if rows[0][0] != "ID" {
			t.Errorf("sheet %d starts %q, want the header", i, rows[0])
		}
		for _, r := range rows[1:] {
			ids = append(ids, r[0])
		}
	}
	if want := []string{"e0", "e1", "e2", "e3", "e4", "e5", "e6"}; len(sheets) != 3 || !reflect.DeepEqual(ids, want) {
		t.Errorf("%d sheets with ids %q, want 3 sheets with %q", len(sheets), ids, want)
	}
}
