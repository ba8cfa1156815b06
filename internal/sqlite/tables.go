package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/usagelog/usagelog/internal/eventsql"
)

// The store keeps events in two tables of the same columns:
//
//   - arrivals: what ingest appends, in arrival order. Its seq is the
//     arrival order and nothing else; merge_state.merged_to is the last seq
//     merged. A merge step may leave what it merged in the table (merge.go):
//     reads read the view waiting, the arrivals above merged_to.
//   - events: what the merge (merge.go) moved out of arrivals, each step's
//     rows inserted sorted by workspace, kind and time. Its rowid says where
//     a row lies and nothing else: the rewrite in time order (cluster.go)
//     copies the rows up to a rowid and adds those above it at the swap.
//
// The rollups hold exactly the events of the events table; summaries add
// the api_request arrivals to them (tail.go). Every read of events reads
// both tables, through storedEvents or once per table, in one snapshot.
//
// Locks, in the order they are taken (never the other way round):
//
//  1. clusterMu (one rewrite at a time), mergeMu (one merge step at a
//     time);
//  2. insertMu (prepared inserts and lookups): preparing one takes the
//     write connection, so no one holding that connection prepares;
//  3. the write connection (write, one connection: SQLite has one
//     writer), which every transaction that changes the file holds;
//  4. appends.mu (the appends waiting to be stored), waiting.mu (the
//     waiting arrivals' ids, waiting_ids.go), combos.mu (rollup combo ids),
//     tail.mu (what readers hold of the arrivals), counted.mu (the latest
//     count):
//     each guards only its own memory and takes no other lock.
//
// Readers (read, several connections) take none of these: in WAL mode they
// wait for no writer, and no writer waits for them. The checkpointer
// (checkpoints, one connection, checkpoint.go) copies the log on its own
// connection, taking none; to start the log again it takes mergeMu, then
// the write connection (restartQuiet).
const (
	eventsTable   = "events"
	arrivalsTable = "arrivals"
	// waitingView is the arrivals not yet merged (migration 021).
	waitingView = "waiting"
	// unmergedArrival is waitingView's condition, for statements on
	// arrivals itself.
	unmergedArrival = "seq > (SELECT merged_to FROM merge_state WHERE id = 1)"
)

// eventTables are the tables an event may be in, merged ones first. The
// arrivals among them may hold merged ones too: what reads them counts
// only those of unmergedArrival.
var eventTables = []string{eventsTable, arrivalsTable}

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
