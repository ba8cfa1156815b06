package clickhouse

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// Reclassify classifies the workspace's stored API calls again by rules:
// one mutation rewrites the class and type of the calls that change
// (ALTER TABLE … UPDATE, which ClickHouse runs in the background; it
// waits for it), then each UTC day's rollups that hold the usage type are
// corrected. A correction adds, for each rollup row, the difference
// between the calls of the events and what the rollup holds, in a
// SummingMergeTree's way: a negative difference is inserted as its
// two's complement, which the sums wrap back. Run again, it finds nothing
// to correct; a call stored into a day while its correction runs can make
// it off by that call, so a day is read again until nothing is left to
// correct. Progress: the rewrite is a step, each day another.
func (s *Store) Reclassify(ctx context.Context, workspaceID int64, rules usage.Classifier, progress func(done, total int64)) (int64, error) {
	class, typ := classifySQL(rules)
	var days []int64
	if err := s.rows(ctx, `SELECT DISTINCT intDiv(time_ms, 86400000) * 86400000 - if(time_ms % 86400000 < 0, 86400000, 0) AS d
		FROM events WHERE workspace_id = ? AND kind = 1 ORDER BY d`, []any{workspaceID}, func(scan func(...any) error) error {
		var d int64
		err := scan(&d)
		days = append(days, d)
		return err
	}); err != nil {
		return 0, fmt.Errorf("clickhouse: reclassify: %w", err)
	}
	total := int64(len(days)) + 1
	report := func(done int64) {
		if progress != nil {
			progress(done, total)
		}
	}
	report(0)
	// The statements carry every rule twice or more: room beyond the
	// default 256 KiB for 200 rules of 500 bytes.
	big := ch.Context(ctx, ch.WithSettings(ch.Settings{"max_query_size": 16 << 20}))
	differs := fmt.Sprintf(`workspace_id = %d AND kind = 1 AND (client_class != %s OR usage_type != %s)`, workspaceID, class, typ)
	var changed int64
	if err := s.db.QueryRowContext(big, `SELECT toInt64(count()) FROM events FINAL WHERE `+differs).Scan(&changed); err != nil {
		return 0, fmt.Errorf("clickhouse: reclassify: %w", err)
	}
	if changed > 0 {
		if _, err := s.db.ExecContext(big, fmt.Sprintf(`ALTER TABLE events UPDATE client_class = %s, usage_type = %s WHERE %s`, class, typ, differs)); err != nil {
			return 0, fmt.Errorf("clickhouse: reclassify: %w", err)
		}
		if err := s.waitMutations(ctx, "events"); err != nil {
			return 0, fmt.Errorf("clickhouse: reclassify: %w", err)
		}
	}
	report(1)
	// The rollups' buffers are read with the tables: what a view wrote
	// seconds ago counts.
	for i, day := range days {
		for _, r := range typedRollups {
			if err := s.correct(ctx, workspaceID, r, day); err != nil {
				return changed, fmt.Errorf("clickhouse: reclassify %s on %s: %w", r.table, time.UnixMilli(day).UTC().Format(time.DateOnly), err)
			}
		}
		report(int64(i) + 2)
	}
	return changed, nil
}

