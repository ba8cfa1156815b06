// Package localfs is the FileStore of the embedded default: export files
// in a local directory. Every access goes through an os.Root, so no path
// can reach outside it, symlinks included.
package localfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// Dir is a directory of files.
type Dir struct {
	root *os.Root
}

// Open opens (creating it if needed) the directory dir.
func Open(dir string) (*Dir, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("localfs: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("localfs: %w", err)
	}
	return &Dir{root: root}, nil
}

// Close releases the directory.
func (d *Dir) Close() error { return d.root.Close() }

func checkPath(p string) error {
	if !usage.ValidFilePath(p) {
		return usage.Errorf(usage.EInvalid, "invalid file path %q", p)
	}
	return nil
}

// A file being written is tmpPrefix, tmpIDBytes random bytes in hex, "-"
// and its name.
const (
	tmpPrefix  = ".tmp-"
	tmpIDBytes = 8
)

// Create starts a file: it is written beside its path under a hidden name
// and renamed into place on Commit, so a reader never sees half a file.
func (d *Dir) Create(ctx context.Context, p string) (usage.FileWriter, error) {
	if err := checkPath(p); err != nil {
		return nil, err
	}
	if err := d.root.MkdirAll(path.Dir(p), 0o750); err != nil {
		return nil, fmt.Errorf("localfs: %w", err)
	}
	tmp := path.Join(path.Dir(p), tmpPrefix+usage.RandomID("", tmpIDBytes)+"-"+path.Base(p))
	f, err := d.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("localfs: %w", err)
	}
	return &pending{File: f, d: d, tmp: tmp, final: p}, nil
}

type pending struct {
	*os.File
	d          *Dir
	tmp, final string
	done       bool
}

func (w *pending) Commit() error {
	if w.done {
		return errors.New("localfs: file already committed or aborted")
	}
	w.done = true
	if err := w.File.Sync(); err != nil {
		w.File.Close()
		w.d.root.Remove(w.tmp)
		return fmt.Errorf("localfs: %w", err)
	}
	if err := w.File.Close(); err != nil {
		w.d.root.Remove(w.tmp)
		return fmt.Errorf("localfs: %w", err)
	}
	if err := w.d.root.Rename(w.tmp, w.final); err != nil {
		w.d.root.Remove(w.tmp)
		return fmt.Errorf("localfs: %w", err)
	}
	return nil
}

func (w *pending) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.File.Close()
	return w.d.root.Remove(w.tmp)
}

type stored struct {
	*os.File
	info fs.FileInfo
}

func (s stored) Size() int64        { return s.info.Size() }
func (s stored) ModTime() time.Time { return s.info.ModTime() }

// Open opens a committed file.
func (d *Dir) Open(ctx context.Context, p string) (usage.StoredFile, error) {
	if err := checkPath(p); err != nil {
		return nil, usage.Errorf(usage.ENotFound, "no such file")
	}
	f, err := d.root.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, usage.Errorf(usage.ENotFound, "no such file")
		}
		return nil, fmt.Errorf("localfs: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("localfs: %w", err)
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, usage.Errorf(usage.ENotFound, "no such file")
	}
	return stored{File: f, info: info}, nil
}

// RemovePartial deletes what writers of p that never committed left: the
// hidden files of a process that died mid-write.
func (d *Dir) RemovePartial(ctx context.Context, p string) error {
	if err := checkPath(p); err != nil {
		return err
	}
	dir, err := d.root.Open(path.Dir(p))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("localfs: %w", err)
	}
	names, err := dir.Readdirnames(-1)
	dir.Close()
	if err != nil {
		return fmt.Errorf("localfs: %w", err)
	}
	for _, n := range names {
		if id, ok := strings.CutSuffix(strings.TrimPrefix(n, tmpPrefix), "-"+path.Base(p)); ok && strings.HasPrefix(n, tmpPrefix) && len(id) == 2*tmpIDBytes {
			if err := d.root.Remove(path.Join(path.Dir(p), n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("localfs: %w", err)
			}
		}
	}
	return nil
}

// Remove deletes a committed file.
func (d *Dir) Remove(ctx context.Context, p string) error {
	if err := checkPath(p); err != nil {
		return usage.Errorf(usage.EInvalid, "invalid file path %q", p)
	}
	if err := d.root.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("localfs: remove: %w", err)
	}
	return nil
}

// Sweep deletes files (committed, or abandoned half-written ones) last
// modified before cutoff.
func (d *Dir) Sweep(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	err := fs.WalkDir(d.root.FS(), ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if e.IsDir() && p == usage.ScheduledDir {
			return fs.SkipDir
		}
		if !e.Type().IsRegular() {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		if info.ModTime().Before(cutoff) {
			if err := d.root.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("localfs: sweep: %w", err)
	}
	return n, nil
}
