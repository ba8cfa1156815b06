package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// ErasingStore is an event store with rollups that erases people.
type ErasingStore interface {
	SummaryStore
	Erase(ctx context.Context, workspaceID int64, erasureID string, m usage.ErasureMatch, resumed bool, progress func(done, total int64)) (usage.EraseResult, error)
}

// erasureFixture is calls of two members (every seventh the erased one's,
// every eleventh from the erased address), activity of two users, and
// user observations of both emails in mixed case.
func erasureFixture() []usage.Event {
	ev := RandomCalls(21, 2000, SummaryNow)
	for i := range ev {
		ev[i].MemberID, ev[i].MemberName, ev[i].IP = "m-keep", "Kept", "192.0.2.1"
		if i%7 == 0 {
			ev[i].MemberID, ev[i].MemberName = "m-erase", "Erased Person"
		}
		if i%11 == 0 {
			ev[i].IP = "198.51.100.7"
		}
	}
	for i := range 300 {
		t := SummaryNow.Add(-time.Duration(i) * 37 * time.Minute)
		email, uid := "keep@example.com", "u-keep"
		if i%3 == 0 {
			email, uid = []string{"Erase.Me@Example.com", "erase.me@example.com"}[i%2], "u-erase"
		}
		ev = append(ev, usage.Event{Kind: usage.KindActivity, ID: fmt.Sprintf("act-%03d", i), Time: t, UserID: uid, UserEmail: email,
			UserName: "Someone", Feature: "chat", Model: "gpt", Messages: 1, InputTokens: 10, OutputTokens: 20},
			usage.Event{Kind: usage.KindUserSeen, ID: fmt.Sprintf("seen-%03d", i), Time: t, System: "Jira", Email: email,
				Username: "someone", DisplayName: "Someone", Interaction: "mention"})
	}
	return ev
}

// names reports whether e names the person m matches.
func names(e *usage.Event, m usage.ErasureMatch) bool {
	switch m.Field {
	case usage.EraseMemberID:
		return e.Kind == usage.KindAPIRequest && e.MemberID == m.Value
	case usage.EraseIP:
		return e.Kind == usage.KindAPIRequest && e.IP == m.Value
	case usage.EraseUserID:
		return e.Kind == usage.KindActivity && e.UserID == m.Value
	case usage.EraseUserEmail:
		return e.Kind == usage.KindActivity && usage.LowerASCII(e.UserEmail) == m.Value ||
			e.Kind == usage.KindUserSeen && usage.LowerASCII(e.Email) == m.Value
	}
	return false
}

