package clickhouse_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/clickhouse"
	"github.com/usagelog/usagelog/internal/usage"
)

// The fault tests stop and start nodes of the test cluster and its
// ZooKeeper with scripts/clickhouse-cluster.sh, and wait for the cluster
// to be whole again before they end (restart). Only this package uses the
// cluster, and its tests run one at a time.

// cluster runs scripts/clickhouse-cluster.sh with args.
func cluster(t *testing.T, args ...string) {
	t.Helper()
	script := filepath.Join("..", "..", "scripts", "clickhouse-cluster.sh")
	if out, err := exec.Command(script, args...).CombinedOutput(); err != nil {
		t.Fatalf("clickhouse-cluster.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// restart starts whatever the test stopped when it ends, and waits until
// a new store can be made on the cluster (DDL on every node, through
// ZooKeeper) and stores an event: the next test finds it whole.
func restart(t *testing.T, what ...string) {
	t.Cleanup(func() {
		for _, w := range what {
			if w == "restart" {
				cluster(t, "restart")
			} else {
				cluster(t, "start", w)
			}
		}
		eventually(t, 2*time.Minute, "the cluster whole again", func() error {
			s, err := clickhouse.Open(context.Background(), strings.ReplaceAll(clusterDSN(), "{db}", fmt.Sprintf("usagelog_test_health_%d", seq.Add(1))))
			if err != nil {
				return err
			}
			defer s.Close()
			defer s.DropDatabase(context.Background())
			_, err = s.Append(context.Background(), 1, calls("health", 0, 10))
			return err
		})
	})
}

// eventually calls f until it returns nil, for at most d.
func eventually(t *testing.T, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, d, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// calls are n API calls with ids prefix-from…, a second apart.
func calls(prefix string, from, n int) []usage.Event {
	base := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	out := make([]usage.Event, n)
	for i := range out {
		out[i] = usage.Event{Kind: usage.KindAPIRequest, ID: fmt.Sprintf("%s-%06d", prefix, from+i), Time: base.Add(time.Duration(from+i) * time.Millisecond),
			Method: "GET", URL: "/a/rest/v1/ideas", Status: 200, Client: "Data Team", Collection: "HR recipes", CollectionType: "recipe", TimingMS: 12}
	}
	return out
}

// nodeCount is how many of workspace 1's events node addr holds itself.
func nodeCount(t *testing.T, s *clickhouse.Store, addr string) int64 {
	t.Helper()
	var n uint64
	q := fmt.Sprintf("SELECT count() FROM remote('%s', currentDatabase(), events_local) FINAL WHERE workspace_id = 1", addr)
	if err := clickhouse.QueryRow(context.Background(), s, q, &n); err != nil {
		t.Fatalf("count on %s: %v", addr, err)
	}
	return int64(n)
}

// TestClusterReplicaDown stops the first replica of shard 2 while events
// arrive: every batch is still acknowledged (a batch cut off as the node
// goes down is sent again, as a client would), reads go on, and once the
// replica is back both replicas of the shard hold every event.
func TestClusterReplicaDown(t *testing.T) {
	ctx := context.Background()
	s := openCluster(t)
	restart(t, "3")
	const batches, size = 30, 400
	acked := 0
	for b := range batches {
		if b == 10 {
			cluster(t, "stop", "3")
		}
		batch := calls("replica", b*size, size)
		eventually(t, time.Minute, fmt.Sprintf("batch %d stored", b), func() error {
			_, err := s.Append(ctx, 1, batch)
			return err
		})
		acked += size
		if b >= 10 {
			// Reads go on, from the replica left.
			n, err := s.Count(ctx, 1, usage.KindAPIRequest)
			if err != nil || n != int64(acked) {
				t.Fatalf("count with a replica down, after batch %d: %d, %v; want %d", b, n, err, acked)
			}
		}
	}
	page, err := s.Logs(ctx, 1, usage.LogQuery{Limit: 50})
	if err != nil || len(page) != 50 || page[0].ID != fmt.Sprintf("replica-%06d", batches*size-1) {
		t.Fatalf("first page with a replica down: %d rows, %v", len(page), err)
	}
	// A scan (an export) reads shard 2 from the replica left, in order.
	want := batches*size - 1
	for e, err := range s.ScanLogs(ctx, 1, usage.LogFilter{}, "id") {
		if err != nil {
			t.Fatalf("scan with a replica down: %v", err)
		}
		if e.ID != fmt.Sprintf("replica-%06d", want) {
			t.Fatalf("scan with a replica down: %s where replica-%06d comes", e.ID, want)
		}
		want--
	}
	if want != -1 {
		t.Fatalf("scan with a replica down: ended before replica-%06d", want)
	}
	cluster(t, "start", "3")
	// Shard 2's replicas catch up with each other; with shard 1's they
	// hold every event.
	eventually(t, 2*time.Minute, "replicas of shard 2 in step", func() error {
		one, three, four := nodeCount(t, s, "127.0.0.1:9201"), nodeCount(t, s, "127.0.0.1:9203"), nodeCount(t, s, "127.0.0.1:9204")
		if three != four || one+three != int64(acked) {
			return fmt.Errorf("shard 1 holds %d, shard 2's replicas %d and %d, of %d", one, three, four, acked)
		}
		return nil
	})
	if two := nodeCount(t, s, "127.0.0.1:9202"); two != nodeCount(t, s, "127.0.0.1:9201") {
		t.Errorf("shard 1's replicas hold %d and %d", nodeCount(t, s, "127.0.0.1:9201"), two)
	}
}

// TestClusterShardDown stops both replicas of shard 2: an insert is
// refused with a 503 that names the shard, reads fail rather than answer
// from half the events, and nothing acknowledged before is lost.
func TestClusterShardDown(t *testing.T) {
	ctx := context.Background()
	s := openCluster(t)
	restart(t, "3", "4")
	before := calls("shard", 0, 2000)
	if _, err := s.Append(ctx, 1, before); err != nil {
		t.Fatal(err)
	}
	cluster(t, "stop", "3")
	cluster(t, "stop", "4")
	_, err := s.Append(ctx, 1, calls("shard", 2000, 500))
	var ue *usage.Error
	if !errors.As(err, &ue) || ue.Code != usage.EUnavailable || !strings.Contains(ue.Message, "shard 2 out of reach") || usage.HTTPStatus(err) != 503 {
		t.Errorf("insert with shard 2 down: %v; want a 503 that names shard 2", err)
	}
	if n, err := s.Count(ctx, 1, usage.KindAPIRequest); err == nil {
		t.Errorf("count with shard 2 down: %d, no error; want an error, not half the events", n)
	}
	if page, err := s.Logs(ctx, 1, usage.LogQuery{Limit: 50}); err == nil {
		t.Errorf("logs with shard 2 down: %d rows, no error", len(page))
	}
	// A scan of every event, and one of an hour (which reads the shards
	// at once, without counting its pieces first), fail: the hour's error
	// names the shard.
	hour := time.Now().Add(-90 * time.Minute)
	for _, f := range []usage.LogFilter{{}, {From: hour, To: hour.Add(time.Hour)}} {
		var scanned int
		var scanErr error
		for _, err := range s.ScanLogs(ctx, 1, f) {
			if err != nil {
				scanErr = err
				break
			}
			scanned++
		}
		if scanErr == nil || (!f.From.IsZero() && !strings.Contains(scanErr.Error(), "shard 2")) {
			t.Errorf("scan from %v with shard 2 down: %d rows, %v; want an error (that names shard 2)", f.From, scanned, scanErr)
		}
	}
	cluster(t, "start", "3")
	cluster(t, "start", "4")
	// The refused batch, sent again, is stored: its events that shard 1
	// took before the refusal count as duplicates.
	eventually(t, time.Minute, "the refused batch stored once shard 2 is back", func() error {
		_, err := s.Append(ctx, 1, calls("shard", 2000, 500))
		return err
	})
	if n, err := s.Count(ctx, 1, usage.KindAPIRequest); err != nil || n != 2500 {
		t.Errorf("count after shard 2 is back: %d, %v; want 2500", n, err)
	}
}

// TestClusterZooKeeperDown stops ZooKeeper: inserts are refused with a
// 503 that says so, reads go on, and inserts resume when it is back.
func TestClusterZooKeeperDown(t *testing.T) {
	ctx := context.Background()
	s := openCluster(t)
	// After ZooKeeper's return, ClickHouse 18.16's DDL worker may have
	// stopped on a node (scripts/clickhouse-cluster.sh restart): the nodes
	// are restarted before the next test makes its tables ON CLUSTER.
	restart(t, "zk", "restart")
	if _, err := s.Append(ctx, 1, calls("zk", 0, 1000)); err != nil {
		t.Fatal(err)
	}
	cluster(t, "stop", "zk")
	// The replicas notice the session's loss within its timeout (10 s).
	eventually(t, time.Minute, "inserts refused without ZooKeeper", func() error {
		_, err := s.Append(ctx, 1, calls("zk", 1000, 100))
		var ue *usage.Error
		if errors.As(err, &ue) && ue.Code == usage.EUnavailable && strings.Contains(ue.Message, "ZooKeeper out of reach") {
			return nil
		}
		return fmt.Errorf("insert: %v; want a 503 that names ZooKeeper", err)
	})
	if n, err := s.Count(ctx, 1, usage.KindAPIRequest); err != nil || n < 1000 {
		t.Errorf("count without ZooKeeper: %d, %v", n, err)
	}
	cluster(t, "start", "zk")
	eventually(t, 2*time.Minute, "inserts taken again with ZooKeeper back", func() error {
		_, err := s.Append(ctx, 1, calls("zk", 1000, 100))
		return err
	})
	if n, err := s.Count(ctx, 1, usage.KindAPIRequest); err != nil || n != 1100 {
		t.Errorf("count with ZooKeeper back: %d, %v; want 1100", n, err)
	}
}
