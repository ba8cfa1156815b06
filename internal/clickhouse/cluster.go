package clickhouse

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/usagelog/usagelog/internal/usage"
)

// A store on a cluster (the DSN's cluster=NAME, a cluster of the servers'
// remote_servers) keeps its events and rollups in tables of one node,
// named *_local, on every node, replicated across each shard's replicas
// when the cluster has replicas, and reads and inserts through
// Distributed tables that bear the single server's names (cluster/*.sql):
// the queries are the same on both. What differs is here:
//
//   - the rollups are filled by views in the insert, not through Buffer
//     tables, whose rows would wait in one node's memory;
//   - an insert returns once every shard it touches has stored its rows
//     (insert_distributed_sync), never from a node's send queue;
//   - reads and inserts pick each shard's replicas in the order of the
//     servers' remote_servers (load_balancing = in_order, which the
//     user's profile must set: ClickHouse 18.16 takes no string setting
//     from clickhouse-go), so a read sees what this store just wrote,
//     unless the replica it wrote to has died since;
//   - DDL runs ON CLUSTER; mutations run on the *_local tables of one
//     replica of each shard (alter).

//go:embed cluster/*.sql
var clusterMigrations embed.FS

// cluster is what a store on a cluster knows of it.
type cluster struct {
	name string
	// replicated: some shard has two replicas or more, and the *_local
	// tables are Replicated*MergeTree, kept in step through ZooKeeper.
	replicated bool
	// nodes are every node's native address, for what each node must be
	// asked itself (system.mutations), and shards their shard numbers.
	nodes  []string
	shards []int
	// opts are the store's connection options, for connections to one
	// node (nodeDB).
	opts ch.Options

	mu      sync.Mutex
	nodeDBs map[string]*sql.DB
}

// clusterSettings are the settings of every query of a store on a cluster.
func clusterSettings() map[string]any {
	return map[string]any{
		"insert_distributed_sync": 1,
		// Two inserts whose rollup rows are alike (one call each of the
		// same client in the same quarter hour) must both count: Replicated
		// tables drop an insert whose block equals an earlier one's. A
		// re-sent event is a duplicate by its id (existing, FINAL).
		"insert_deduplicate": 0,
	}
}

// lookupCluster reads name's shape from the server's system.clusters.
func lookupCluster(ctx context.Context, db *sql.DB, name string) (*cluster, error) {
	rows, err := db.QueryContext(ctx, `SELECT host_address, port, shard_num, replica_num FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num`, name)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: cluster %s: %w", name, err)
	}
	defer rows.Close()
	c := &cluster{name: name}
	for rows.Next() {
		var (
			host           string
			port           uint16
			shard, replica uint32
		)
		if err := rows.Scan(&host, &port, &shard, &replica); err != nil {
			return nil, fmt.Errorf("clickhouse: cluster %s: %w", name, err)
		}
		c.nodes = append(c.nodes, fmt.Sprintf("%s:%d", host, port))
		c.shards = append(c.shards, int(shard))
		if replica > 1 {
			c.replicated = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: cluster %s: %w", name, err)
	}
	if len(c.nodes) == 0 {
		return nil, fmt.Errorf("clickhouse: cluster %q is not in the server's remote_servers", name)
	}
	var balancing string
	if err := db.QueryRowContext(ctx, `SELECT value FROM system.settings WHERE name = 'load_balancing'`).Scan(&balancing); err != nil {
		return nil, fmt.Errorf("clickhouse: cluster %s: %w", name, err)
	}
	if balancing != "in_order" {
		return nil, fmt.Errorf("clickhouse: cluster %s: load_balancing is %s for this user; set it to in_order in the user's profile on every node (docs/deploy.md), so that reads go to the replicas that inserts go to", name, balancing)
	}
	return c, nil
}

// onCluster is the ON CLUSTER clause of DDL and mutations: empty on one
// server.
func (s *Store) onCluster() string {
	if s.cluster == nil {
		return ""
	}
	return "ON CLUSTER " + s.cluster.name
}

// localTable is the table that holds table's rows on a node: the table
// itself on one server, its *_local table on a cluster's nodes.
func (s *Store) localTable(table string) string {
	if s.cluster == nil {
		return table
	}
	return table + "_local"
}

// alter runs ALTER TABLE table clause (a mutation) where table's rows are:
// on a cluster, on one replica of each shard, which hands it to the
// others through ZooKeeper (a Replicated table's mutation is the
// shard's). Not ON CLUSTER: ClickHouse 18.16's DDL worker races its
// replicas for such an ALTER ("Node exists … /executed") and may stop on
// the loser, after which no ON CLUSTER query finishes on that node.
func (s *Store) alter(ctx context.Context, table, clause string) error {
	stmt := "ALTER TABLE " + s.localTable(table) + " " + clause
	if s.cluster == nil {
		_, err := s.db.ExecContext(ctx, stmt)
		return err
	}
	for _, sh := range s.cluster.shardReplicas() {
		var errs []error
		done := false
		for _, addr := range sh.addrs {
			if _, err := s.cluster.nodeDB(addr).ExecContext(ctx, stmt); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", addr, err))
				continue
			}
			done = true
			break
		}
		if !done {
			return fmt.Errorf("shard %d: %w", sh.shard, errors.Join(errs...))
		}
	}
	return nil
}

// shardNodes is a shard's number and its replicas' native addresses, in the
// order of remote_servers. Without replicas every node is a shard of its
// own.
type shardNodes struct {
	shard int
	addrs []string
}

