package clickhouse

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// TestRollupSelectsAreTheViews checks that what a read adds for the calls
// still in rollup_incoming_buffer (rollupSelects) is what the views make
// of them: each select applied to the stored calls gives the rows their
// rollup holds once every buffer is flushed.
func TestRollupSelectsAreTheViews(t *testing.T) {
	ctx := context.Background()
	server := os.Getenv("USAGELOG_TEST_CLICKHOUSE")
	if server == "" {
		server = "127.0.0.1:9000"
	}
	s, err := Open(ctx, fmt.Sprintf("clickhouse://%s/usagelog_test_incoming_%d", server, os.Getpid()))
	if err != nil {
		t.Fatalf("clickhouse at %s: %v (scripts/test.sh installs and starts it)", server, err)
	}
	t.Cleanup(func() { s.DropDatabase(ctx); s.Close() })

	start := time.Date(1969, 12, 31, 22, 0, 0, 0, time.UTC) // before 1970 too: the buckets floor
	var events []usage.Event
	for i := range 3000 {
		e := usage.Event{ID: fmt.Sprintf("e%d", i), Kind: usage.KindAPIRequest, Time: start.Add(time.Duration(i) * 97 * time.Second),
			Method: "GET", URL: "/x", Status: []int{200, 201, 404, 500, 503}[i%5],
			Client: []string{"a", "b", "c"}[i%3], Collection: []string{"Orders", "Billing"}[i%2], CollectionType: "proxy",
			Community: []string{"", "north"}[i%2], TimingMS: int64(i*37) % 40000, UsageType: []usage.Type{"", "mcp"}[i%4/3]}
		if i%10 == 0 {
			e.Collection = usage.SelfCollection // usagelog's own calls are not rolled up
		}
		events = append(events, e)
	}
	if _, err := s.Append(ctx, 1, events); err != nil {
		t.Fatal(err)
	}
	if err := s.flushRollups(ctx); err != nil {
		t.Fatal(err)
	}
	calls := `(SELECT workspace_id, time_ms, ` + rollupDims + `, timing_ms FROM events WHERE kind = 1 AND collection != '` + usage.SelfCollection + `')`
	for table, sel := range rollupSelects {
		var cols []string
		var sums []string
		if err := s.rows(ctx, `SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = ?`, []any{table},
			func(scan func(...any) error) error {
				var name, typ string
				if err := scan(&name, &typ); err != nil {
					return err
				}
				if typ == "UInt64" {
					sums = append(sums, "toString(sum("+name+"))")
				} else {
					cols = append(cols, name)
				}
				return nil
			}); err != nil {
			t.Fatal(err)
		}
		read := func(from string) []string {
			var out []string
			keys := strings.Join(cols, ", ")
			var strs []string
			for _, c := range cols {
				strs = append(strs, "toString("+c+")")
			}
			q := `SELECT arrayStringConcat([` + strings.Join(append(strs, sums...), ", ") + `], '|') FROM ` + from + ` GROUP BY ` + keys
			if err := s.rows(ctx, q, nil, func(scan func(...any) error) error {
				var row string
				out = append(out, row)
				return scan(&out[len(out)-1])
			}); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			slices.Sort(out)
			return out
		}
		got, want := read(table), read("("+strings.ReplaceAll(sel, "{calls}", calls)+")")
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("%s: %d rows rolled up by its view, %d by rollupSelects; first differences: %v", table, len(got), len(want), firstDiff(got, want))
		}
	}
}

func firstDiff(a, b []string) [2]string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return [2]string{a[i], b[i]}
		}
	}
	return [2]string{}
}
