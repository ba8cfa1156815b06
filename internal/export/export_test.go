package export

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/usagelog/usagelog/internal/usage"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fixture is a handful of API calls on either side of New York's spring
// DST change (2026-03-08 07:00 UTC) with hostile strings in text fields.
func fixture() []usage.Event {
	at := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	ev := []usage.Event{
		{ID: "r1", Time: at("2026-03-08T06:59:00Z"), Status: 200, URL: "/a/rest/chat/ideas", UserAgent: "Java/21.0.5", Community: "Innovation Hub", MemberName: "Ada", IP: "203.0.113.7", Collection: "Chat bot", Endpoint: "/chat/messages", Client: "Slack integration", TimingMS: 42, DelayMS: 3},
		{ID: "r2", Time: at("2026-03-08T07:01:00Z"), Status: 401, GatewayCode: 4011, StatusDetails: "Unrecognized token", URL: "/a/rest/v1/ideas", UserAgent: "ideascale-mcp-server/1.0.0", Community: "=HYPERLINK(\"http://x\")", MemberName: "+Bob", IP: "2001:db8::1", Collection: "Ideas API", Endpoint: "/ideas", Client: "@Claude", TimingMS: 1},
		// The same wall time twice as New York falls back (2026-11-01).
		{ID: "r4", Time: at("2026-11-01T05:30:00Z"), Status: 500, URL: "/a/rest/v1/members", UserAgent: "PostmanRuntime/7.43.3", Community: "Innovation Hub", MemberName: "Dee", IP: "198.51.100.4", Collection: "Members", Endpoint: "/members", Client: "Ops", TimingMS: 30000, DelayMS: 0},
		{ID: "r5", Time: at("2026-11-01T06:30:00Z"), Status: 404, GatewayCode: 4041, StatusDetails: "Endpoint not found", URL: "/a/rest/v1/nope", Community: "Innovation Hub", Client: "Ops", TimingMS: 2},
		{ID: "r3", Time: at("2026-03-08T12:30:00Z"), Status: 201, URL: "/a/rest/backend/v1/summary", UserAgent: "axios/1.7.7", Community: "Product, \"Ideas\"", MemberName: "-Carol", Collection: "AI assistant", Endpoint: "/ai/summaries", Client: "IdeaScale AI", TimingMS: 900, DelayMS: 12, JobURL: "https://jobs.example.com/1"},
	}
	for i := range ev {
		ev[i].Kind = usage.KindAPIRequest
		ev[i].ClientClass, ev[i].UsageType = usage.Classify(ev[i].URL, ev[i].UserAgent)
	}
	return ev
}

func seq(ev []usage.Event) func(func(*usage.Event, error) bool) {
	return func(yield func(*usage.Event, error) bool) {
		for i := range ev {
			if !yield(&ev[i], nil) {
				return
			}
		}
	}
}

func TestGolden(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	for _, d := range []*Definition[Event]{APILogs, APIUsage} {
		for _, f := range []Format{CSVFormat, JSONFormat, NDJSONFormat} {
			var buf bytes.Buffer
			n, err := Write(context.Background(), d, seq(fixture()), ny, NewWriter(f, &buf, d.Name), nil)
			if err != nil || n != len(fixture()) {
				t.Fatalf("%s %s: %d rows, %v", d.Name, f, n, err)
			}
			golden := filepath.Join("testdata", d.Name+".golden."+string(f))
			if *update {
				os.WriteFile(golden, buf.Bytes(), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s differs from %s:\n%s", d.Name, golden, buf.Bytes())
			}
		}
	}
}

// TestFormatsAgree reads every format back with an independent reader
// (encoding/csv, encoding/json, excelize) and checks they hold the same
// cells.
func TestFormatsAgree(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	for _, d := range []*Definition[Event]{APILogs, APIUsage} {
		want := writeCSVRows(t, d, ny)
		if len(want) != len(fixture())+1 {
			t.Fatalf("%s: %d csv rows", d.Name, len(want))
		}
		got := xlsxRows(t, writeAll(t, d, XLSXFormat, fixture(), ny), d.Name)
		if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
			t.Errorf("%s: xlsx cells\n%q\nwant\n%q", d.Name, got, want)
		}
		for _, f := range []Format{JSONFormat, NDJSONFormat} {
			raw := writeAll(t, d, f, fixture(), ny)
			var objs []map[string]any
			if f == JSONFormat {
				if err := json.Unmarshal(raw, &objs); err != nil {
					t.Fatalf("%s json: %v", d.Name, err)
				}
			} else {
				for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
					var o map[string]any
					if err := json.Unmarshal(line, &o); err != nil {
						t.Fatalf("%s ndjson line %q: %v", d.Name, line, err)
					}
					objs = append(objs, o)
				}
			}
			if len(objs) != len(fixture()) {
				t.Fatalf("%s %s: %d objects", d.Name, f, len(objs))
			}
			for i, o := range objs {
				for j, fl := range d.Fields() {
					cell := want[i+1][j]
					var v string
					switch x := o[fl.Key()].(type) {
					case nil:
					case float64:
						v = fmt.Sprint(x)
					case string:
						v = Neutralize(x)
					}
					if v != cell {
						t.Errorf("%s %s row %d %s = %q, csv has %q", d.Name, f, i, fl.Key(), v, cell)
					}
				}
			}
		}
	}
}

