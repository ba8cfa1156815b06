package jobs

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/localfs"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// TestDeadJobPartialFileRemoved: a job whose runner died mid-write left a
// hidden partial file; the runner that fails the job removes it, rather
// than leaving it to the file store's sweep.
func TestDeadJobPartialFileRemoved(t *testing.T) {
	ctx := context.Background()
	st := sqlitetest.Open(t)
	ws, err := st.EnsureWorkspace(ctx, usage.DefaultWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "exports")
	files, err := localfs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer files.Close()
	now := time.Now()
	clock := func() time.Time { return now }
	r, err := NewRunner(RunnerConfig{Meta: st, Now: clock, Lease: time.Minute,
		Exporter: &Exporter{Events: st, Meta: st, Files: files}})
	if err != nil {
		t.Fatal(err)
	}
	j, err := r.Submit(ctx, ws, usage.ExportSpec{Report: "api-logs"}, usage.SystemActor("test"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ClaimJob(ctx, now, 5); err != nil {
		t.Fatal(err)
	}
	// The dead runner's half-written file, next to an unrelated one.
	plan, err := r.planJob(ctx, ws, j)
	if err != nil {
		t.Fatal(err)
	}
	w, err := files.Create(ctx, plan.filePath)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("Time,Method\n"))
	w.(io.Closer).Close() // the process is gone: neither committed nor aborted
	other, _ := files.Create(ctx, "api-logs/1/other.csv")
	defer other.Abort()
	partials := func() (n int) {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasPrefix(d.Name(), ".tmp-") && strings.HasSuffix(p, filepath.Base(plan.filePath)) {
				n++
			}
			return nil
		})
		return n
	}
	if partials() != 1 {
		t.Fatalf("%d partial files before, want the dead job's", partials())
	}
	now = now.Add(2 * time.Minute)
	r.failStale(ctx)
	if got, _ := st.Job(ctx, ws.ID, j.ID); got.Status != usage.JobFailed {
		t.Fatalf("job %+v, want failed", got)
	}
	if n := partials(); n != 0 {
		t.Errorf("%d partial files of the dead job remain", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "api-logs", "1")); err != nil {
		t.Fatal(err)
	}
	if names, _ := filepath.Glob(filepath.Join(dir, "api-logs", "1", ".tmp-*-other.csv")); len(names) != 1 {
		t.Errorf("another writer's file: %v, want it left alone", names)
	}
}
