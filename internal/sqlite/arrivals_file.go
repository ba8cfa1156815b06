package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The arrivals live in a file of their own beside the store's (its path
// and "-arrivals"), with its own write-ahead log. SQLite has one writer a
// file: with the arrivals in the store's file, every append waited for the
// merge step under way, so merge steps were kept short (about 120 ms), and
// a short step out of time order writes about one page of each index of
// events per arrival (docs/write-path.md). Now appends write only the
// arrivals file and the merge only the store's, and each reads the other's
// through an attachment that is read-only: BEGIN IMMEDIATE takes the write
// lock of every attached file that is not.
//
// No transaction spans both files (one over two files in WAL mode is
// atomic in each, not across both): merge_state.merged_to, in the store's
// file, commits with the events and rollups a step wrote, and the merged
// arrivals leave the arrivals file later (dropMergedArrivals). Purges,
// erasures and reclassifications write each file in a transaction of its
// own, the arrivals' with the merge held back.
const (
	// arrivalsSchema is the arrivals file's name on the connections of the
	// store's file; storeSchema the store's file on the append connection.
	arrivalsSchema = "arrivals_file"
	storeSchema    = "store"
	// arrivalsFileMigration is the migration that moved the arrivals out
	// of the store's file (settleArrivals).
	arrivalsFileMigration = 23
)

// arrivalsPath is the arrivals file of the store at path.
func arrivalsPath(path string) string { return path + "-arrivals" }

// dbOptions is how each connection of a pool is set up.
type dbOptions struct {
	pragmas   []string
	immediate bool // transactions begin IMMEDIATE: the pool writes
	attach    []attachment
	setup     []string // statements run once the files are attached
}

// attachment is a file a connection attaches.
type attachment struct {
	path, schema string
	readOnly     bool
}

func (a attachment) statement() string { return "ATTACH DATABASE ? AS " + a.schema }

func (a attachment) uri() string {
	u := "file:" + (&url.URL{Path: a.path}).EscapedPath()
	if a.readOnly {
		u += "?mode=ro"
	}
	return u
}

// waitingViewSQL makes the view waiting, the arrivals not yet merged, on a
// connection: a view of the store's file cannot name a table of another
// file, a TEMP one can. Unqualified, arrivals is the arrivals file's table
// and merge_state the store file's, on every connection.
const waitingViewSQL = `CREATE TEMP VIEW IF NOT EXISTS ` + waitingView + ` AS SELECT * FROM ` + arrivalsTable + ` WHERE ` + unmergedArrival

