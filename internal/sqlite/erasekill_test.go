package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/erasure"
	"github.com/usagelog/usagelog/internal/localfs"
	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// erasePoints are the points of an erasure's batch (erase.go), in order.
var erasePoints = []string{"read", "unrolled", "deleted", "before-commit", "committed"}

var killedErasure = erasure.Input{Match: erasure.MatchInput{IP: "198.51.100.7"}}

// A process killed at any point of an erasure leaves a store that the next
// process's runner finishes: it takes the erasure up again once its
// heartbeat is stale, and the store then holds exactly what one erasure
// leaves, its receipt counts every event erased by both runs, and every
// erased event sent again is refused.
func TestErasureSurvivesAKillAtEveryPoint(t *testing.T) {
	ctx := context.Background()
	events := shuffledEvents(6000)
	m, err := killedErasure.Matched()
	if err != nil {
		t.Fatal(err)
	}
	var kept []usage.Event
	var gone int64
	for _, e := range events {
		if e.Kind == usage.KindAPIRequest && e.IP == m.Value {
			gone++
		} else {
			kept = append(kept, e)
		}
	}
	want := sqlitetest.OpenConfig(t, sqlite.Config{ManualMerge: true})
	appendMerged(t, want, kept, 1000)
	wanted := readContents(t, want)
	for _, point := range erasePoints {
		t.Run(point, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "usagelog.db")
			s := sqlitetest.OpenConfig(t, sqlite.Config{Path: path, ManualMerge: true})
			// Half merged, half waiting: the erasure reads both tables.
			appendMerged(t, s, events[:3000], 1000)
			appendAll(t, s, events[3000:], 1000)
			ws, err := s.EnsureWorkspace(ctx, usage.DefaultWorkspace)
			if err != nil || ws.ID != 1 {
				t.Fatalf("workspace %+v %v", ws, err)
			}
			e, err := erasure.Request(ctx, s, []byte("kill test secret, 32 characters+"), 1, killedErasure, usage.SystemActor("test"), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			s.Close()

			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), "USAGELOG_KILL_ERASE="+path, "USAGELOG_KILL_AT="+point)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("the erasing process was not killed at %s: %v\n%s", point, err, out)
			}

			s = sqlitetest.OpenConfig(t, sqlite.Config{Path: path, ManualMerge: true})
			if got, _ := s.Erasure(ctx, 1, e.ID); got.Status != usage.ErasureRunning {
				t.Fatalf("after the kill the erasure is %s", got.Status)
			}
			files, err := localfs.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer files.Close()
			later := time.Now().Add(erasure.DefaultStale + time.Minute)
			r, err := erasure.New(erasure.Config{Events: s, Meta: s, Jobs: s, Files: files, Now: func() time.Time { return later }})
			if err != nil {
				t.Fatal(err)
			}
			if n, err := r.RunDue(ctx); n != 1 || err != nil {
				t.Fatalf("ran %d erasures after the kill: %v", n, err)
			}
			got, err := s.Erasure(ctx, 1, e.ID)
			if err != nil || got.Status != usage.ErasureDone || got.Attempt != 2 || got.Removed[usage.KindAPIRequest] != gone || got.Value != "" {
				t.Fatalf("the erasure taken up again: %+v %v (want %d calls removed)", got, err, gone)
			}
			compareContents(t, readContents(t, s), wanted)
			if _, err := s.Merge(ctx); err != nil {
				t.Fatal(err)
			}
			compareContents(t, readContents(t, s), wanted)
			if res := appendAll(t, s, events, 2000); res.Inserted != 0 || res.Duplicates != len(events) {
				t.Errorf("every event again: %+v, want all duplicates", res)
			}
		})
	}
}

// eraseUntilKilled runs the erasure requested in the store at path, five
// rows a batch, and kills its own process at point of the third batch; it
// exits 1 if it gets through.
func eraseUntilKilled(path, point string) {
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path, ManualMerge: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	files, err := localfs.Open(filepath.Join(filepath.Dir(path), "exports"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sqlite.SetEraseBatch(5)
	batches := 0
	sqlite.SetEraseHook(func(p string) {
		if p == erasePoints[0] {
			batches++
		}
		if p == point && batches == 3 {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	})
	r, err := erasure.New(erasure.Config{Events: s, Meta: s, Jobs: s, Files: files})
	if err == nil {
		_, err = r.RunDue(context.Background())
	}
	fmt.Fprintln(os.Stderr, "erased without being killed:", err)
	os.Exit(1)
}
