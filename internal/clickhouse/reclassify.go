package clickhouse

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// Reclassify classifies the workspace's stored API calls again by rules,
// a UTC month at a time (the events' partitions). For each month that
// holds calls the rules classify differently, the rollups that hold the
// usage type are corrected first, from those calls alone: each moves its
// count from the row of its old type to the row of its new one (a
// SummingMergeTree's sums: a negative count is inserted as its two's
// complement, which the sums wrap back). Calls stored meanwhile are
// classified by the rules already, so none of them is among those moved.
// Then one mutation rewrites the month's classes and types (ALTER TABLE …
// UPDATE, which ClickHouse runs in the background; it waits for it).
//
// A run stopped between the two leaves a month whose rollups moved and
// whose events did not: the run that takes it up (resumed) computes the
// rollups of every month that still changes again from its events
// (correct) rather than moving them twice. That comparison of the events
// with the rollups can miss a call stored into the month as it reads,
// which moving never does: it is for resumed runs only. Progress: the
// days of the months that change, and a step for each month's rewrite.
func (s *Store) Reclassify(ctx context.Context, workspaceID int64, rules usage.Classifier, resumed bool, progress func(done, total int64)) (int64, error) {
	class, typ := classifySQL(rules)
	// The statements carry every rule twice or more: room beyond the
	// default 256 KiB for 200 rules of 500 bytes.
	big := ch.Context(ctx, ch.WithSettings(ch.Settings{"max_query_size": 16 << 20}))
	differs := fmt.Sprintf(`workspace_id = %d AND kind = 1 AND (client_class != %s OR usage_type != %s)`, workspaceID, class, typ)
	type day struct{ ms, calls int64 }
	var (
		days    []day
		changed int64
	)
	if err := s.rows(big, `SELECT `+floorMS(summary.DayMS)+` AS d, toInt64(count()) FROM events FINAL WHERE `+differs+` GROUP BY d ORDER BY d`, nil,
		func(scan func(...any) error) error {
			var d day
			err := scan(&d.ms, &d.calls)
			days = append(days, d)
			changed += d.calls
			return err
		}); err != nil {
		return 0, fmt.Errorf("clickhouse: reclassify: %w", err)
	}
	month := func(ms int64) time.Time {
		t := time.UnixMilli(ms).UTC()
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	total := int64(len(days))
	for i := range days {
		if i == 0 || !month(days[i].ms).Equal(month(days[i-1].ms)) {
			total++
		}
	}
	var done int64
	report := func() {
		if progress != nil {
			progress(done, total)
		}
	}
	report()
	for i := 0; i < len(days); {
		m := month(days[i].ms)
		end := i
		for end < len(days) && month(days[end].ms).Equal(m) {
			end++
		}
		from, to := m.UnixMilli(), m.AddDate(0, 1, 0).UnixMilli()
		failed := func(err error) (int64, error) {
			return 0, fmt.Errorf("clickhouse: reclassify %s: %w", m.Format("2006-01"), err)
		}
		// Runs of days of correctionCalls calls or fewer together: a
		// day's queries cost more than its rows below that.
		for j := i; j < end; {
			k, calls := j+1, days[j].calls
			for k < end && calls+days[k].calls <= correctionCalls {
				calls += days[k].calls
				k++
			}
			lo, hi := days[j].ms, days[k-1].ms+summary.DayMS
			var err error
			if resumed {
				err = s.correct(big, workspaceID, typ, lo, hi, typedRollups)
			} else {
				err = s.moveCalls(big, workspaceID, typ, lo, hi)
			}
			if err != nil {
				return failed(err)
			}
			done += int64(k - j)
			report()
			j = k
		}
		if err := s.alter(big, "events", fmt.Sprintf(`UPDATE client_class = %s, usage_type = %s WHERE %s AND time_ms >= %d AND time_ms < %d`,
			class, typ, differs, from, to)); err != nil {
			return failed(err)
		}
		if err := s.waitMutations(ctx, "events"); err != nil {
			return failed(err)
		}
		done++
		report()
		i = end
	}
	return changed, nil
}

// moveCalls moves, in the typed rollups, the calls between from and to
// whose usage type differs from typ (the rules' expression) from the rows
// of their type to the rows of the type typ gives them.
func (s *Store) moveCalls(ctx context.Context, workspaceID int64, typ string, from, to int64) error {
	moved, err := s.readRows(ctx, `SELECT `+floorMS(summary.QuarterMS)+` AS bucket_ms, status, `+timingBucket+` AS tb, `+strings.Join(callStrs, ", ")+`, toInt64(count()), `+typ+` AS new_type
		FROM events FINAL WHERE workspace_id = ? AND kind = 1 AND time_ms >= ? AND time_ms < ? AND collection != '`+usage.SelfCollection+`' AND usage_type != new_type
		GROUP BY bucket_ms, status, tb, `+strings.Join(callStrs, ", ")+`, new_type`, len(callInts), len(callStrs), 1, true, workspaceID, from, to)
	if err != nil {
		return err
	}
	var calls []rollupRow
	for _, m := range moved {
		out := rollupRow{key: m.key, sums: [3]int64{-m.sums[0]}}
		in := rollupRow{key: m.key, sums: m.sums}
		in.key.strs[4] = m.extra
		calls = append(calls, out, in)
	}
	for _, r := range typedRollups {
		rows := map[rollupKey][3]int64{}
		for _, c := range calls {
			addRow(rows, r.of(c), 1)
		}
		if _, err := s.addRows(ctx, workspaceID, r, rows); err != nil {
			return err
		}
	}
	return nil
}

// addRow adds sign times row's sums to its key's in rows.
func addRow(rows map[rollupKey][3]int64, row rollupRow, sign int64) {
	w := rows[row.key]
	for i := range w {
		w[i] += sign * row.sums[i]
	}
	rows[row.key] = w
}

// addRows inserts into r the rows whose sums are not all zero, and says
// whether there were any.
func (s *Store) addRows(ctx context.Context, workspaceID int64, r typedRollup, rows map[rollupKey][3]int64) (bool, error) {
	var diff []rollupRow
	for k, w := range rows {
		if w != [3]int64{} {
			diff = append(diff, rollupRow{key: k, sums: w})
		}
	}
	if len(diff) == 0 {
		return false, nil
	}
	if err := s.insertDiff(ctx, workspaceID, r, diff); err != nil {
		return false, fmt.Errorf("%s: %w", r.table, err)
	}
	return true, nil
}

// correctionCalls bounds the calls of the days one correction reads
// together (unless one day holds more): a few hundred megabytes of rollup
// rows at most.
const correctionCalls = 300_000

// waitMutations waits until no mutation of the table ("": of any table
// of the database) is left to do: ClickHouse runs them in the background.
func (s *Store) waitMutations(ctx context.Context, name string) error {
	for {
		var pending uint64
		if err := s.db.QueryRowContext(ctx, `SELECT count() FROM `+s.mutationsSource()+` WHERE database = ? AND (? = '' OR table = ?) AND is_done = 0`,
			s.native.database, name, s.localTable(name)).Scan(&pending); err != nil {
			return err
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the mutations of %s: %w", cmp.Or(name, "the database"), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func floorMS(ms int64) string {
	n := strconv.FormatInt(ms, 10)
	return "(intDiv(time_ms, " + n + ") * " + n + " - if(time_ms % " + n + " < 0, " + n + ", 0))"
}

// timingBucket is summary.TimingBucket of timing_ms, as the views compute it.
const timingBucket = `if(timing_ms <= 128, greatest(timing_ms, 0), toInt64(129 + floor(log(timing_ms / 128) / log(1.02))))`

// rollupKey is a key of a rollup's row: its Int64 keys (the bucket first)
// and its String keys, those a rollup lacks left zero; comparable, so that
// a map of rows needs no key built.
type rollupKey struct {
	ints [3]int64
	strs [5]string
}

// rollupRow is a row of a rollup: its key and its sums (at most three).
type rollupRow struct {
	key  rollupKey
	sums [3]int64
	// extra is a String column read after the sums (a moved call's new
	// usage type).
	extra string
}

// The calls of the events, as read for a correction: a row by quarter
// hour, status, timing bucket and dimensions, which every typed rollup's
// rows add up from.
var (
	callInts = []string{"bucket_ms", "status", "tb"}
	callStrs = []string{"client", "collection", "collection_type", "community", "usage_type"}
)

// typedRollup is a rollup that holds calls by usage type (the views of
// migrations 033-034 and 050-052): its key columns, the sums it keeps,
// and the row of it that a row of the calls adds to.
type typedRollup struct {
	table      string
	ints, strs []string
	sums       []string
	of         func(call rollupRow) rollupRow
	// cond narrows its rows to those of (a part of a rollup that holds
	// rows of several kinds: one field's values).
	cond string
}

var typedRollups = []typedRollup{
	{table: "rollup_calls", ints: callInts, strs: callStrs, sums: []string{"calls"}, of: func(c rollupRow) rollupRow { return c }},
	{table: "rollup_hours", ints: []string{"bucket_ms", "status"}, strs: callStrs, sums: []string{"calls"}, of: func(c rollupRow) rollupRow {
		c.key.ints = [3]int64{summary.Floor(c.key.ints[0], summary.HourMS), c.key.ints[1]}
		return c
	}},
	{table: "rollup_days", ints: []string{"bucket_ms", "status"}, strs: callStrs, sums: []string{"calls"}, of: func(c rollupRow) rollupRow {
		c.key.ints = [3]int64{summary.Floor(c.key.ints[0], summary.DayMS), c.key.ints[1]}
		return c
	}},
	{table: "rollup_totals", ints: []string{"bucket_ms"}, sums: []string{"calls", "errors", "mcp"}, of: func(c rollupRow) rollupRow {
		n := c.sums[0]
		t := rollupRow{key: rollupKey{ints: [3]int64{c.key.ints[0]}}, sums: [3]int64{n}}
		if c.key.ints[1] >= 400 {
			t.sums[1] = n
		}
		if c.key.strs[4] == string(usage.TypeMCP) {
			t.sums[2] = n
		}
		return t
	}},
}

// untypedRollups are the other rollups of calls (migrations 039 and 041):
// the timing buckets of each day, and the values of the status class, the
// client and the collection, each part of rollup_values a rollup of its
// own. An erasure corrects them with the typed ones.
var untypedRollups = []typedRollup{
	{table: "rollup_timing_days", ints: []string{"bucket_ms", "tb"}, sums: []string{"calls"}, of: func(c rollupRow) rollupRow {
		return rollupRow{key: rollupKey{ints: [3]int64{summary.Floor(c.key.ints[0], summary.DayMS), c.key.ints[2]}}, sums: [3]int64{c.sums[0]}}
	}},
	valuesRollup(0, func(c rollupRow) string { return strconv.FormatInt(c.key.ints[1]/100, 10) }),
	valuesRollup(2, func(c rollupRow) string { return c.key.strs[0] }),
	valuesRollup(3, func(c rollupRow) string { return c.key.strs[1] }),
}

// valuesRollup is the part of rollup_values that holds the values of
// field dim (migration 041), which value gives of a call.
func valuesRollup(dim int64, value func(call rollupRow) string) typedRollup {
	return typedRollup{table: "rollup_values", ints: []string{"dim", "bucket_ms", "tb"}, strs: []string{"value"}, sums: []string{"calls", "errors"},
		cond: "dim = " + strconv.FormatInt(dim, 10), of: func(c rollupRow) rollupRow {
			r := rollupRow{key: rollupKey{ints: [3]int64{dim, summary.Floor(c.key.ints[0], summary.HourMS), c.key.ints[2]}, strs: [5]string{value(c)}},
				sums: [3]int64{c.sums[0]}}
			if c.key.ints[1] >= 400 {
				r.sums[1] = c.sums[0]
			}
			return r
		}}
}

// correct computes the workspace's rows of the typed rollups between from
// and to (UTC day boundaries) again from its events, classified by typ
// (the rules' expression), by adding what the events add up to less what
// the rollups hold; it reads them again while the totals disagree (three
// times at most: a call stored meanwhile can be in one read and not yet
// in the other). For resumed runs only (Reclassify).
func (s *Store) correct(ctx context.Context, workspaceID int64, typ string, from, to int64, rollups []typedRollup) error {
	dims := strings.Join(callStrs[:4], ", ")
	for range 3 {
		calls, err := s.readRows(ctx, `SELECT `+floorMS(summary.QuarterMS)+` AS bucket_ms, status, `+timingBucket+` AS tb, `+dims+`, `+typ+` AS new_type, toInt64(count())
			FROM events FINAL WHERE workspace_id = ? AND kind = 1 AND time_ms >= ? AND time_ms < ? AND collection != '`+usage.SelfCollection+`'
			GROUP BY bucket_ms, status, tb, `+dims+`, new_type`, len(callInts), len(callStrs), 1, false, workspaceID, from, to)
		if err != nil {
			return err
		}
		corrected := false
		for _, r := range rollups {
			want := make(map[rollupKey][3]int64, len(calls))
			for _, c := range calls {
				addRow(want, r.of(c), 1)
			}
			var sums []string
			for _, c := range r.sums {
				sums = append(sums, "toInt64(sum("+c+"))")
			}
			cols := strings.Join(append(slices.Clone(r.ints), r.strs...), ", ")
			// The calls still on their way count as rolled up (rollupFrom):
			// the buffer's flush adds them.
			where := "WHERE workspace_id = ? AND bucket_ms >= ? AND bucket_ms < ?"
			if r.cond != "" {
				where += " AND " + r.cond
			}
			src, args := s.rollupFrom(r.table, where, []any{workspaceID, from, to}, true)
			got, err := s.readRows(ctx, `SELECT `+cols+`, `+strings.Join(sums, ", ")+` FROM `+src+` GROUP BY `+cols, len(r.ints), len(r.strs), len(r.sums), false, args...)
			if err != nil {
				return fmt.Errorf("%s: %w", r.table, err)
			}
			// The difference: what the events add up to less what the
			// rollup holds, and what it holds that no event adds up to.
			for _, g := range got {
				addRow(want, g, -1)
			}
			added, err := s.addRows(ctx, workspaceID, r, want)
			if err != nil {
				return err
			}
			corrected = corrected || added
		}
		if !corrected {
			return nil
		}
		// A call stored into the days meanwhile could be in the events
		// read and not yet in the rollups read, or the other way round:
		// then the days' totals disagree, and they are read again.
		if agree, err := s.totalsAgree(ctx, workspaceID, typ, from, to); err != nil || agree {
			return err
		}
	}
	return nil
}

// totalsAgree tells whether the workspace's calls between from and to
// count as many, and as many MCP calls by typ (the stored usage_type, or
// the rules' expression), in the events as in rollup_totals.
func (s *Store) totalsAgree(ctx context.Context, workspaceID int64, typ string, from, to int64) (bool, error) {
	var calls, mcp, rolledCalls, rolledMCP int64
	if err := s.db.QueryRowContext(ctx, `SELECT toInt64(count()), toInt64(countIf(`+typ+` = 'mcp')) FROM events FINAL
		WHERE workspace_id = ? AND kind = 1 AND time_ms >= ? AND time_ms < ? AND collection != '`+usage.SelfCollection+`'`,
		workspaceID, from, to).Scan(&calls, &mcp); err != nil {
		return false, err
	}
	src, args := s.rollupFrom("rollup_totals", "WHERE workspace_id = ? AND bucket_ms >= ? AND bucket_ms < ?", []any{workspaceID, from, to}, true)
	if err := s.db.QueryRowContext(ctx, `SELECT toInt64(sum(calls)), toInt64(sum(mcp)) FROM `+src, args...).Scan(&rolledCalls, &rolledMCP); err != nil {
		return false, err
	}
	return calls == rolledCalls && mcp == rolledMCP, nil
}

// readRows reads rows of ints Int64, strs String and sums Int64 columns,
// through the scans' client (native.go): clickhouse-go's decoding of
// strings took most of a correction's time (BenchmarkReclassifyClickHouse).
func (s *Store) readRows(ctx context.Context, query string, ints, strs, sums int, extra bool, args ...any) ([]rollupRow, error) {
	rows, err := s.query(query, args)(ctx)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		out  []rollupRow
		row  rollupRow
		dest []any
	)
	for i := range ints {
		dest = append(dest, &row.key.ints[i])
	}
	for i := range strs {
		dest = append(dest, &row.key.strs[i])
	}
	for i := range sums {
		dest = append(dest, &row.sums[i])
	}
	if extra {
		dest = append(dest, &row.extra)
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		// The cells are substrings of their block: copied, so that a
		// row kept does not keep its block.
		for i := range strs {
			row.key.strs[i] = strings.Clone(row.key.strs[i])
		}
		row.extra = strings.Clone(row.extra)
		out = append(out, row)
	}
	return out, rows.Err()
}

// insertDiff adds the rows of diff to r, through its buffer: a negative
// sum as its two's complement.
func (s *Store) insertDiff(ctx context.Context, workspaceID int64, r typedRollup, diff []rollupRow) error {
	ws := make([]int64, len(diff))
	cols := []any{ws}
	for range r.ints {
		cols = append(cols, make([]int64, len(diff)))
	}
	for range r.strs {
		cols = append(cols, make([]string, len(diff)))
	}
	for range r.sums {
		cols = append(cols, make([]uint64, len(diff)))
	}
	for i, d := range diff {
		ws[i] = workspaceID
		for j := range r.ints {
			cols[1+j].([]int64)[i] = d.key.ints[j]
		}
		for j := range r.strs {
			cols[1+len(r.ints)+j].([]string)[i] = d.key.strs[j]
		}
		for j := range r.sums {
			cols[1+len(r.ints)+len(r.strs)+j].([]uint64)[i] = uint64(d.sums[j])
		}
	}
	names := append(append([]string{"workspace_id"}, r.ints...), r.strs...)
	return s.insert(ctx, `INSERT INTO `+s.rollupTable(r.table)+` (`+strings.Join(append(names, r.sums...), ", ")+`)`, cols)
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
