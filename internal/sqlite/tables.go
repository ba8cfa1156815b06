package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/usagelog/usagelog/internal/eventsql"
)

// The store keeps events in two tables of the same columns, in two files
// (arrivals_file.go):
//
//   - arrivals, in the arrivals file: what ingest appends, in arrival
//     order. Its seq is the arrival order and nothing else;
//     merge_state.merged_to, in the store's file, is the last seq merged.
//     Merged arrivals stay in the file until no reader can need them
//     (merge.go): reads read the view waiting, the arrivals above
//     merged_to, which each connection makes (a TEMP view).
//   - events, in the store's file: what the merge (merge.go) moved out of
//     arrivals, each step's rows inserted sorted by workspace, kind and
//     time. Its rowid says where a row lies and nothing else: the rewrite
//     in time order (cluster.go) copies the rows up to a rowid and adds
//     those above it at the swap.
//
// The rollups hold exactly the events of the events table; summaries add
// the api_request arrivals to them (tail.go). Every read of events reads
// both tables, through storedEvents or once per table, in one transaction.
//
// Locks, in the order they are taken (never the other way round):
//
//  1. clusterMu (one rewrite at a time), mergeMu (one merge step at a
//     time; purges, erasures and reclassifications hold it while they
//     change arrivals, which a merge step reads);
//  2. insertMu (prepared inserts and lookups): preparing one takes the
//     append connection, so no one holding that connection prepares;
//  3. the write connection (write: the store's file's writer, one
//     connection), which every transaction that changes the store's file
//     holds, or the append connection (appendDB: the arrivals file's
//     writer), which every transaction that changes the arrivals file
//     holds; never both at once;
//  4. appends.mu (the appends waiting to be stored), waiting.mu (the
//     waiting arrivals' ids, waiting_ids.go), combos.mu (rollup combo ids),
//     tail.mu (what readers hold of the arrivals), counted.mu (the latest
//     count), drops.mu (merged arrivals that may leave):
//     each guards only its own memory and takes no other lock.
//
// Readers (read, several connections) take none of these: in WAL mode they
// wait for no writer, and no writer waits for them. The checkpointers
// (checkpoints and arrivalCheckpoints, one connection each,
// checkpoint.go) copy each file's log on their own connections, taking
// none; to start a log again each takes mergeMu, then its file's writer,
// the write connection or the append connection (restartQuiet).
const (
	eventsTable   = "events"
	arrivalsTable = "arrivals"
	// waitingView is the arrivals not yet merged (waitingViewSQL).
	waitingView = "waiting"
	// unmergedArrival is waitingView's condition, for statements on
	// arrivals itself.
	unmergedArrival = "seq > (SELECT merged_to FROM merge_state WHERE id = 1)"
)

// storedEventsOf is a FROM term that reads events and waiting as one, with the
// columns cols: SQLite flattens it into a UNION ALL whose arms each use
// their own indexes, and merges arms that each read in an index's order
// (a logs page reads the newest rows of each).
func storedEventsOf(cols []string) string {
	list := strings.Join(cols, ", ")
	return "(SELECT " + list + " FROM " + eventsTable + " UNION ALL SELECT " + list + " FROM " + waitingView + ")"
}

// eventColumns reads the names of the events table's columns.
func eventColumns(ctx context.Context, q eventsql.Queryer) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM pragma_table_info('`+eventsTable+`') ORDER BY cid`)
	if err != nil {
		return nil, fmt.Errorf("columns of events: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, rows.Err()
}
