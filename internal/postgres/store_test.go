package postgres_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/usagelog/usagelog/internal/alerts"
	"github.com/usagelog/usagelog/internal/postgres"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// baseDSN is the test server: USAGELOG_TEST_POSTGRES, which scripts/test.sh
// sets, or the local server with trust auth. The tests fail, never skip,
// when it does not answer.
func baseDSN() string {
	if dsn := os.Getenv("USAGELOG_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

var schemaSeq struct {
	sync.Mutex
	n int
}

// open returns a store in a schema of its own, dropped after the test.
func open(t testing.TB) *postgres.Store {
	t.Helper()
	ctx := context.Background()
	admin, err := sql.Open("pgx", baseDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	schemaSeq.Lock()
	schemaSeq.n++
	schema := fmt.Sprintf("usagelog_test_%d_%d", os.Getpid(), schemaSeq.n)
	schemaSeq.Unlock()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("postgres at %s: %v (scripts/test.sh installs and starts it)", baseDSN(), err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", baseDSN())
		if err == nil {
			db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
			db.Close()
		}
	})
	u, err := url.Parse(baseDSN())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	s, err := postgres.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestMetaStoreConformance(t *testing.T) {
	storetest.MetaStore(t, func(t *testing.T) usage.MetaStore { return open(t) })
}

// TestClaimsAcrossReplicas has four "replicas" (connections claiming at
// once) drain a queue: every job is claimed exactly once, and a workspace
// never has more running jobs than its limit.
func TestClaimsAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	ws, _ := s.EnsureWorkspace(ctx, "acme")
	other, _ := s.EnsureWorkspace(ctx, "globex")
	now := time.Now()
	for i := range 40 {
		w := ws
		if i%2 == 1 {
			w = other
		}
		j := &usage.ExportJob{ID: fmt.Sprintf("job_%02d", i), WorkspaceID: w.ID, Spec: usage.ExportSpec{Report: "api-logs"}, Status: usage.JobQueued, CreatedAt: now.Add(time.Duration(i) * time.Millisecond)}
		if err := s.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	const limit = 2
	var mu sync.Mutex
	claimed := map[string]int{}
	running := map[int64]int{}
	var wg sync.WaitGroup
	var failure error
	deadline := time.Now().Add(30 * time.Second)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j, err := s.ClaimJob(ctx, time.Now(), limit)
				if usage.ErrorCode(err) == usage.ENotFound {
					mu.Lock()
					done := len(claimed) == 40
					if !done && time.Now().After(deadline) {
						failure = fmt.Errorf("%d of 40 jobs claimed after 30 s", len(claimed))
						done = true
					}
					mu.Unlock()
					if done {
						return
					}
					time.Sleep(time.Millisecond)
					continue
				}
				mu.Lock()
				if err != nil {
					failure = err
					mu.Unlock()
					return
				}
				claimed[j.ID]++
				running[j.WorkspaceID]++
				if running[j.WorkspaceID] > limit {
					failure = fmt.Errorf("workspace %d runs %d jobs, over the limit of %d", j.WorkspaceID, running[j.WorkspaceID], limit)
				}
				mu.Unlock()
				time.Sleep(time.Millisecond) // the job runs
				mu.Lock()
				running[j.WorkspaceID]--
				mu.Unlock()
				j.Status, j.FinishedAt = usage.JobSucceeded, time.Now()
				if _, err := s.FinishJob(ctx, j); err != nil {
					mu.Lock()
					failure = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if failure != nil {
		t.Fatal(failure)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("%s claimed %d times", id, n)
		}
	}
	if len(claimed) != 40 {
		t.Errorf("%d of 40 jobs claimed", len(claimed))
	}
}

func TestSecretIsSharedAndKept(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	a, err := s.Secret(ctx)
	if err != nil || len(a) != 32 {
		t.Fatalf("secret %x, %v", a, err)
	}
	b, _ := s.Secret(ctx)
	if !bytes.Equal(a, b) {
		t.Error("a second replica got another secret")
	}
}

func TestAlertStoreConformance(t *testing.T) {
	storetest.AlertStore(t, func(t *testing.T) alerts.Store { return open(t) })
}

func TestErasureStoreConformance(t *testing.T) {
	storetest.ErasureStore(t, func(t *testing.T) storetest.ErasureMeta { return open(t) })
}