// shardReplicas are the cluster's shards in the order of remote_servers
// (lookupCluster reads the nodes by shard and replica).
func (c *cluster) shardReplicas() []shardNodes {
	var out []shardNodes
	for i, addr := range c.nodes {
		if i == 0 || c.shards[i] != c.shards[i-1] {
			out = append(out, shardNodes{shard: c.shards[i]})
		}
		out[len(out)-1].addrs = append(out[len(out)-1].addrs, addr)
	}
	return out
}

// nodeDB is a connection pool to node addr alone.
func (c *cluster) nodeDB(addr string) *sql.DB {
	c.mu.Lock()
	defer c.mu.Unlock()
	if db, ok := c.nodeDBs[addr]; ok {
		return db
	}
	opts := c.opts
	opts.Addr = []string{addr}
	db := ch.OpenDB(&opts)
	db.SetMaxOpenConns(2)
	if c.nodeDBs == nil {
		c.nodeDBs = map[string]*sql.DB{}
	}
	c.nodeDBs[addr] = db
	return db
}

// closeNodes closes the connections to single nodes.
func (s *Store) closeNodes() error {
	if s.cluster == nil {
		return nil
	}
	s.cluster.mu.Lock()
	defer s.cluster.mu.Unlock()
	var errs []error
	for _, db := range s.cluster.nodeDBs {
		errs = append(errs, db.Close())
	}
	return errors.Join(errs...)
}

// mutationsSource is where the store's mutations are listed: every node's
// system.mutations on a cluster.
func (s *Store) mutationsSource() string {
	if s.cluster == nil {
		return "system.mutations"
	}
	return "remote('" + strings.Join(s.cluster.nodes, ",") + "', system.mutations)"
}

// migrateCluster applies the cluster's schema (cluster/*.sql) as migrate
// does the single server's, ON CLUSTER. The versions applied are kept in
// a table every node holds, replicated across the whole cluster, so that
// any node an instance connects to knows them; two instances starting
// together both run a version's CREATE … IF NOT EXISTS, harmlessly.
func (s *Store) migrateCluster(ctx context.Context) error {
	db := s.native.database
	engine := "MergeTree()"
	if s.cluster.replicated {
		engine = fmt.Sprintf("ReplicatedMergeTree('/clickhouse/tables/usagelog/%s/schema_migrations', '{shard}-{replica}')", db)
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+db+`.schema_migrations `+s.onCluster()+` (version Int64, applied_ms Int64) ENGINE = `+engine+` ORDER BY version`); err != nil {
		return fmt.Errorf("clickhouse: migrate: %w", err)
	}
	return s.applyMigrations(ctx, clusterMigrations, "cluster", s.clusterSQL)
}

// clusterSQL fills in a cluster migration's placeholders: {db}, {cluster},
// {on_cluster}, and the engine's {replicated} prefix and {zk:TABLE}
// arguments, which name the table's path in ZooKeeper, one a shard, and
// the node's replica ({shard} and {replica} are the servers' macros).
func (s *Store) clusterSQL(sql string) string {
	db := s.native.database
	sql = strings.NewReplacer("{db}", db, "{cluster}", s.cluster.name, "{on_cluster}", s.onCluster()).Replace(sql)
	prefix := ""
	if s.cluster.replicated {
		prefix = "Replicated"
	}
	sql = strings.ReplaceAll(sql, "{replicated}", prefix)
	for {
		i := strings.Index(sql, "{zk:")
		if i < 0 {
			return sql
		}
		j := strings.Index(sql[i:], "}")
		table := sql[i+len("{zk:") : i+j]
		args := ""
		if s.cluster.replicated {
			args = fmt.Sprintf("'/clickhouse/tables/{shard}/usagelog/%s/%s', '{replica}'", db, table)
		}
		sql = sql[:i] + args + sql[i+j+1:]
	}
}

// Codes of ClickHouse exceptions that mean part of the cluster is out of
// reach for now.
const (
	codeSocketTimeout      = 209
	codeNetworkError       = 210
	codeAllConnectionsDown = 279
	codeTableReadOnly      = 242
	codeNoZooKeeper        = 225
	codeKeeperException    = 999
)

// unavailable is err as the caller should see it when it says that part
// of the cluster is out of reach: a usage.EUnavailable (503) naming the
// shards whose nodes did not answer, or ZooKeeper, whose absence leaves
// the replicated tables read-only. Other errors are returned as they are.
func (s *Store) unavailable(err error) error {
	var ex *ch.Exception
	if s.cluster == nil || !errors.As(err, &ex) {
		return err
	}
	switch ex.Code {
	case codeSocketTimeout, codeNetworkError, codeAllConnectionsDown:
		var down []string
		for i, node := range s.cluster.nodes {
			shard := fmt.Sprintf("shard %d", s.cluster.shards[i])
			if strings.Contains(ex.Message, "("+node+")") && !slices.Contains(down, shard) {
				down = append(down, shard)
			}
		}
		if len(down) == 0 {
			down = []string{"a node"}
		}
		return usage.Errorf(usage.EUnavailable, "events: cluster %s: %s out of reach (every replica refused or timed out): the events were not stored, send them again later",
			s.cluster.name, strings.Join(down, ", "))
	case codeTableReadOnly, codeNoZooKeeper, codeKeeperException:
		return usage.Errorf(usage.EUnavailable, "events: cluster %s: ZooKeeper out of reach, the replicated tables take no insert until it returns: the events were not stored, send them again later",
			s.cluster.name)
	}
	return err
}
