package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"hash/maphash"
	"log/slog"
	"slices"
	"sync"

	"github.com/usagelog/usagelog/internal/eventsql"
)

// waitingIDs finds the waiting arrivals' ids without an index on them:
// an index keyed by id takes each appended event at a random place of it,
// which cost appends out of time order about as much as everything else
// they do (BenchmarkArrivalIndexes: 3,000,000 events in random time order
// into 3,000,000 were acknowledged at 35,651 a second with it, 58,278
// without).
//
// It maps a hash of each arrival's workspace and id to its seq, and a hit
// counts only once the row at that seq is read and has that workspace
// and id: a hash that two ids share, or an arrival that a purge or an
// erasure took, or whose append rolled back, never makes a duplicate.
// Merged arrivals are the events table's to find (the probe of
// appendIn): entries at or below merged_to are ignored, and dropped once
// they are most of the map.
//
// It is filled from the arrivals committed above the last seq it read,
// at the start of each append group's transaction, which holds the
// file's write lock: so the appends of another process on the same file
// are read too, and those of a group that rolled back never are. When
// the store opens, preload reads the ids of every waiting arrival on a
// read connection, so that the first append group, which waits for it,
// does not hold the write connection while it reads them all (millions
// after a crash during a large load).
type waitingIDs struct {
	mu     sync.Mutex
	seed   maphash.Seed
	seqs   map[uint64]int64   // hash -> the seq of an arrival with it
	more   map[uint64][]int64 // further seqs of hashes in seqs (rare)
	upTo   int64              // every arrival committed up to it is read
	loaded bool
	ready  chan struct{} // closed when preload ends
}

// waitingKey is what waitingIDs hashes.
type waitingKey struct {
	ws int64
	id string
}

func newWaitingIDs() waitingIDs {
	return waitingIDs{seed: maphash.MakeSeed(), ready: make(chan struct{})}
}

// preload reads the ids of the waiting arrivals in one snapshot of db,
// and closes ready. If it fails, the first append group reads them.
func (w *waitingIDs) preload(ctx context.Context, db *sql.DB) {
	defer close(w.ready)
	if err := w.load(ctx, db); err != nil && ctx.Err() == nil {
		slog.Warn("sqlite: read the waiting arrivals' ids", "err", err)
	}
}

func (w *waitingIDs) load(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var mergedTo int64
	if err := tx.QueryRowContext(ctx, `SELECT merged_to FROM merge_state WHERE id = 1`).Scan(&mergedTo); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seqs, w.more, w.upTo = map[uint64]int64{}, nil, mergedTo
	if err := w.read(ctx, tx, mergedTo); err != nil {
		return err
	}
	w.loaded = true
	return nil
}

// verifyBatch is how many seqs one read of candidate rows takes.
const verifyBatch = 500

// catchUp reads the ids of the arrivals committed since the last call,
// in tx (an append group's, before its inserts), and returns merged_to.
func (w *waitingIDs) catchUp(ctx context.Context, tx *sql.Tx) (mergedTo int64, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var top int64
	if err := tx.QueryRowContext(ctx, `SELECT merged_to, (SELECT coalesce(max(seq), 0) FROM `+arrivalsTable+`) FROM merge_state WHERE id = 1`).Scan(&mergedTo, &top); err != nil {
		return 0, fmt.Errorf("waiting ids: %w", err)
	}
	if !w.loaded || top <= mergedTo {
		// Nothing waits, or nothing is read yet: start again from
		// merged_to.
		w.seqs, w.more, w.upTo, w.loaded = map[uint64]int64{}, nil, mergedTo, true
	} else if int64(len(w.seqs)) > 2*(top-mergedTo)+100_000 {
		w.dropMerged(mergedTo)
	}
	from := max(w.upTo, mergedTo)
	if top <= from {
		return mergedTo, nil
	}
	if err := w.read(ctx, tx, from); err != nil {
		return 0, fmt.Errorf("waiting ids: %w", err)
	}
	return mergedTo, nil
}

// read adds the arrivals above seq from, as q sees them, with w.mu held.
func (w *waitingIDs) read(ctx context.Context, q eventsql.Queryer, from int64) error {
	rows, err := q.QueryContext(ctx, `SELECT seq, workspace_id, id FROM `+arrivalsTable+` WHERE seq > ? ORDER BY seq`, from)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var k waitingKey
		if err := rows.Scan(&seq, &k.ws, &k.id); err != nil {
			return err
		}
		w.add(k, seq)
		w.upTo = seq
	}
	return rows.Err()
}

func (w *waitingIDs) add(k waitingKey, seq int64) {
	h := maphash.Comparable(w.seed, k)
	if _, ok := w.seqs[h]; !ok {
		w.seqs[h] = seq
		return
	}
	if w.more == nil {
		w.more = map[uint64][]int64{}
	}
	w.more[h] = append(w.more[h], seq)
}

// dropMerged forgets the entries at or below mergedTo.
func (w *waitingIDs) dropMerged(mergedTo int64) {
	for h, seq := range w.seqs {
		if seq <= mergedTo {
			delete(w.seqs, h)
		}
	}
	for h, seqs := range w.more {
		seqs = slices.DeleteFunc(seqs, func(seq int64) bool { return seq <= mergedTo })
		if len(seqs) == 0 {
			delete(w.more, h)
			continue
		}
		if _, ok := w.seqs[h]; !ok {
			w.seqs[h], seqs = seqs[0], seqs[1:]
		}
		if len(seqs) == 0 {
			delete(w.more, h)
		} else {
			w.more[h] = seqs
		}
	}
}

// find returns which of ids (sorted) the workspace's waiting arrivals
// (above mergedTo) hold, reading candidate rows in tx.
func (w *waitingIDs) find(ctx context.Context, tx *sql.Tx, ws, mergedTo int64, ids []string) (map[string]struct{}, error) {
	w.mu.Lock()
	var seqs []any
	for _, id := range ids {
		h := maphash.Comparable(w.seed, waitingKey{ws, id})
		seq, ok := w.seqs[h]
		if !ok {
			continue
		}
		for _, s := range append([]int64{seq}, w.more[h]...) {
			if s > mergedTo {
				seqs = append(seqs, s)
			}
		}
	}
	w.mu.Unlock()
	var out map[string]struct{}
	for chunk := range slices.Chunk(seqs, verifyBatch) {
		rows, err := tx.QueryContext(ctx, `SELECT id FROM `+arrivalsTable+` WHERE workspace_id = ? AND seq IN (`+eventsql.Placeholders(len(chunk))+`)`,
			append([]any{ws}, chunk...)...)
		if err != nil {
			return nil, fmt.Errorf("waiting ids: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("waiting ids: %w", err)
			}
			if out == nil {
				out = map[string]struct{}{}
			}
			out[id] = struct{}{}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("waiting ids: %w", err)
		}
	}
	// A row read for a hash that another id shares has an id not asked.
	for id := range out {
		if _, ok := slices.BinarySearch(ids, id); !ok {
			delete(out, id)
		}
	}
	return out, nil
}
