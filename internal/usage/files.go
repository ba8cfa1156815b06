package usage

import (
	"context"
	"io"
	"strconv"
	"strings"
	"time"
)

// FileStore keeps export files under slash-separated relative paths (a
// local directory, or an S3-compatible bucket). Naming and signing are the
// callers' business.
type FileStore interface {
	// Create starts a file; it appears at path only on Commit.
	Create(ctx context.Context, path string) (FileWriter, error)
	// Open opens a committed file; ENotFound when there is none.
	Open(ctx context.Context, path string) (StoredFile, error)
	// Remove deletes a committed file; no error when there is none.
	Remove(ctx context.Context, path string) error
	// RemovePartial deletes what writers of path that never committed
	// or aborted left (a process that died mid-write); no error when
	// there is nothing.
	RemovePartial(ctx context.Context, path string) error
	// Sweep deletes files last written before cutoff and returns how
	// many. Files under ScheduledDir are left to their schedule's
	// retention.
	Sweep(ctx context.Context, cutoff time.Time) (int, error)
}

// ScheduledDir holds the files of scheduled exports, which each schedule
// keeps as long as it says.
const ScheduledDir = "scheduled"

// FileWriter is a file being written.
type FileWriter interface {
	io.Writer
	// Commit makes the file visible at its path.
	Commit() error
	// Abort discards it; harmless after Commit.
	Abort() error
}

// StoredFile is an open file: seekable, so downloads serve ranges.
type StoredFile interface {
	io.ReadSeekCloser
	Size() int64
	ModTime() time.Time
}

// ValidFilePath reports whether p is a clean relative path of printable
// segments: no "..", ".", empty segment, backslash or leading slash.
func ValidFilePath(p string) bool {
	if p == "" || len(p) > 1024 {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.HasPrefix(seg, ".") {
			return false
		}
		for _, r := range seg {
			if r < 0x20 || r == 0x7f || r == '\\' || r == ':' {
				return false
			}
		}
	}
	return true
}

// FileWorkspace is the workspace a stored export's path belongs to: every
// export is stored under REPORT/WORKSPACE/… (under ScheduledDir for a
// schedule's).
func FileWorkspace(p string) (int64, bool) {
	parts := strings.Split(strings.TrimPrefix(p, ScheduledDir+"/"), "/")
	if len(parts) < 3 {
		return 0, false
	}
	id, err := strconv.ParseInt(parts[1], 10, 64)
	return id, err == nil && id > 0
}
