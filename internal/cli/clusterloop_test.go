package cli

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// TestClusterLoop: serve's loop rewrites a store whose events came out of
// order once no more come, and leaves it alone after.
func TestClusterLoop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := sqlitetest.OpenConfig(t, sqlite.Config{ClusterAfter: 100})
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var ev []usage.Event
	for i := range 2000 { // newest first: all but the first batch late
		ev = append(ev, usage.Event{Kind: usage.KindAPIRequest, ID: "e" + strconv.Itoa(i), Time: start.Add(-time.Duration(i) * time.Hour), Status: 200})
	}
	for i := 0; i < len(ev); i += 100 {
		if _, err := s.Append(ctx, 1, ev[i:i+100]); err != nil {
			t.Fatal(err)
		}
	}
	// Due once the background merge has counted enough of them late.
	for deadline := time.Now().Add(20 * time.Second); ; {
		st, err := s.ClusterStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Due {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status before: %+v after 20 s; want due", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	go clusterLoop(ctx, s, 10*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := s.ClusterStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Due && st.Disordered == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %+v after 20 s", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	page, err := s.Logs(ctx, 1, usage.LogQuery{Limit: 3})
	if err != nil || len(page) != 3 || !page[0].Time.Equal(start) {
		t.Errorf("newest page after the rewrite: %v, %v", page, err)
	}
}