// createArrivalsFile creates the arrivals file, if it is not there, in WAL
// mode, with its state; settleArrivals gives it its table.
func createArrivalsFile(ctx context.Context, path string) error {
	// auto_vacuum takes effect only in a file with no tables yet: the
	// pages of merged arrivals go back to the file system once the merge
	// has emptied the table (giveBackArrivalPages).
	db, err := openDB(arrivalsPath(path), dbOptions{pragmas: []string{"busy_timeout(" + strconv.Itoa(busyTimeoutMS) + ")", "auto_vacuum(INCREMENTAL)", "journal_mode(WAL)"}})
	if err != nil {
		return err
	}
	defer db.Close()
	// generation changes when arrivals change other than by new ones at
	// the top and merged ones leaving at the bottom (a purge, an erasure,
	// a reclassification): it tells readers that what they hold of the
	// arrivals is stale (tail.go).
	_, err = db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS arrival_state (
		id         INTEGER PRIMARY KEY CHECK (id = 1),
		generation INTEGER NOT NULL
	);
	INSERT OR IGNORE INTO arrival_state (id, generation) VALUES (1, 0)`)
	return err
}

// settleArrivals brings the arrivals file in step with the store's file,
// in one transaction over both (each file's part atomic): its table has
// every column of events, as the store's arrivals had (a migration that
// adds one to events needs nothing more), and its seqs go on above every
// seq the store gave, merged or not. At arrivalsFileMigration it also moves
// the store's arrivals table's waiting rows into it and drops the table; a
// crash between the two files' commits leaves the rows in both, and the
// next run moves them again, ignoring those there.
func settleArrivals(ctx context.Context, path string) error {
	db, err := openDB(path, dbOptions{
		pragmas:   []string{"busy_timeout(" + strconv.Itoa(busyTimeoutMS) + ")"},
		immediate: true,
		attach:    []attachment{{path: arrivalsPath(path), schema: arrivalsSchema}},
	})
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var moved int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, arrivalsFileMigration).Scan(&moved); err != nil {
		return err
	}
	cols, err := columnDefs(ctx, tx, eventsTable, "main")
	if err != nil {
		return err
	}
	have, err := columnDefs(ctx, tx, arrivalsTable, arrivalsSchema)
	if err != nil {
		return err
	}
	if len(have) == 0 {
		defs := make([]string, len(cols))
		for i, c := range cols {
			defs[i] = c.def
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE `+arrivalsSchema+`.`+arrivalsTable+` (
			seq INTEGER PRIMARY KEY AUTOINCREMENT, `+strings.Join(defs, ", ")+`);
			CREATE INDEX `+arrivalsSchema+`.arrivals_workspace_kind_time ON `+arrivalsTable+` (workspace_id, kind, time_ms, id)`); err != nil {
			return fmt.Errorf("arrivals table: %w", err)
		}
	} else {
		got := map[string]bool{}
		for _, c := range have {
			got[c.name] = true
		}
		for _, c := range cols {
			if got[c.name] {
				continue
			}
			if _, err := tx.ExecContext(ctx, `ALTER TABLE `+arrivalsSchema+`.`+arrivalsTable+` ADD COLUMN `+c.def); err != nil {
				return fmt.Errorf("arrivals column %s: %w", c.name, err)
			}
		}
	}
	var mergedTo int64
	if err := tx.QueryRowContext(ctx, `SELECT merged_to FROM main.merge_state WHERE id = 1`).Scan(&mergedTo); err != nil {
		return err
	}
	floor := mergedTo
	if moved == 0 {
		var old sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT max(seq) FROM main.sqlite_sequence WHERE name = 'arrivals'`).Scan(&old); err != nil {
			return err
		}
		floor = max(floor, old.Int64)
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = c.name
		}
		list := "seq, " + strings.Join(names, ", ")
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO `+arrivalsSchema+`.`+arrivalsTable+` (`+list+`)
			SELECT `+list+` FROM main.arrivals WHERE seq > ?`, mergedTo); err != nil {
			return fmt.Errorf("move the arrivals: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DROP VIEW IF EXISTS main.waiting; DROP TABLE main.arrivals`); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, arrivalsFileMigration, time.Now().UnixMilli()); err != nil {
			return err
		}
	}
	// A seq at or below merged_to would count as merged: the arrivals
	// file's own sequence never goes back below the store's.
	var top sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(seq) FROM `+arrivalsSchema+`.sqlite_sequence WHERE name = 'arrivals'`).Scan(&top); err != nil {
		return err
	}
	switch {
	case !top.Valid:
		_, err = tx.ExecContext(ctx, `INSERT INTO `+arrivalsSchema+`.sqlite_sequence (name, seq) VALUES ('arrivals', ?)`, floor)
	case top.Int64 < floor:
		_, err = tx.ExecContext(ctx, `UPDATE `+arrivalsSchema+`.sqlite_sequence SET seq = ? WHERE name = 'arrivals'`, floor)
	}
	if err != nil {
		return err
	}
	return tx.Commit()
}

// columnDef is a column of a table and its definition.
type columnDef struct{ name, def string }

// columnDefs reads the columns of table in schema but a primary key's.
func columnDefs(ctx context.Context, tx *sql.Tx, table, schema string) ([]columnDef, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?, ?) ORDER BY cid`, table, schema)
	if err != nil {
		return nil, fmt.Errorf("columns of %s.%s: %w", schema, table, err)
	}
	defer rows.Close()
	var out []columnDef
	for rows.Next() {
		var (
			name, typ   string
			notNull, pk bool
			dflt        sql.NullString
		)
		if err := rows.Scan(&name, &typ, &notNull, &dflt, &pk); err != nil {
			return nil, err
		}
		if pk {
			continue
		}
		def := name + " " + typ
		if notNull {
			def += " NOT NULL"
		}
		if dflt.Valid {
			def += " DEFAULT " + dflt.String
		}
		out = append(out, columnDef{name, def})
	}
	return out, rows.Err()
}
