package localfs

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

func write(t *testing.T, d *Dir, p, body string) {
	t.Helper()
	w, err := d.Create(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, body)
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestCreateCommitOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	w, err := d.Create(ctx, "users-usage/1/a.csv")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "half")
	if _, err := d.Open(ctx, "users-usage/1/a.csv"); usage.ErrorCode(err) != usage.ENotFound {
		t.Errorf("an uncommitted file is visible: %v", err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	f, err := d.Open(ctx, "users-usage/1/a.csv")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "half" || f.Size() != 4 {
		t.Errorf("read %q (size %d)", b, f.Size())
	}

	w, _ = d.Create(ctx, "users-usage/1/b.csv")
	io.WriteString(w, "discarded")
	w.Abort()
	if _, err := d.Open(ctx, "users-usage/1/b.csv"); usage.ErrorCode(err) != usage.ENotFound {
		t.Errorf("an aborted file is visible: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "users-usage/1/.tmp-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestPathsStayInside: no path, however written, reads or writes outside
// the directory; a symlink planted inside cannot lead out either.
func TestPathsStayInside(t *testing.T) {
	ctx := context.Background()
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("s3cr3t"), 0o600)
	dir := t.TempDir()
	d, _ := Open(dir)
	defer d.Close()
	os.Symlink(outside, filepath.Join(dir, "link"))
	for _, p := range []string{
		"../secret", "a/../../secret", "/etc/passwd", "link/secret", "", ".", "a//b", `a\..\secret`,
		"a/./b", ".hidden", "x/.tmp-1-a.csv", "a\x00b", "c:/secret",
	} {
		if f, err := d.Open(ctx, p); err == nil {
			f.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
		if w, err := d.Create(ctx, p); err == nil {
			w.Abort()
			t.Errorf("Create(%q) succeeded", p)
		}
	}
}

func TestSweep(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, _ := Open(dir)
	defer d.Close()
	write(t, d, "users-usage/1/old.csv", "old")
	write(t, d, "users-usage/1/new.csv", "new")
	old := time.Now().Add(-8 * 24 * time.Hour)
	os.Chtimes(filepath.Join(dir, "users-usage/1/old.csv"), old, old)
	n, err := d.Sweep(ctx, time.Now().Add(-7*24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("swept %d, %v", n, err)
	}
	if _, err := d.Open(ctx, "users-usage/1/old.csv"); err == nil {
		t.Error("old file kept")
	}
	if _, err := d.Open(ctx, "users-usage/1/new.csv"); err != nil {
		t.Errorf("new file swept: %v", err)
	}
}

func TestFileStoreConformance(t *testing.T) {
	storetest.FileStore(t, func(t *testing.T) usage.FileStore {
		d, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	})
}