// waitMutations waits until no mutation of the table is left to do.
func (s *Store) waitMutations(ctx context.Context, name string) error {
	for {
		var pending uint64
		if err := s.db.QueryRowContext(ctx, `SELECT count() FROM system.mutations WHERE database = currentDatabase() AND table = ? AND is_done = 0`, name).Scan(&pending); err != nil {
			return err
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the rewrite of %s: %w", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// typedRollup is a rollup that holds calls by usage type: its key columns
// (the grain's bucket first) and the sums it keeps, as read from the
// events.
type typedRollup struct {
	table, grain string // grain: the bucket_ms expression over time_ms
	keys         []string
	strings      int      // keys[len(keys)-strings:] are String, the rest Int64
	sums         []string // names of the UInt64 columns
	sumsOfEvents []string // their values from the events
}

func floorMS(ms int64) string {
	n := strconv.FormatInt(ms, 10)
	return "(intDiv(time_ms, " + n + ") * " + n + " - if(time_ms % " + n + " < 0, " + n + ", 0))"
}

// timingBucket is summary.TimingBucket of timing_ms, as the views compute it.
const timingBucket = `if(timing_ms <= 128, greatest(timing_ms, 0), toInt64(129 + floor(log(timing_ms / 128) / log(1.02))))`

var dimensions = []string{"client", "collection", "collection_type", "community", "usage_type"}

// typedRollups are the rollups that hold the usage type: the views of
// migrations 050-053 and 033-034, keyed the same way.
var typedRollups = []typedRollup{
	{table: "rollup_calls", grain: floorMS(summary.QuarterMS), keys: append([]string{"bucket_ms", "status", "tb"}, dimensions...), strings: len(dimensions),
		sums: []string{"calls"}, sumsOfEvents: []string{"count()"}},
	{table: "rollup_hours", grain: floorMS(summary.HourMS), keys: append([]string{"bucket_ms", "status"}, dimensions...), strings: len(dimensions),
		sums: []string{"calls"}, sumsOfEvents: []string{"count()"}},
	{table: "rollup_days", grain: floorMS(summary.DayMS), keys: append([]string{"bucket_ms", "status"}, dimensions...), strings: len(dimensions),
		sums: []string{"calls"}, sumsOfEvents: []string{"count()"}},
	{table: "rollup_totals", grain: floorMS(summary.QuarterMS), keys: []string{"bucket_ms"},
		sums: []string{"calls", "errors", "mcp"}, sumsOfEvents: []string{"count()", "countIf(status >= 400)", "countIf(usage_type = 'mcp')"}},
}

// correct makes the workspace's rows of r in the UTC day that begins at
// day agree with its events, reading the day again after a correction
// until there is none left (three times at most: ingest into the day can
// move it meanwhile).
func (s *Store) correct(ctx context.Context, workspaceID int64, r typedRollup, day int64) error {
	for range 3 {
		diff, err := s.rollupDiff(ctx, workspaceID, r, day)
		if err != nil || len(diff) == 0 {
			return err
		}
		if err := s.insertDiff(ctx, workspaceID, r, diff); err != nil {
			return err
		}
	}
	return nil
}

// rollupRow is a key of a rollup and its sums.
type rollupRow struct {
	ints []int64
	strs []string
	sums []int64
}

func (k rollupRow) key() string {
	var b strings.Builder
	for _, n := range k.ints {
		b.WriteString(strconv.FormatInt(n, 10))
		b.WriteByte(0)
	}
	for _, s := range k.strs {
		b.WriteString(s)
		b.WriteByte(0)
	}
	return b.String()
}

// rollupDiff is what the events of the day add up to, less what r holds
// of them, by key: the rows to add for r to agree.
func (s *Store) rollupDiff(ctx context.Context, workspaceID int64, r typedRollup, day int64) ([]rollupRow, error) {
	ints := len(r.keys) - r.strings
	var want []rollupRow
	got := map[string]rollupRow{}
	read := func(query string, each func(rollupRow)) error {
		return s.rows(ctx, query, []any{workspaceID, day, day + summary.DayMS}, func(scan func(...any) error) error {
			row := rollupRow{ints: make([]int64, ints), strs: make([]string, r.strings), sums: make([]int64, len(r.sums))}
			dest := make([]any, 0, len(r.keys)+len(r.sums))
			for i := range row.ints {
				dest = append(dest, &row.ints[i])
			}
			for i := range row.strs {
				dest = append(dest, &row.strs[i])
			}
			for i := range row.sums {
				dest = append(dest, &row.sums[i])
			}
			if err := scan(dest...); err != nil {
				return err
			}
			each(row)
			return nil
		})
	}
	keys := strings.Join(r.keys, ", ")
	var fromEvents, fromRollup []string
	for i, k := range r.keys {
		switch k {
		case "bucket_ms":
			fromEvents = append(fromEvents, r.grain+" AS bucket_ms")
		case "tb":
			fromEvents = append(fromEvents, timingBucket+" AS tb")
		default:
			fromEvents = append(fromEvents, k)
		}
		if i < ints {
			fromRollup = append(fromRollup, "toInt64("+k+")")
		} else {
			fromRollup = append(fromRollup, k)
		}
	}
	for i, sum := range r.sumsOfEvents {
		fromEvents = append(fromEvents, "toInt64("+sum+")")
		fromRollup = append(fromRollup, "toInt64(sum("+r.sums[i]+"))")
	}
	if err := read(`SELECT `+strings.Join(fromEvents, ", ")+` FROM events FINAL
		WHERE workspace_id = ? AND kind = 1 AND time_ms >= ? AND time_ms < ? AND collection != '`+usage.SelfCollection+`'
		GROUP BY `+keys, func(row rollupRow) { want = append(want, row) }); err != nil {
		return nil, err
	}
	if err := read(`SELECT `+strings.Join(fromRollup, ", ")+` FROM `+r.table+`_buffer
		WHERE workspace_id = ? AND bucket_ms >= ? AND bucket_ms < ? GROUP BY `+keys, func(row rollupRow) { got[row.key()] = row }); err != nil {
		return nil, err
	}
	var diff []rollupRow
	add := func(row rollupRow, sign int64, base []int64) {
		d := rollupRow{ints: row.ints, strs: row.strs, sums: make([]int64, len(row.sums))}
		nonzero := false
		for i := range row.sums {
			d.sums[i] = sign * row.sums[i]
			if base != nil {
				d.sums[i] -= base[i]
			}
			nonzero = nonzero || d.sums[i] != 0
		}
		if nonzero {
			diff = append(diff, d)
		}
	}
	for _, row := range want {
		k := row.key()
		add(row, 1, got[k].sums)
		delete(got, k)
	}
	// What the rollup holds that no event adds up to any more.
	for _, row := range got {
		add(row, -1, nil)
	}
	return diff, nil
}

// insertDiff adds the rows of diff to r, through its buffer: a negative
// sum as its two's complement.
func (s *Store) insertDiff(ctx context.Context, workspaceID int64, r typedRollup, diff []rollupRow) error {
	ints := len(r.keys) - r.strings
	cols := []any{make([]int64, len(diff))}
	for range ints {
		cols = append(cols, make([]int64, len(diff)))
	}
	for range r.strings {
		cols = append(cols, make([]string, len(diff)))
	}
	for range r.sums {
		cols = append(cols, make([]uint64, len(diff)))
	}
	for i, d := range diff {
		cols[0].([]int64)[i] = workspaceID
		for j, n := range d.ints {
			cols[1+j].([]int64)[i] = n
		}
		for j, v := range d.strs {
			cols[1+ints+j].([]string)[i] = v
		}
		for j, n := range d.sums {
			cols[1+len(r.keys)+j].([]uint64)[i] = uint64(n)
		}
	}
	return s.insert(ctx, `INSERT INTO `+r.table+`_buffer (workspace_id, `+strings.Join(r.keys, ", ")+`, `+strings.Join(r.sums, ", ")+`)`, cols)
}

// classifySQL is the client class and the usage type that rules give an
// event, as ClickHouse expressions over its url and user_agent that
// compute what usage.Classifier.Classify does: bytes compared, ASCII
// letters of a User-Agent prefix in either case, ASCII white space around
// the User-Agent left out.
func classifySQL(rules usage.Classifier) (class, typ string) {
	const (
		at   = `position(url, '://')`
		rest = `substring(url, ` + at + ` + 3)`
		path = `if(` + at + ` = 0, url, if(position(` + rest + `, '/') = 0, '/', substring(` + rest + `, position(` + rest + `, '/'))))`
	)
	ua := `lower(replaceRegexpAll(user_agent, ` + quoteString("^["+usage.ASCIISpace+"]+|["+usage.ASCIISpace+"]+$") + `, ''))`
	if len(rules) == 0 {
		return quoteString(usage.NoMatchSystem), quoteString(string(usage.TypeOther))
	}
	var c, t strings.Builder
	c.WriteString("multiIf(")
	t.WriteString("multiIf(")
	for _, r := range rules {
		var conds []string
		if r.URLPrefix != "" {
			conds = append(conds, fmt.Sprintf("substring(%s, 1, %d) = %s", path, len(r.URLPrefix), quoteString(r.URLPrefix)))
		}
		if r.UserAgentPrefix != "" {
			conds = append(conds, fmt.Sprintf("substring(%s, 1, %d) = %s", ua, len(r.UserAgentPrefix), quoteString(lowerASCII(r.UserAgentPrefix))))
		}
		cond := strings.Join(conds, " AND ")
		fmt.Fprintf(&c, "%s, %s, ", cond, quoteString(r.System))
		fmt.Fprintf(&t, "%s, %s, ", cond, quoteString(string(r.UsageType)))
	}
	c.WriteString(quoteString(usage.NoMatchSystem) + ")")
	t.WriteString(quoteString(string(usage.TypeOther)) + ")")
	return c.String(), t.String()
}

// lowerASCII lowers the ASCII letters of s, as ClickHouse's lower does.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