// Erasure runs the erasure suite: what an erasure removes of every kind
// by every field (those given, when some are: a slow store's run checks
// one field of each kind of query), what it leaves (other people, other
// workspaces), the rollups after it (every summary exact), a retry of an
// erased event refused, an erasure taken up again, and ingest beside it.
func Erasure(t *testing.T, open func(t *testing.T) ErasingStore, fields ...usage.ErasureField) {
	ctx := context.Background()
	for _, m := range []usage.ErasureMatch{
		{Field: usage.EraseMemberID, Value: "m-erase"},
		{Field: usage.EraseIP, Value: "198.51.100.7"},
		{Field: usage.EraseUserID, Value: "u-erase"},
		{Field: usage.EraseUserEmail, Value: "erase.me@example.com"},
	} {
		if len(fields) > 0 && !slices.Contains(fields, m.Field) {
			continue
		}
		t.Run(string(m.Field), func(t *testing.T) {
			s := open(t)
			all := erasureFixture()
			for _, ws := range []int64{1, 2} {
				if _, err := s.Append(ctx, ws, all); err != nil {
					t.Fatal(err)
				}
			}
			var kept, gone []usage.Event
			want := map[usage.Kind]int64{}
			for i := range all {
				if names(&all[i], m) {
					gone = append(gone, all[i])
					want[all[i].Kind]++
				} else {
					kept = append(kept, all[i])
				}
			}
			var lastDone, lastTotal int64
			res, err := s.Erase(ctx, 1, "er_"+string(m.Field), m, false, func(done, total int64) { lastDone, lastTotal = done, total })
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(res.Removed) != fmt.Sprint(want) {
				t.Errorf("removed %v, want %v", res.Removed, want)
			}
			if lastDone != lastTotal || lastTotal == 0 {
				t.Errorf("progress ended at %d of %d", lastDone, lastTotal)
			}
			checkErased(t, s, 1, m, kept)
			checkErased(t, s, 2, usage.ErasureMatch{}, all)

			// A retry of an erased event is a duplicate; the person's
			// new event (a new id) is stored.
			r, err := s.Append(ctx, 1, gone)
			if err != nil || r.Inserted != 0 || r.Duplicates != len(gone) {
				t.Errorf("re-sent the %d erased events: %+v, %v", len(gone), r, err)
			}
			again := gone[0]
			again.ID += "-new"
			if r, err := s.Append(ctx, 1, []usage.Event{again}); err != nil || r.Inserted != 1 {
				t.Errorf("a new event of the person: %+v, %v", r, err)
			}
			res, err = s.Erase(ctx, 1, "er_again", m, false, nil)
			if err != nil || fmt.Sprint(res.Removed) != fmt.Sprint(map[usage.Kind]int64{again.Kind: 1}) {
				t.Errorf("a second erasure removed %v, %v; want the one new event", res.Removed, err)
			}
			checkErased(t, s, 1, m, kept)
		})
	}

	t.Run("Resumed", func(t *testing.T) {
		// An erasure taken up again after its process stopped at any
		// step leaves the same store: run here once resumed (the rollups
		// computed again from the events) and once more.
		s := open(t)
		all := erasureFixture()
		if _, err := s.Append(ctx, 1, all); err != nil {
			t.Fatal(err)
		}
		m := usage.ErasureMatch{Field: usage.EraseMemberID, Value: "m-erase"}
		var kept []usage.Event
		var n int64
		for i := range all {
			if names(&all[i], m) {
				n++
			} else {
				kept = append(kept, all[i])
			}
		}
		for range 2 {
			res, err := s.Erase(ctx, 1, "er_resumed", m, true, nil)
			if err != nil || res.Removed[usage.KindAPIRequest] != n {
				t.Fatalf("removed %v, %v; want %d calls", res.Removed, err, n)
			}
		}
		checkErased(t, s, 1, m, kept)
	})

	t.Run("WhileIngesting", func(t *testing.T) {
		// Calls stored while an erasure runs are all kept, and counted.
		s := open(t)
		all := erasureFixture()
		if _, err := s.Append(ctx, 1, all); err != nil {
			t.Fatal(err)
		}
		m := usage.ErasureMatch{Field: usage.EraseMemberID, Value: "m-erase"}
		var kept []usage.Event
		for i := range all {
			if !names(&all[i], m) {
				kept = append(kept, all[i])
			}
		}
		more := RandomCalls(22, 2000, SummaryNow)
		for i := range more {
			more[i].ID, more[i].MemberID = fmt.Sprintf("during-%04d", i), "m-keep"
		}
		var wg sync.WaitGroup
		var ingestErr error
		wg.Go(func() {
			for b := range 10 {
				if _, err := s.Append(ctx, 1, more[b*200:(b+1)*200]); err != nil {
					ingestErr = err
					return
				}
			}
		})
		if _, err := s.Erase(ctx, 1, "er_during", m, false, nil); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if ingestErr != nil {
			t.Fatal(ingestErr)
		}
		checkErased(t, s, 1, m, append(kept, more...))
	})

	t.Run("RefusesNothingElse", func(t *testing.T) {
		// Ids erased in one workspace are another's to use.
		s := open(t)
		e := Fixture(1)[0]
		e.MemberID = "m-erase"
		if _, err := s.Append(ctx, 1, []usage.Event{e}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Erase(ctx, 1, "er_one", usage.ErasureMatch{Field: usage.EraseMemberID, Value: "m-erase"}, false, nil); err != nil {
			t.Fatal(err)
		}
		if r, err := s.Append(ctx, 2, []usage.Event{e}); err != nil || r.Inserted != 1 {
			t.Errorf("the erased id in another workspace: %+v, %v", r, err)
		}
	})
}

// checkErased checks that the workspace holds exactly want, and nothing m
// names: counts of every kind, the logs, the activity and observations
// scanned, the seen groups and every summary.
func checkErased(t *testing.T, s ErasingStore, ws int64, m usage.ErasureMatch, want []usage.Event) {
	t.Helper()
	ctx := context.Background()
	counts := map[usage.Kind]int64{}
	for _, e := range want {
		counts[e.Kind]++
	}
	for _, k := range usage.Kinds {
		if n, err := s.Count(ctx, ws, k); err != nil || n != counts[k] {
			t.Errorf("workspace %d holds %d %s events (%v), want %d", ws, n, k, err, counts[k])
		}
	}
	for _, k := range usage.Kinds {
		for e, err := range s.ScanEvents(ctx, ws, k, time.Time{}, time.Time{}) {
			if err != nil {
				t.Fatal(err)
			}
			if m.Field != "" && names(e, m) {
				t.Fatalf("workspace %d still holds %s %s of the erased %s", ws, k, e.ID, m.Field)
			}
		}
	}
	groups, err := s.SeenGroups(ctx, ws, SummaryNow.AddDate(-1, 0, 0), SummaryNow.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	emails := map[string]bool{}
	for _, g := range groups {
		emails[strings.ToLower(g.Email)] = true
	}
	for _, e := range want {
		if e.Kind == usage.KindUserSeen && !emails[strings.ToLower(e.Email)] {
			t.Errorf("seen groups lack %s", e.Email)
		}
	}
	if m.Field == usage.EraseUserEmail && emails[m.Value] {
		t.Errorf("seen groups still show %s", m.Value)
	}
	if m.Field != usage.EraseMemberID {
		// No call changed (activity, observations), or calls went as a
		// member's do (an address): the summaries are checked with those.
		return
	}
	var calls []usage.Event
	for _, e := range want {
		if e.Kind == usage.KindAPIRequest {
			calls = append(calls, e)
		}
	}
	CompareSummaries(t, s, ws, calls, []string{"period=90d"}, "Asia/Kathmandu")
}

// ErasureMeta is a metadata store that keeps erasures (erasure.Store's
// methods: storetest is below the erasure package, which imports the
// report catalogue, whose tests use storetest).
type ErasureMeta interface {
	usage.WorkspaceStore
	CreateErasure(ctx context.Context, e *usage.Erasure) error
	Erasure(ctx context.Context, workspaceID int64, id string) (usage.Erasure, error)
	Erasures(ctx context.Context, workspaceID int64, limit int) ([]usage.Erasure, error)
	ClaimErasure(ctx context.Context, now, staleBefore time.Time) (usage.Erasure, bool, error)
	ErasureProgress(ctx context.Context, id string, done, total int64, at time.Time) error
	FinishErasure(ctx context.Context, e *usage.Erasure) error
}

// requestErasure records a queued erasure as erasure.Request does.
func requestErasure(ctx context.Context, s ErasureMeta, secret []byte, ws int64, m usage.ErasureMatch, reason string, deleteFiles bool, by usage.Actor, at time.Time) (usage.Erasure, error) {
	m, err := m.Check()
	if err != nil {
		return usage.Erasure{}, err
	}
	e := usage.Erasure{ID: usage.RandomID("er_", 10), WorkspaceID: ws, Field: m.Field, Value: m.Value, Hash: usage.ErasureHash(secret, ws, m),
		Reason: reason, DeleteFiles: deleteFiles, Status: usage.ErasureQueued, Creator: by, CreatedAt: at}
	return e, s.CreateErasure(ctx, &e)
}

// ErasureStore runs the suite of the erasures' records: requested, listed
// newest first and by workspace, claimed once, claimed again as a resumed
// run when its heartbeat stops, and finished with the value forgotten and
// the receipt kept.
func ErasureStore(t *testing.T, open func(t *testing.T) ErasureMeta) {
	ctx := context.Background()
	s := open(t)
	ws, err := s.EnsureWorkspace(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.EnsureWorkspace(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	secret := []byte("erasure store suite secret, 32 chars+")
	if _, ok, err := s.ClaimErasure(ctx, t0, t0.Add(-time.Minute)); ok || err != nil {
		t.Fatalf("claimed with nothing due: %v %v", ok, err)
	}
	first, err := requestErasure(ctx, s, secret, ws.ID, usage.ErasureMatch{Field: usage.EraseUserEmail, Value: "Ann@Example.com"}, "ticket 1", false,
		usage.Actor{Type: usage.ActorMember, ID: "m1", Name: "admin@example.com"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	second, err := requestErasure(ctx, s, secret, other.ID, usage.ErasureMatch{Field: usage.EraseIP, Value: "192.0.2.9"}, "", true,
		usage.SystemActor("cli"), t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Erasure(ctx, ws.ID, first.ID)
	if err != nil || got.Value != "ann@example.com" || got.Hash != usage.ErasureHash(secret, ws.ID, got.Match()) || got.Status != usage.ErasureQueued ||
		got.Reason != "ticket 1" || got.Creator.Name != "admin@example.com" || !got.CreatedAt.Equal(t0) {
		t.Fatalf("stored: %+v %v", got, err)
	}
	if _, err := s.Erasure(ctx, other.ID, first.ID); usage.ErrorCode(err) != usage.ENotFound {
		t.Errorf("another workspace's erasure: %v", err)
	}
	// Oldest first, each once.
	c, ok, err := s.ClaimErasure(ctx, t0.Add(time.Minute), t0)
	if !ok || err != nil || c.ID != first.ID || c.Attempt != 1 || c.Status != usage.ErasureRunning || c.Value != "ann@example.com" {
		t.Fatalf("first claim: %+v %v %v", c, ok, err)
	}
	c2, ok, err := s.ClaimErasure(ctx, t0.Add(time.Minute), t0)
	if !ok || err != nil || c2.ID != second.ID || !c2.DeleteFiles {
		t.Fatalf("second claim: %+v %v %v", c2, ok, err)
	}
	if _, ok, _ := s.ClaimErasure(ctx, t0.Add(time.Minute), t0); ok {
		t.Error("claimed a running erasure still reporting")
	}
	if err := s.ErasureProgress(ctx, first.ID, 2, 4, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Stopped reporting: claimed again, a second attempt.
	r, ok, err := s.ClaimErasure(ctx, t0.Add(time.Hour), t0.Add(30*time.Minute))
	if !ok || err != nil || r.Attempt != 2 || !r.StartedAt.Equal(c.StartedAt) {
		t.Fatalf("resumed claim: %+v %v %v", r, ok, err)
	}
	r.Status, r.FinishedAt, r.Removed = usage.ErasureDone, t0.Add(2*time.Hour), map[usage.Kind]int64{usage.KindActivity: 3, usage.KindUserSeen: 2}
	r.Files = []usage.ErasedFile{{JobID: "job_1", Report: "users", Path: "users/1/job_1.csv", Written: t0.Add(-time.Hour).UTC(), Deleted: false}}
	r.Done, r.Total = 4, 4
	if err := s.FinishErasure(ctx, &r); err != nil {
		t.Fatal(err)
	}
	done, err := s.Erasure(ctx, ws.ID, first.ID)
	if err != nil || done.Status != usage.ErasureDone || done.Value != "" || done.Hash != got.Hash || done.Removed[usage.KindActivity] != 3 ||
		len(done.Files) != 1 || done.Files[0].Path != "users/1/job_1.csv" || done.Done != 4 || !done.FinishedAt.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("finished: %+v %v", done, err)
	}
	if f, ok, _ := s.ClaimErasure(ctx, t0.Add(3*time.Hour), t0.Add(3*time.Hour)); !ok {
		t.Error("the second erasure, stale too, was not claimed")
	} else {
		f.Status, f.Error, f.FinishedAt = usage.ErasureFailed, "disk full", t0.Add(3*time.Hour)
		if err := s.FinishErasure(ctx, &f); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Erasure(ctx, other.ID, f.ID); got.Status != usage.ErasureFailed || got.Error != "disk full" || got.Value != "" {
			t.Errorf("failed: %+v", got)
		}
	}
	if _, ok, _ := s.ClaimErasure(ctx, t0.Add(4*time.Hour), t0.Add(4*time.Hour)); ok {
		t.Error("claimed a finished erasure")
	}
	list, err := s.Erasures(ctx, ws.ID, 10)
	if err != nil || len(list) != 1 || list[0].ID != first.ID {
		t.Errorf("list: %+v %v", list, err)
	}
}
