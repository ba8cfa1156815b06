package storetest

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// FileStore runs the conformance suite of file stores (a local folder, an
// S3-compatible bucket).
func FileStore(t *testing.T, open func(t *testing.T) usage.FileStore) {
	ctx := context.Background()
	write := func(t *testing.T, fs usage.FileStore, p, body string) {
		t.Helper()
		w, err := fs.Create(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, body); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("AppearsOnCommitAndSeeks", func(t *testing.T) {
		fs := open(t)
		w, err := fs.Create(ctx, "api-logs/1/report.csv")
		if err != nil {
			t.Fatal(err)
		}
		body := strings.Repeat("Date,Type,Code\n", 1000)
		io.WriteString(w, body)
		if _, err := fs.Open(ctx, "api-logs/1/report.csv"); usage.ErrorCode(err) != usage.ENotFound {
			t.Errorf("open before commit: err = %v, want not found", err)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := w.Abort(); err != nil {
			t.Errorf("abort after commit: %v", err)
		}
		f, err := fs.Open(ctx, "api-logs/1/report.csv")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if f.Size() != int64(len(body)) || time.Since(f.ModTime()) > time.Hour {
			t.Errorf("size %d (want %d), modified %v", f.Size(), len(body), f.ModTime())
		}
		if _, err := f.Seek(15, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(f)
		if string(got) != body[15:] {
			t.Errorf("read after seek: %d bytes, want %d", len(got), len(body)-15)
		}
	})

	t.Run("AbortLeavesNothing", func(t *testing.T) {
		fs := open(t)
		w, err := fs.Create(ctx, "users-usage/1/partial.csv")
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "half a file")
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		if _, err := fs.Open(ctx, "users-usage/1/partial.csv"); usage.ErrorCode(err) != usage.ENotFound {
			t.Errorf("open after abort: err = %v, want not found", err)
		}
	})

	t.Run("Remove", func(t *testing.T) {
		fs := open(t)
		write(t, fs, "a/b.csv", "x")
		if err := fs.Remove(ctx, "a/b.csv"); err != nil {
			t.Fatal(err)
		}
		if _, err := fs.Open(ctx, "a/b.csv"); usage.ErrorCode(err) != usage.ENotFound {
			t.Errorf("open after remove: err = %v", err)
		}
		if err := fs.Remove(ctx, "a/b.csv"); err != nil {
			t.Errorf("remove again: %v", err)
		}
	})

	t.Run("RemovePartial", func(t *testing.T) {
		fs := open(t)
		if err := fs.RemovePartial(ctx, "api-logs/1/never-written.csv"); err != nil {
			t.Errorf("nothing to remove: %v", err)
		}
		if err := fs.RemovePartial(ctx, "../escape.csv"); usage.ErrorCode(err) != usage.EInvalid {
			t.Errorf("path trick: %v, want invalid", err)
		}
		// A committed file of the path is not partial: it stays.
		write(t, fs, "api-logs/1/done.csv", "a\n")
		if err := fs.RemovePartial(ctx, "api-logs/1/done.csv"); err != nil {
			t.Fatal(err)
		}
		if f, err := fs.Open(ctx, "api-logs/1/done.csv"); err != nil {
			t.Errorf("committed file after RemovePartial: %v", err)
		} else {
			f.Close()
		}
	})

	t.Run("RefusesPathTricks", func(t *testing.T) {
		fs := open(t)
		for _, p := range []string{"../x.csv", "/etc/passwd", "a//b.csv", ".hidden", "a/./b", `a\b.csv`, ""} {
			if _, err := fs.Create(ctx, p); err == nil {
				t.Errorf("create %q was allowed", p)
			}
			if _, err := fs.Open(ctx, p); err == nil {
				t.Errorf("open %q was allowed", p)
			}
		}
	})

	t.Run("SweepSparesScheduled", func(t *testing.T) {
		fs := open(t)
		write(t, fs, "api-logs/1/old.csv", "x")
		write(t, fs, usage.ScheduledDir+"/sch_1/kept.csv", "y")
		if n, err := fs.Sweep(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
			t.Errorf("sweep of files older than an hour: %d, %v; want 0", n, err)
		}
		n, err := fs.Sweep(ctx, time.Now().Add(time.Hour))
		if err != nil || n != 1 {
			t.Errorf("sweep: %d, %v; want 1", n, err)
		}
		if _, err := fs.Open(ctx, "api-logs/1/old.csv"); usage.ErrorCode(err) != usage.ENotFound {
			t.Errorf("swept file still there: %v", err)
		}
		if f, err := fs.Open(ctx, usage.ScheduledDir+"/sch_1/kept.csv"); err != nil {
			t.Errorf("scheduled file swept: %v", err)
		} else {
			f.Close()
		}
	})
}
