package clickhouse

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testNative is where the native reader's tests connect: the test
// ClickHouse's default database.
func testNative() nativeConfig {
	addr := os.Getenv("USAGELOG_TEST_CLICKHOUSE")
	if addr == "" {
		addr = "127.0.0.1:9000"
	}
	return nativeConfig{addrs: []string{addr}, database: "default", dialTimeout: 10 * time.Second, hostname: hostname()}
}

// readAll reads every row of query into strings (Int64 cells formatted).
func readAll(ctx context.Context, cfg nativeConfig, query string) ([][]string, error) {
	rows, err := queryNative(ctx, cfg, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return rowStrings(rows)
}

// rowStrings reads the rest of rows into strings.
func rowStrings(rows *nativeRows) ([][]string, error) {
	var out [][]string
	for rows.Next() {
		dest := make([]any, len(rows.cols))
		for i, c := range rows.cols {
			if c.text {
				dest[i] = new(string)
			} else {
				dest[i] = new(int64)
			}
		}
		if err := rows.Scan(dest...); err != nil {
			return out, err
		}
		row := make([]string, len(dest))
		for i, d := range dest {
			switch d := d.(type) {
			case *string:
				row[i] = *d
			case *int64:
				row[i] = strconv.FormatInt(*d, 10)
			}
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

func TestNativeQuery(t *testing.T) {
	ctx := context.Background()
	long := strings.Repeat("ab", 300_000) // longer than the read buffer
	// SQL that runs on ClickHouse 18.16, which has no repeat().
	for _, tc := range []struct {
		name  string
		query string
		check func(t *testing.T, rows [][]string)
	}{
		{"many blocks", `SELECT toString(number) AS s, toInt64(number) - 5 AS n, arrayStringConcat(arrayMap(x -> 'x', range(number % 3))) AS r
			FROM system.numbers LIMIT 10000 SETTINGS max_block_size = 999`, func(t *testing.T, rows [][]string) {
			if len(rows) != 10000 {
				t.Fatalf("%d rows", len(rows))
			}
			for i, r := range rows {
				if want := []string{strconv.Itoa(i), strconv.Itoa(i - 5), strings.Repeat("x", i%3)}; strings.Join(r, "|") != strings.Join(want, "|") {
					t.Fatalf("row %d: %q, want %q", i, r, want)
				}
			}
		}},
		{"a cell longer than the buffer", `SELECT 'a' AS x, arrayStringConcat(arrayMap(x -> 'ab', range(300000))) AS s, 'z' AS y`, func(t *testing.T, rows [][]string) {
			if len(rows) != 1 || rows[0][0] != "a" || rows[0][1] != long || rows[0][2] != "z" {
				t.Fatalf("got %d rows", len(rows))
			}
		}},
		{"text as sent", `SELECT 'é''"\\,` + "\n" + `' AS s, toInt64(-9223372036854775808) AS n, toUInt64(18446744073709551615) AS u`, func(t *testing.T, rows [][]string) {
			if len(rows) != 1 || rows[0][0] != "é'\"\\,\n" || rows[0][1] != "-9223372036854775808" || rows[0][2] != "-1" {
				t.Fatalf("got %q", rows)
			}
		}},
		{"no rows", `SELECT toInt64(1) AS n FROM system.one WHERE 0`, func(t *testing.T, rows [][]string) {
			if len(rows) != 0 {
				t.Fatalf("got %q", rows)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := readAll(ctx, testNative(), tc.query)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, rows)
		})
	}
}

func TestNativeErrors(t *testing.T) {
	ctx := context.Background()
	wrongPassword := testNative()
	wrongPassword.password = "not the password"
	for _, tc := range []struct {
		name  string
		cfg   nativeConfig
		query string
		code  int32  // the server's exception code, if it sends one
		want  string // else in the error
		rows  bool   // some rows come before the error
	}{
		{"syntax", testNative(), `SELEC 1`, 62, "", false},
		{"exception midway", testNative(), `SELECT toString(number + throwIf(number >= 5000)) AS s
			FROM system.numbers LIMIT 10000 SETTINGS max_block_size = 100`, 395, "", true},
		{"type the scans do not read", testNative(), `SELECT toUInt8(1) AS b`, 0, "type UInt8", false},
		{"wrong password", wrongPassword, `SELECT 1`, 0, "", false},
		{"nothing listens", nativeConfig{addrs: []string{"127.0.0.1:1"}, dialTimeout: time.Second}, `SELECT 1`, 0, "127.0.0.1:1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := readAll(ctx, tc.cfg, tc.query)
			if err == nil {
				t.Fatal("no error")
			}
			var se *ServerError
			if tc.code != 0 && (!errors.As(err, &se) || se.Code != tc.code) {
				t.Errorf("error %v, want server code %d", err, tc.code)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %q", err, tc.want)
			}
			if tc.rows != (len(rows) > 0) {
				t.Errorf("%d rows before the error", len(rows))
			}
		})
	}
}

// A cancel breaks off a query that would never end.
func TestNativeCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rows, err := queryNative(ctx, testNative(), `SELECT toString(number) AS s FROM system.numbers`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var s string
	for n := 0; rows.Next(); n++ {
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		if n == 100_000 {
			cancel()
			break
		}
	}
	start := time.Now()
	for rows.Next() {
		if time.Since(start) > 10*time.Second {
			t.Fatal("rows go on after the cancel")
		}
	}
	if !errors.Is(rows.Err(), context.Canceled) {
		t.Errorf("err %v, want context.Canceled", rows.Err())
	}
}

func TestBind(t *testing.T) {
	for _, tc := range []struct {
		query string
		args  []any
		want  string
		err   string
	}{
		{"a = ? AND b = ?", []any{int64(-3), "x"}, "a = -3 AND b = 'x'", ""},
		{"s = ?", []any{`it's \ "q" ?`}, `s = 'it\'s \\ "q" ?'`, ""},
		{"s = '?' AND t = ?", []any{int64(1)}, "s = '?' AND t = 1", ""},
		{`s = 'a\'?' AND "c?" = ? AND ` + "`d?`" + ` = ?`, []any{"x", "y"}, `s = 'a\'?' AND "c?" = 'x' AND ` + "`d?`" + ` = 'y'`, ""},
		{"a = ?", nil, "", "more placeholders"},
		{"a = 1", []any{int64(1)}, "", "1 arguments for 0"},
		{"a = ?", []any{1.5}, "", "float64"},
	} {
		got, err := bind(tc.query, tc.args)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("bind(%q) error %v, want %q", tc.query, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("bind(%q, %q) = %q, %v; want %q", tc.query, tc.args, got, err, tc.want)
		}
	}
}

// FuzzNativeStream feeds any bytes to the reader as a server's answer: it
// must end in rows or an error, never a panic, a hang or an allocation the
// input does not pay for.
func FuzzNativeStream(f *testing.F) {
	var data []byte
	data = append(data, serverProgress, 1, 2, 3)
	block := func(ncols, nrows byte, cols ...string) {
		data = append(data, serverData, 0, 1, 0, 2, 0xff, 0xff, 0xff, 0xff, 0, ncols, nrows)
		for _, c := range cols {
			data = append(data, c...)
		}
	}
	block(2, 0, "\x01s\x06String", "\x01n\x05Int64")
	block(2, 2, "\x01s\x06String\x02ab\x00", "\x01n\x05Int64\x01\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff")
	f.Add(append(data, serverEndOfStream))
	f.Add(append(data, serverException, 62, 0, 0, 0, 3, 'D', 'B', ':', 2, 'n', 'o', 0, 0))
	f.Add([]byte{serverData, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 's', 6, 'S', 't', 'r', 'i', 'n', 'g'})
	f.Fuzz(func(t *testing.T, data []byte) {
		c1, c2 := net.Pipe()
		defer c2.Close()
		rows := &nativeRows{ctx: context.Background(), stop: func() bool { return true },
			conn: &nativeConn{c: c1, r: bufio.NewReaderSize(bytes.NewReader(data), 4096)}}
		defer rows.Close()
		if _, err := rowStrings(rows); err != nil && rows.Err() == nil {
			t.Fatalf("scan of a decoded block: %v", err)
		}
	})
}
