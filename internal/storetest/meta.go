package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// MetaStore runs the conformance suite of metadata stores.
func MetaStore(t *testing.T, open func(t *testing.T) usage.MetaStore) {
	ctx := context.Background()

	t.Run("Workspaces", func(t *testing.T) {
		s := open(t)
		a, err := s.EnsureWorkspace(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		again, err := s.EnsureWorkspace(ctx, "acme")
		if err != nil || again.ID != a.ID {
			t.Fatalf("ensure twice gave %+v, %v; want id %d", again, err, a.ID)
		}
		if _, err := s.CreateWorkspace(ctx, "acme"); usage.ErrorCode(err) != usage.EConflict {
			t.Errorf("create existing: err = %v, want conflict", err)
		}
		if _, err := s.CreateWorkspace(ctx, "../etc"); usage.ErrorCode(err) != usage.EInvalid {
			t.Errorf("create ../etc: err = %v, want invalid", err)
		}
		b, err := s.CreateWorkspace(ctx, "globex")
		if err != nil {
			t.Fatal(err)
		}
		if b.ID == a.ID {
			t.Fatal("two workspaces share an id")
		}
		got, err := s.WorkspaceByID(ctx, b.ID)
		if err != nil || got.Name != "globex" {
			t.Errorf("by id = %+v, %v", got, err)
		}
		if _, err := s.WorkspaceByName(ctx, "nope"); usage.ErrorCode(err) != usage.ENotFound {
			t.Errorf("unknown name: err = %v, want not found", err)
		}
		all, err := s.Workspaces(ctx)
		if err != nil || len(all) != 2 {
			t.Errorf("workspaces = %+v, %v", all, err)
		}
	})

	t.Run("Keys", func(t *testing.T) {
		s := open(t)
		a, _ := s.EnsureWorkspace(ctx, "acme")
		b, _ := s.EnsureWorkspace(ctx, "globex")
		now := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
		token, key, err := usage.NewKey(a.ID, "ingest bot", []usage.Scope{usage.ScopeEventsWrite, usage.ScopeLogsRead}, now)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateKey(ctx, key); err != nil {
			t.Fatal(err)
		}
		got, err := s.KeyByHash(ctx, usage.HashToken(token))
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != key.ID || got.WorkspaceID != a.ID || !got.Has(usage.ScopeLogsRead) || got.Has(usage.ScopeWorkspaceAdmin) || !got.CreatedAt.Equal(now.Truncate(time.Millisecond)) {
			t.Errorf("key = %+v", got)
		}
		if _, err := s.KeyByHash(ctx, usage.HashToken(token+"x")); usage.ErrorCode(err) != usage.ENotFound {
			t.Errorf("unknown token: err = %v", err)
		}
		if err := s.TouchKey(ctx, key.ID, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		// Another workspace cannot revoke it.
		if err := s.RevokeKey(ctx, b.ID, key.ID, now); usage.ErrorCode(err) != usage.ENotFound {
			t.Errorf("revoke from another workspace: err = %v, want not found", err)
		}
		if keys, _ := s.Keys(ctx, b.ID); len(keys) != 0 {
			t.Errorf("globex lists acme's keys: %+v", keys)
		}
		if err := s.RevokeKey(ctx, a.ID, key.ID, now.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		keys, err := s.Keys(ctx, a.ID)
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys = %+v, %v", keys, err)
		}
		if !keys[0].Revoked() || !keys[0].LastUsedAt.Equal(now.Add(time.Hour).Truncate(time.Millisecond)) {
			t.Errorf("after touch and revoke: %+v", keys[0])
		}
		if err := s.RevokeKey(ctx, a.ID, "key_missing", now); usage.ErrorCode(err) != usage.ENotFound {
			t.Errorf("revoke unknown: err = %v", err)
		}
	})

	t.Run("MembersSessionsSettings", func(t *testing.T) {
		s := open(t)
		a, _ := s.EnsureWorkspace(ctx, "acme")
		b, _ := s.EnsureWorkspace(ctx, "globex")
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		m := usage.Member{ID: "mem_1", WorkspaceID: a.ID, Email: "ann@acme.example", PasswordHash: "$2a$hash", Role: usage.RoleAnalyst, CreatedAt: now}
		if err := s.CreateMember(ctx, m); err != nil {
			t.Fatal(err)
		}
		dup := m
		dup.ID, dup.WorkspaceID = "mem_2", b.ID
		if err := s.CreateMember(ctx, dup); usage.ErrorCode(err) != usage.EConflict {
			t.Errorf("same email twice: err = %v, want conflict", err)
		}
		got, err := s.MemberByEmail(ctx, "ann@acme.example")
		if err != nil || got != m {
			t.Errorf("by email = %+v, %v", got, err)
		}
		if got, err := s.MemberByID(ctx, "mem_1"); err != nil || got.Email != m.Email {
			t.Errorf("by id = %+v, %v", got, err)
		}
		if _, err := s.MemberByEmail(ctx, "nobody@acme.example"); usage.ErrorCode(err) != usage.ENotFound {
			t.Errorf("unknown email: %v", err)
		}
		if list, _ := s.Members(ctx, b.ID); len(list) != 0 {
			t.Errorf("globex lists acme's members: %+v", list)
		}

		sess := usage.Session{Hash: "h1", MemberID: m.ID, CSRF: "c1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if got, err := s.SessionByHash(ctx, "h1", now.Add(time.Minute)); err != nil || got != sess {
			t.Errorf("session = %+v, %v", got, err)
		}
		if _, err := s.SessionByHash(ctx, "h1", now.Add(2*time.Hour)); usage.ErrorCode(err) != usage.ENotFound {
			t.Errorf("expired session found: %v", err)
		}
		if err := s.DeleteSession(ctx, "h1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SessionByHash(ctx, "h1", now); usage.ErrorCode(err) != usage.ENotFound {
			t.Errorf("deleted session found: %v", err)
		}

		if st, err := s.Settings(ctx, a.ID); err != nil || st != usage.DefaultSettings() {
			t.Errorf("default settings = %+v, %v", st, err)
		}
		want := usage.Settings{AnonymizeUsers: true, AnonymizeIPs: true, Timezone: "Europe/Berlin", ExportRowLimit: 5000}
		if err := s.SaveSettings(ctx, a.ID, want); err != nil {
			t.Fatal(err)
		}
		if st, _ := s.Settings(ctx, a.ID); st != want {
			t.Errorf("settings = %+v, want %+v", st, want)
		}
		want.AnonymizeIPs = false
		if err := s.SaveSettings(ctx, a.ID, want); err != nil {
			t.Fatal(err)
		}
		if st, _ := s.Settings(ctx, a.ID); st != want {
			t.Errorf("updated settings = %+v, want %+v", st, want)
		}
		if st, _ := s.Settings(ctx, b.ID); st != usage.DefaultSettings() {
			t.Errorf("globex got acme's settings: %+v", st)
		}
	})
}