func writeAll(t testing.TB, d *Definition[Event], f Format, ev []usage.Event, loc *time.Location) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Write(context.Background(), d, seq(ev), loc, NewWriter(f, &buf, d.Name), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeCSVRows(t *testing.T, d *Definition[Event], loc *time.Location) [][]string {
	rows, err := csv.NewReader(bytes.NewReader(writeAll(t, d, CSVFormat, fixture(), loc))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// xlsxRows returns every sheet's rows, as excelize formats them.
func xlsxRows(t *testing.T, raw []byte, base string) [][][]string {
	t.Helper()
	wb, err := excelize.OpenReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("excelize cannot open the workbook: %v", err)
	}
	defer wb.Close()
	var out [][][]string
	for i, name := range wb.GetSheetList() {
		want := base
		if i > 0 {
			want = fmt.Sprintf("%s (%d)", base, i+1)
		}
		if name != want {
			t.Errorf("sheet %d is %q, want %q", i, name, want)
		}
		rows, err := wb.GetRows(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows { // excelize drops trailing empty cells
			for len(r) < len(rows[0]) {
				r = append(r, "")
			}
		}
		for j := range rows {
			for len(rows[j]) < len(rows[0]) {
				rows[j] = append(rows[j], "")
			}
		}
		out = append(out, rows)
	}
	return out
}

// TestXLSXSheetSplit: rows past a sheet's capacity continue on the next
// sheet, under the header again.
func TestXLSXSheetSplit(t *testing.T) {
	var ev []usage.Event
	for i := range 12 {
		e := fixture()[i%3]
		e.ID = fmt.Sprintf("e%02d", i)
		ev = append(ev, e)
	}
	var buf bytes.Buffer
	x := NewXLSX(&buf, "api-usage")
	x.limit = 5
	if n, err := Write(context.Background(), APIUsage, seq(ev), time.UTC, x, nil); err != nil || n != 12 {
		t.Fatalf("%d rows, %v", n, err)
	}
	sheets := xlsxRows(t, buf.Bytes(), "api-usage")
	if len(sheets) != 3 {
		t.Fatalf("%d sheets, want 3", len(sheets))
	}
	id := 0
	for i, rows := range sheets {
		if rows[0][0] != "ID" || rows[0][6] != "Remote System Info" {
			t.Errorf("sheet %d header %q", i, rows[0])
		}
		for _, r := range rows[1:] {
			if want := fmt.Sprintf("e%02d", id); r[0] != want {
				t.Errorf("sheet %d: row %q, want id %s", i, r, want)
			}
			id++
		}
		if i < 2 && len(rows) != 5 {
			t.Errorf("sheet %d holds %d rows, want 5", i, len(rows))
		}
	}
	if id != 12 {
		t.Errorf("%d rows read back, want 12", id)
	}
}

// TestXLSXHostileText: markup, control characters, invalid UTF-8 and
// over-long text become cells that read back, never a broken workbook.
func TestXLSXHostileText(t *testing.T) {
	long := strings.Repeat("é", 20_000) // 40,000 bytes
	cases := map[string]string{
		"<b>&amp;</b>": "<b>&amp;</b>",
		"a\x00b\x1fc":  "abc",
		"bad\xffutf8":  "badutf8",
		" padded ":     " padded ",
		"=1+1":         "'=1+1",
		"line\nbreak":  "line\nbreak",
		"x\uFFFEy":     "xy",
		"crlf\r\nend":  "crlf\r\nend",
		long:           long[:32_766],
	}
	var ev []usage.Event
	var wants []string
	for in, want := range cases {
		e := fixture()[0]
		e.Community = in
		ev = append(ev, e)
		wants = append(wants, want)
	}
	sheets := xlsxRows(t, writeAll(t, APIUsage, XLSXFormat, ev, time.UTC), "api-usage")
	for i, want := range wants {
		if got := sheets[0][i+1][1]; got != want {
			t.Errorf("cell %d: %q, want %q", i, trunc(got), trunc(want))
		}
	}
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func TestNeutralize(t *testing.T) {
	for in, want := range map[string]string{
		"=1+1": "'=1+1", "+1": "'+1", "-1": "'-1", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "\rx": "'\rx",
		"": "", "plain": "plain", "a=b": "a=b", "'quoted": "'quoted",
	} {
		if got := Neutralize(in); got != want {
			t.Errorf("Neutralize(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzCSVRoundTrip writes any cells and reads them back: what comes back is
// the cell, neutralised, never a broken row.
func FuzzCSVRoundTrip(f *testing.F) {
	f.Add("a", "=cmd|' /C calc'!A0", "line\nbreak")
	f.Add("\"quoted\"", "", "-5")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		buf := writeCSV(t, []Field{{Header: "a"}, {Header: "b"}, {Header: "c"}}, []Value{{S: a}, {S: b}, {S: c}})
		r := csv.NewReader(buf)
		r.LazyQuotes = false
		rows, err := r.ReadAll()
		if err != nil {
			t.Fatalf("read back: %v", err)
		}
		if len(rows) != 2 || len(rows[1]) != 3 {
			t.Fatalf("rows %q", rows)
		}
		rows = rows[1:]
		for i, in := range []string{a, b, c} {
			// encoding/csv reads \r\n inside quotes as \n.
			want := bytes.ReplaceAll([]byte(Neutralize(in)), []byte("\r\n"), []byte("\n"))
			if rows[0][i] != string(want) && !bytes.ContainsRune([]byte(in), '\r') {
				t.Errorf("cell %d: %q came back as %q", i, in, rows[0][i])
			}
		}
	})
}

// FuzzCSVMatchesEncodingCSV: the CSV writer writes any cells exactly as
// encoding/csv (UseCRLF) writes them once neutralised, so that replacing
// it changed no byte of any export.
func FuzzCSVMatchesEncodingCSV(f *testing.F) {
	for _, seed := range [][3]string{
		{"a", "=cmd|' /C calc'!A0", "line\nbreak"},
		{"\"quoted\"", "", "-5,6"},
		{" lead", "\\.", "\r\nx"},
		{"\u00a0nbsp", "\rcarriage", "tab\t"},
		{"@x\"y", "+\n", "\t"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		when := time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)
		got := writeCSV(t, []Field{{Header: a}, {Header: "n", Kind: Number}, {Header: "t", Kind: Time, Layout: "01/02/2006 15:04"}},
			[]Value{{S: b}, {N: -42}, {T: when}}, []Value{{S: c}, {Null: true}, {Null: true}},
			[]Value{{B: []byte(b)}, {N: 7}, {T: when.Add(time.Second)}}) // text as bytes (AppendTextColumn)
		var want bytes.Buffer
		cw := csv.NewWriter(&want)
		cw.UseCRLF = true
		cw.Write([]string{Neutralize(a), "n", "t"})
		cw.Write([]string{Neutralize(b), "-42", "03/04/2026 05:06"})
		cw.Write([]string{Neutralize(c), "", ""})
		cw.Write([]string{Neutralize(b), "7", "03/04/2026 05:06"})
		cw.Flush()
		if got.String() != want.String() {
			t.Fatalf("got\n%q\nwant\n%q", got.String(), want.String())
		}
	})
}

// writeCSV writes a header of fields and rows with the CSV writer.
func writeCSV(t *testing.T, fields []Field, rows ...[]Value) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	w := NewCSV(&buf)
	if err := w.WriteHeader(fields); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := w.WriteRow(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

// FuzzXLSXText: any string becomes a well-formed <t> element whose text is
// the string less what XML cannot carry.
func FuzzXLSXText(f *testing.F) {
	f.Add("<a href='x'>&amp;</a>")
	f.Add("\x00\x01 \r\n\t\xff\xfe")
	f.Add(" lead and trail ")
	f.Fuzz(func(t *testing.T, s string) {
		b := appendXMLText(nil, s)
		var got struct {
			Text string `xml:",chardata"`
		}
		if err := xml.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q gave malformed XML %q: %v", s, b, err)
		}
		if len(s) <= maxCellChars && utf8.ValidString(s) && !strings.ContainsAny(s, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\uFFFE\uFFFF") && got.Text != s {
			t.Errorf("%q read back as %q", s, got.Text)
		}
	})
}

// FuzzUsageRequest: any body either resolves to a non-empty range or is
// refused with a message, never a panic.
func FuzzUsageRequest(f *testing.F) {
	f.Add(`{"from":{"date":"2024-01-01T00:00:00.000Z","timezone":"UTC"},"to":{"date":"2024-01-31T23:59:59.999Z","timezone":"UTC"}}`)
	f.Add(`{"from":{"date":"2024-01-01","timezone":"America/New_York"},"to":{"date":"2024-01-01","timezone":"Asia/Kolkata"}}`)
	f.Add(`{"from":{"date":"0000-01-01T00:00:00+14:00","timezone":"Local"}}`)
	f.Fuzz(func(t *testing.T, body string) {
		var req UsageRequest
		if json.Unmarshal([]byte(body), &req) != nil {
			return
		}
		r, err := req.Resolve(DefaultMaxRangeDays)
		if err != nil {
			if usage.ErrorMessage(err) == "internal error" {
				t.Fatalf("unexplained refusal: %v", err)
			}
			return
		}
		if !r.From.Before(r.To) || r.Loc == nil {
			t.Fatalf("resolved to an empty range %v – %v", r.From, r.To)
		}
		_ = r.Answer()
		_ = r.FilePath("users", 1, "abcd1234", CSVFormat)
	})
}

// TestCSVMinuteCache writes times second by second across offset changes
// (daylight saving, a half-hour zone, Amsterdam's pre-1937 offset of
// 19 minutes 32 seconds) and back in time: each cell is what
// time.Format writes, though the writer formats a minute only once.
func TestCSVMinuteCache(t *testing.T) {
	for _, tc := range []struct {
		zone  string
		start time.Time
	}{
		{"America/New_York", time.Date(2026, 3, 8, 6, 58, 0, 0, time.UTC)},  // 02:00 local is skipped
		{"America/New_York", time.Date(2026, 11, 1, 5, 58, 0, 0, time.UTC)}, // 01:00 local comes twice
		{"Asia/Kolkata", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"Australia/Lord_Howe", time.Date(2026, 4, 4, 14, 58, 0, 0, time.UTC)}, // a half-hour change
		{"Europe/Amsterdam", time.Date(1937, 6, 30, 23, 38, 0, 0, time.UTC)},   // +00:19:32 to +00:20
		{"UTC", time.Date(2026, 3, 4, 5, 6, 59, 0, time.UTC)},
	} {
		t.Run(tc.zone+"/"+tc.start.Format(time.DateOnly), func(t *testing.T) {
			loc, err := time.LoadLocation(tc.zone)
			if err != nil {
				t.Fatal(err)
			}
			const layout = "01/02/2006 15:04"
			var rows [][]Value
			var want strings.Builder
			want.WriteString("t\r\n")
			at := func(tm time.Time) {
				rows = append(rows, []Value{{T: tm.In(loc)}})
				want.WriteString(tm.In(loc).Format(layout) + "\r\n")
			}
			for s := range 240 {
				at(tc.start.Add(time.Duration(s) * time.Second))
			}
			for s := range 240 {
				at(tc.start.Add(time.Duration(240-s)*time.Second - time.Millisecond))
			}
			got := writeCSV(t, []Field{{Header: "t", Kind: Time, Layout: layout}}, rows...)
			if got.String() != want.String() {
				t.Errorf("got\n%s\nwant\n%s", got, want.String())
			}
		})
	}
}

func TestHasSpecial(t *testing.T) {
	for _, s := range []string{"", "a", "abcdefgh", "abcdefghi", "abcdefghijklmnopq", "\x80\xff\x7f\x01abcdefgh"} {
		for i := 0; i <= len(s); i++ {
			for _, b := range []byte{',', '"', '\r', '\n', '+', 0x2b, 0xac} {
				x := s[:i] + string([]byte{b}) + s[i:]
				if got, want := hasSpecial(x), strings.ContainsAny(x, ",\"\r\n"); got != want {
					t.Errorf("hasSpecial(%q) = %v, want %v", x, got, want)
				}
			}
		}
		if hasSpecial(s) {
			t.Errorf("hasSpecial(%q) = true", s)
		}
	}
}
