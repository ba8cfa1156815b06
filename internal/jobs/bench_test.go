package jobs_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/jobs"
	"github.com/usagelog/usagelog/internal/localfs"
	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// BenchmarkJobOverhead exports the same 200,000 rows as CSV directly
// (Plan.Run, no progress) and as a job (queued, claimed, progress saved
// every 100 ms, finished): the difference is what a job costs.
func BenchmarkJobOverhead(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "usagelog.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ws, err := st.EnsureWorkspace(ctx, usage.DefaultWorkspace)
	if err != nil {
		b.Fatal(err)
	}
	const rows = 200_000
	if _, err := st.Append(ctx, ws.ID, storetest.Fixture(rows)); err != nil {
		b.Fatal(err)
	}
	files, err := localfs.Open(filepath.Join(dir, "exports"))
	if err != nil {
		b.Fatal(err)
	}
	defer files.Close()
	ex := &jobs.Exporter{Events: st, Meta: st, Files: files}
	spec := usage.ExportSpec{Report: "api-logs", Format: "csv"}
	sweep := func() { files.Sweep(ctx, time.Now().Add(time.Hour)) }

	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			p, err := ex.Plan(ctx, ws, spec, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			if res, err := p.Run(ctx, nil); err != nil || res.Records != rows {
				b.Fatal(res, err)
			}
			sweep()
		}
		b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("job", func(b *testing.B) {
		done := make(chan usage.ExportJob, 1)
		r, err := jobs.NewRunner(jobs.RunnerConfig{Meta: st, Exporter: ex, Workers: 1, Beat: 100 * time.Millisecond, Lease: time.Minute,
			Finished: func(j usage.ExportJob) { done <- j }})
		if err != nil {
			b.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		r.Start(rctx)
		defer func() { cancel(); r.Wait() }()
		for b.Loop() {
			j, err := r.Submit(ctx, ws, spec, usage.SystemActor("bench"))
			if err != nil {
				b.Fatal(err)
			}
			if got := <-done; got.ID != j.ID || got.Status != usage.JobSucceeded || got.RecordCount != rows {
				b.Fatalf("job %+v", got)
			}
			sweep()
		}
		b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}
