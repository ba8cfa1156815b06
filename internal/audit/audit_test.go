package audit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/audit"
	"github.com/usagelog/usagelog/internal/usage"
)

// flakyStore takes entries unless told it is down.
type flakyStore struct {
	mu      sync.Mutex
	down    bool
	entries []usage.AuditEntry
}

func (s *flakyStore) AppendAudit(_ context.Context, es []usage.AuditEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return errors.New("store down")
	}
	s.entries = append(s.entries, es...)
	return nil
}

func (s *flakyStore) Audit(context.Context, int64, usage.AuditQuery) ([]usage.AuditEntry, error) {
	return nil, nil
}
func (s *flakyStore) PurgeAudit(context.Context, time.Time) (int64, error) { return 0, nil }

func (s *flakyStore) set(down bool) { s.mu.Lock(); s.down = down; s.mu.Unlock() }
func (s *flakyStore) count() int    { s.mu.Lock(); defer s.mu.Unlock(); return len(s.entries) }

// TestLogBuffersAndRefusesWhileDown: entries are written in order; while
// the store refuses them, Ready refuses actions and the buffer bounds
// what waits; once the store is back every entry is written.
func TestLogBuffersAndRefusesWhileDown(t *testing.T) {
	st := &flakyStore{}
	l, err := audit.New(audit.Config{Store: st, Buffer: 8, FlushEvery: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := l.Record(usage.AuditEntry{WorkspaceID: 1, Action: usage.AuditKeyCreate, Target: string(rune('a' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return st.count() == 5 })
	if l.Ready() != nil {
		t.Error("not ready with the store up")
	}
	st.set(true)
	l.Record(usage.AuditEntry{WorkspaceID: 1, Action: usage.AuditKeyRevoke})
	waitFor(t, func() bool { return l.Ready() != nil })
	if err := l.Ready(); usage.HTTPStatus(err) != 503 {
		t.Errorf("ready while down: %v", err)
	}
	// The buffer fills; then Record refuses after waiting.
	refused := 0
	for range 300 {
		if l.Record(usage.AuditEntry{WorkspaceID: 1, Action: usage.AuditExportCreate}) != nil {
			refused++
			break
		}
	}
	if refused == 0 {
		t.Error("a full buffer never refused")
	}
	st.set(false)
	waitFor(t, func() bool { return l.Ready() == nil && st.count() > 5 })
	l.Close()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.entries[0].Target != "a" || st.entries[4].Target != "e" || st.entries[5].Action != usage.AuditKeyRevoke || st.entries[0].ID == "" || st.entries[0].Time.IsZero() {
		t.Errorf("entries out of order or incomplete: %+v", st.entries[:6])
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}
