package clickhouse

import (
	"fmt"
	"strings"

	"github.com/usagelog/usagelog/internal/summary"
)

// An insert of API calls only copies the rollups' columns into
// rollup_incoming_buffer (migrations 066-080); about a second later
// ClickHouse flushes that buffer on a thread of its own, and the rollup
// views run there, not in the insert. Until then a read of a rollup adds
// the buffer's rows, rolled up as the view would (rollupFrom): a summary
// counts a call from the moment its insert is acknowledged.

// rollupDims are the fields every call rollup keeps.
const rollupDims = "status, client, collection, collection_type, community, usage_type"

// rollupSelects are the rollup views' SELECTs (migrations 074-079) with the
// source left open ({calls}), in the column order of their tables. The test
// TestRollupSelectsAreTheViews checks them against what the views stored.
var rollupSelects = map[string]string{
	"rollup_hours": `SELECT workspace_id, ` + bucketSQL(summary.HourMS) + ` AS bucket_ms, ` + rollupDims + `, count() AS calls
		FROM {calls} GROUP BY workspace_id, bucket_ms, ` + rollupDims,
	"rollup_days": `SELECT workspace_id, ` + bucketSQL(summary.DayMS) + ` AS bucket_ms, ` + rollupDims + `, count() AS calls
		FROM {calls} GROUP BY workspace_id, bucket_ms, ` + rollupDims,
	"rollup_calls": `SELECT workspace_id, ` + bucketSQL(summary.QuarterMS) + ` AS bucket_ms, ` + rollupDims + `, toInt64(` + summary.TimingBucketSQL("timing_ms") + `) AS tb, count() AS calls
		FROM {calls} GROUP BY workspace_id, bucket_ms, ` + rollupDims + `, tb`,
	"rollup_totals": `SELECT workspace_id, ` + bucketSQL(summary.QuarterMS) + ` AS bucket_ms, count() AS calls, countIf(status >= 400) AS errors, countIf(usage_type = 'mcp') AS mcp
		FROM {calls} GROUP BY workspace_id, bucket_ms`,
	"rollup_timing_days": `SELECT workspace_id, ` + bucketSQL(summary.DayMS) + ` AS bucket_ms, toInt64(` + summary.TimingBucketSQL("timing_ms") + `) AS tb, count() AS calls
		FROM {calls} GROUP BY workspace_id, bucket_ms, tb`,
	"rollup_values": `SELECT workspace_id, toInt64(d.1) AS dim, d.2 AS value, ` + bucketSQL(summary.HourMS) + ` AS bucket_ms, toInt64(` + summary.TimingBucketSQL("timing_ms") + `) AS tb, count() AS calls, countIf(status >= 400) AS errors
		FROM {calls} ARRAY JOIN [(0, toString(intDiv(status, 100))), (2, client), (3, collection)] AS d GROUP BY workspace_id, dim, value, bucket_ms, tb`,
}

// rollupTable is what reads and writes of a rollup name: its buffer on one
// server, the Distributed table on a cluster.
func (s *Store) rollupTable(table string) string {
	if s.cluster != nil {
		return table
	}
	return table + "_buffer"
}

// bucketSQL is the start of time_ms's bucket of grain ms (floor, for
// times before 1970 too).
func bucketSQL(grain int64) string {
	return fmt.Sprintf("(intDiv(time_ms, %[1]d) * %[1]d - if(time_ms %% %[1]d < 0, %[1]d, 0))", grain)
}

// rollupFrom is the FROM clause of a read of table (a rollup) with where
// (its WHERE clause and args): the rollup through its buffer, and the
// calls still waiting in rollup_incoming_buffer rolled up the same way.
// where is applied to both, so that each is read by its key. Without
// tail, the buffer is known to hold none of the calls read (Rollup). A
// cluster's rollups have no buffers (cluster.go): the table alone.
func (s *Store) rollupFrom(table, where string, args []any, tail bool) (string, []any) {
	sel, ok := rollupSelects[table]
	if !ok || !tail || s.cluster != nil {
		return s.rollupTable(table) + " " + where, args
	}
	both := make([]any, 0, 2*len(args))
	both = append(append(both, args...), args...)
	var b strings.Builder
	b.WriteString("(SELECT * FROM " + table + "_buffer " + where)
	b.WriteString(" UNION ALL SELECT * FROM (" + strings.ReplaceAll(sel, "{calls}", "rollup_incoming_buffer") + ") " + where + ")")
	return b.String(), both
}
