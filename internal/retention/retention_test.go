package retention_test

import (
	"context"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/audit"
	"github.com/usagelog/usagelog/internal/retention"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// TestPass: a workspace that keeps 10 days loses the events before the
// oldest UTC day it keeps, one that keeps everything loses nothing, the
// purge is audited, and audit entries past their retention go.
func TestPass(t *testing.T) {
	ctx := context.Background()
	st := sqlitetest.Open(t)
	now := time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC)
	keeper, _ := st.EnsureWorkspace(ctx, "keeper")
	forever, _ := st.EnsureWorkspace(ctx, "forever")
	ev := storetest.Fixture(30)
	for i := range ev {
		ev[i].Time = now.AddDate(0, 0, -i) // one a day
	}
	for _, ws := range []usage.Workspace{keeper, forever} {
		if _, err := st.Append(ctx, ws.ID, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SaveSettings(ctx, keeper.ID, usage.Settings{Timezone: "UTC", RetentionDays: 10}); err != nil {
		t.Fatal(err)
	}
	old := usage.AuditEntry{ID: "aud_old", WorkspaceID: keeper.ID, Time: now.AddDate(-2, 0, 0), Actor: usage.SystemActor("x"), Action: usage.AuditKeyCreate, Details: map[string]any{}}
	if err := st.AppendAudit(ctx, []usage.AuditEntry{old}); err != nil {
		t.Fatal(err)
	}
	log, _ := audit.New(audit.Config{Store: st, FlushEvery: time.Millisecond})
	j := &retention.Janitor{Events: st, Meta: st, Audit: log, Now: func() time.Time { return now }}
	purged, audits, err := j.Pass(ctx)
	log.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Kept: from 2026-11-16 00:00 UTC, the days i = 0 … 10.
	if len(purged) != 1 || purged[0].Workspace.ID != keeper.ID || purged[0].Events != 19 || !purged[0].Before.Equal(time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("purged %+v", purged)
	}
	if audits != 1 {
		t.Errorf("audit entries purged: %d, want the one two years old", audits)
	}
	for ws, want := range map[int64]int64{keeper.ID: 11, forever.ID: 30} {
		if n, _ := st.Count(ctx, ws, usage.KindAPIRequest); n != want {
			t.Errorf("workspace %d keeps %d calls, want %d", ws, n, want)
		}
	}
	entries, _ := st.Audit(ctx, keeper.ID, usage.AuditQuery{Action: usage.AuditRetentionPurge})
	if len(entries) != 1 || entries[0].Details["events"] != float64(19) || entries[0].Actor.Type != usage.ActorSystem {
		t.Errorf("retention.purge entries: %+v", entries)
	}
}
