package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// collectionStore checks the gateway's collections and clients: names unique
// per workspace, updates, token hashes, revocation, and that nothing of one
// workspace is reachable through another.
func collectionStore(t *testing.T, s usage.MetaStore) {
	ctx := context.Background()
	a, _ := s.EnsureWorkspace(ctx, "acme")
	b, _ := s.EnsureWorkspace(ctx, "globex")
	now := time.Date(2026, 3, 4, 5, 6, 7, 8_000_000, time.UTC)

	orders, err := usage.NewCollection(a.ID, usage.Collection{Name: "Orders <API>", Type: usage.CollectionRecipe, Community: "=Shop", Endpoints: []string{"GET /orders/{id}", "/health"}, Active: true}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateCollection(ctx, orders); err != nil {
		t.Fatal(err)
	}
	dup, _ := usage.NewCollection(a.ID, usage.Collection{Name: "Orders <API>", Active: true}, now)
	if err := s.CreateCollection(ctx, dup); usage.ErrorCode(err) != usage.EConflict {
		t.Errorf("second collection of one name: err = %v, want conflict", err)
	}
	// Another workspace may use the same name.
	other, _ := usage.NewCollection(b.ID, usage.Collection{Name: "Orders <API>", Active: true}, now)
	if err := s.CreateCollection(ctx, other); err != nil {
		t.Fatalf("same name in another workspace: %v", err)
	}

	got, err := s.CollectionByName(ctx, a.ID, "Orders <API>")
	if err != nil || !reflect.DeepEqual(got, orders) {
		t.Fatalf("by name = %+v, %v; want %+v", got, err, orders)
	}
	if _, err := s.CollectionByName(ctx, a.ID, "orders <api>"); usage.ErrorCode(err) != usage.ENotFound {
		t.Errorf("names are exact: err = %v, want not found", err)
	}

	orders.Active = false
	orders.Endpoints = nil
	orders.Type = usage.CollectionProxy
	if err := s.UpdateCollection(ctx, orders); err != nil {
		t.Fatal(err)
	}
	got, _ = s.CollectionByName(ctx, a.ID, orders.Name)
	if !reflect.DeepEqual(got, orders) {
		t.Errorf("after update = %+v, want %+v", got, orders)
	}
	if theirs, _ := s.CollectionByName(ctx, b.ID, orders.Name); !theirs.Active {
		t.Error("updating one workspace's collection changed another's")
	}
	ghost := orders
	ghost.Name = "ghost"
	if err := s.UpdateCollection(ctx, ghost); usage.ErrorCode(err) != usage.ENotFound {
		t.Errorf("update unknown: err = %v, want not found", err)
	}

	token, cl, err := usage.NewClient(orders, "Mobile app", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateClient(ctx, cl); err != nil {
		t.Fatal(err)
	}
	// A client cannot be attached to another workspace's collection.
	_, stray, _ := usage.NewClient(other, "stray", now)
	stray.WorkspaceID = a.ID
	if err := s.CreateClient(ctx, stray); usage.ErrorCode(err) != usage.ENotFound {
		t.Errorf("client of another workspace's collection: err = %v, want not found", err)
	}
	clients, err := s.Clients(ctx, a.ID, orders.ID)
	if err != nil || len(clients) != 1 {
		t.Fatalf("clients = %+v, %v", clients, err)
	}
	if c := clients[0]; c.Hash != usage.HashToken(token) || c.Name != "Mobile app" || c.Collection != orders.Name || c.Revoked() || !c.CreatedAt.Equal(usage.TruncateMS(now)) {
		t.Errorf("client = %+v", c)
	}
	if all, _ := s.Clients(ctx, a.ID, ""); len(all) != 1 {
		t.Errorf("all clients = %d, want 1", len(all))
	}
	if theirs, _ := s.Clients(ctx, b.ID, ""); len(theirs) != 0 {
		t.Errorf("another workspace sees %d clients", len(theirs))
	}
	if err := s.RevokeClient(ctx, b.ID, cl.ID, now); usage.ErrorCode(err) != usage.ENotFound {
		t.Errorf("revoke through another workspace: err = %v, want not found", err)
	}
	if err := s.RevokeClient(ctx, a.ID, cl.ID, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeClient(ctx, a.ID, cl.ID, now.Add(2*time.Hour)); err != nil {
		t.Errorf("revoke again: %v", err)
	}
	clients, _ = s.Clients(ctx, a.ID, orders.ID)
	if !clients[0].RevokedAt.Equal(usage.TruncateMS(now.Add(time.Hour))) {
		t.Errorf("revoked at %v, want the first revocation", clients[0].RevokedAt)
	}
	cols, err := s.Collections(ctx, a.ID)
	if err != nil || len(cols) != 1 {
		t.Errorf("collections = %+v, %v", cols, err)
	}
}
