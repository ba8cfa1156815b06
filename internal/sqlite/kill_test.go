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

	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
)

// mergePoints are the points of a merge step (merge.go), in order.
var mergePoints = []string{"read", "inserted", "rolled-up", "before-commit", "committed"}

// A process killed at any point of a merge step loses no event that was
// acknowledged and duplicates none: the store it leaves answers as one
// whose events all merged, before and after the merge carries on, and
// every event sent again is a duplicate.
func TestMergeSurvivesAKillAtEveryPoint(t *testing.T) {
	ctx := context.Background()
	events := shuffledEvents(6000)
	want := sqlitetest.OpenConfig(t, sqlite.Config{ManualMerge: true})
	appendMerged(t, want, events, 1000)
	wanted := readContents(t, want)
	for _, point := range mergePoints {
		t.Run(point, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "usagelog.db")
			s := sqlitetest.OpenConfig(t, sqlite.Config{Path: path, ManualMerge: true})
			appendAll(t, s, events, 1000)
			s.Close()

			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), "USAGELOG_KILL_STORE="+path, "USAGELOG_KILL_AT="+point)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("the merging process was not killed at %s: %v\n%s", point, err, out)
			}

			s = sqlitetest.OpenConfig(t, sqlite.Config{Path: path, ManualMerge: true})
			waiting, err := s.MergeStatus(ctx)
			if err != nil || waiting == 0 || waiting == int64(len(events)) {
				t.Fatalf("%d arrivals waiting after the kill (%v): want some merged, some not", waiting, err)
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

// TestMain runs the tests, or, in the process that
// TestMergeSurvivesAKillAtEveryPoint starts (USAGELOG_KILL_STORE set),
// mergeUntilKilled, or in the one TestErasureSurvivesAKillAtEveryPoint
// starts (USAGELOG_KILL_ERASE set), eraseUntilKilled.
func TestMain(m *testing.M) {
	if path := os.Getenv("USAGELOG_KILL_STORE"); path != "" {
		mergeUntilKilled(path, os.Getenv("USAGELOG_KILL_AT"))
	}
	if path := os.Getenv("USAGELOG_KILL_ERASE"); path != "" {
		eraseUntilKilled(path, os.Getenv("USAGELOG_KILL_AT"))
	}
	os.Exit(m.Run())
}

// mergeUntilKilled merges the store at path, 1,000 arrivals a step, and
// kills its own process at point of the third step; it exits 1 if it
// gets through.
func mergeUntilKilled(path, point string) {
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path, ManualMerge: true, MergeStep: 1000})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	steps := 0
	sqlite.SetMergeHook(func(p string) {
		if p == mergePoints[0] {
			steps++
		}
		if p == point && steps == 3 {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	})
	_, err = s.Merge(context.Background())
	fmt.Fprintln(os.Stderr, "merged every arrival without being killed:", err)
	os.Exit(1)
}
