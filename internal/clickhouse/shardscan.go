package clickhouse

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/usage"
)

// On a cluster, a scan runs its query on one replica of every shard, on
// the shard's own tables, and merges the shards' rows here, in the order
// the query sorts them by: (time_ms, id), ascending or descending. Through
// the Distributed table a node of the cluster would do that merge, after
// decoding every row of the other shards and before encoding all of them
// again for usagelog: on the loopback cluster the query of a day of
// 1,000,000 calls (FORMAT Null) cost its four servers 1.1 to 1.65 CPU
// seconds that way, 0.83 to 0.88 on the two shards at once; a day's export
// of 6,000,000 went from a median of 846,595 rows/s to 1,030,069 with
// pieces of hours (BenchmarkClusterDemo/export-day, docs/deploy.md).

// shardKeys are the columns the shards' rows are merged by.
var shardKeys = []string{"time_ms", "id"}

// shardQuery is a query for eventsql.Stream that runs the query that sql
// makes for the shards' local events table on each shard, selecting cols
// and after them the merge's keys that cols lacks, and merges its rows.
func (s *Store) shardQuery(sql func(table string, cols []eventsql.Column) (string, []any), kind usage.Kind, cols []eventsql.Column, desc bool) func(context.Context) (eventsql.Rows, error) {
	qcols := slices.Clone(cols)
	keys := make([]int, len(shardKeys))
	for k, name := range shardKeys {
		i := slices.IndexFunc(qcols, func(c eventsql.Column) bool { return c.Name == name })
		if i < 0 {
			all := eventsql.KindColumns(kind)
			qcols = append(qcols, all[slices.IndexFunc(all, func(c eventsql.Column) bool { return c.Name == name })])
			i = len(qcols) - 1
		}
		keys[k] = i
	}
	query, args := sql(s.localTable("events")+" FINAL", qcols)
	return func(ctx context.Context) (eventsql.Rows, error) {
		q, err := s.nativeScanSQL(query, args)
		if err != nil {
			return nil, err
		}
		m := &shardRows{n: len(cols), ti: keys[0], ii: keys[1], desc: desc}
		for _, sh := range s.cluster.shardReplicas() {
			cfg := s.native
			cfg.addrs = sh.addrs
			rows, err := queryNative(ctx, cfg, q)
			if err != nil {
				m.Close()
				return nil, fmt.Errorf("shard %d: %w", sh.shard, err)
			}
			m.parts = append(m.parts, shardPart{sh.shard, rows})
		}
		return m, nil
	}
}

type shardPart struct {
	shard int
	rows  *nativeRows
}

// shardRows merges the shards' sorted rows (shardQuery).
type shardRows struct {
	parts   []shardPart
	heads   []shardPart // the parts that hold a current row
	cur     int         // which of heads is the current row's
	started bool
	n       int // the columns Scan fills; the merge's keys may follow
	ti, ii  int // the columns of time_ms and id
	desc    bool
	err     error
}

func (m *shardRows) Next() bool {
	if m.err != nil {
		return false
	}
	if !m.started {
		m.started = true
		for _, p := range m.parts {
			if m.advance(p) {
				m.heads = append(m.heads, p)
			}
		}
	} else if len(m.heads) > 0 && !m.advance(m.heads[m.cur]) {
		m.heads = slices.Delete(m.heads, m.cur, m.cur+1)
	}
	if m.err != nil || len(m.heads) == 0 {
		return false
	}
	m.cur = 0
	for i := 1; i < len(m.heads); i++ {
		if m.before(m.heads[i].rows, m.heads[m.cur].rows) {
			m.cur = i
		}
	}
	return true
}

// advance moves p to its next row, false at its end or an error (m.err).
func (m *shardRows) advance(p shardPart) bool {
	if p.rows.Next() {
		return true
	}
	if err := p.rows.Err(); err != nil {
		m.err = fmt.Errorf("shard %d: %w", p.shard, err)
	}
	return false
}

// before says whether a's current row comes before b's.
func (m *shardRows) before(a, b *nativeRows) bool {
	c := cmp.Compare(a.cols[m.ti].ints[a.row], b.cols[m.ti].ints[b.row])
	if c == 0 {
		c = strings.Compare(a.cols[m.ii].cell(a.row), b.cols[m.ii].cell(b.row))
	}
	if m.desc {
		return c > 0
	}
	return c < 0
}

func (m *shardRows) Scan(dest ...any) error {
	if len(dest) != m.n {
		return fmt.Errorf("scan: %d destinations for %d columns", len(dest), m.n)
	}
	return m.heads[m.cur].rows.scan(dest)
}

func (m *shardRows) Err() error { return m.err }

func (m *shardRows) Close() error {
	var err error
	for _, p := range m.parts {
		err = cmp.Or(err, p.rows.Close())
	}
	return err
}
