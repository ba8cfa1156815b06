package httpapi_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/usagelog/usagelog/internal/usage"
)

func TestCollectionsAndClientsAPI(t *testing.T) {
	h := newHarness(t, 0)
	admin := h.key(h.ws, usage.ScopeWorkspaceAdmin)
	writer := h.key(h.ws, usage.ScopeEventsWrite)
	other, _ := h.store.EnsureWorkspace(context.Background(), "globex")
	otherAdmin := h.key(other, usage.ScopeWorkspaceAdmin)
	const js = "application/json"

	r := h.do("POST", "/api/v1/collections", admin, js, strings.NewReader(`{"name":"Orders <b>","type":"recipe","community":"Shop","endpoints":["GET /orders/{id}"]}`))
	if r.status != 201 {
		t.Fatalf("create collection: %d %s", r.status, r.body)
	}
	if m := r.json(t); m["name"] != "Orders <b>" || m["active"] != true || m["type"] != "recipe" {
		t.Errorf("created = %v", m)
	}
	bad := []struct{ body, want string }{
		{`{"type":"proxy"}`, `field "name" is required`},
		{`{"name":"x","type":"soap"}`, `collection type "soap"`},
		{`{"name":"x","endpoints":["orders"]}`, `endpoint "orders"`},
		{`{"name":"x","colour":"red"}`, `colour`},
		{`{"name":"Orders <b>"}`, `already exists`},
	}
	for _, b := range bad {
		r := h.do("POST", "/api/v1/collections", admin, js, strings.NewReader(b.body))
		msg, _ := r.json(t)["error"].(map[string]any)["message"].(string)
		if (r.status != 400 && r.status != 409) || !strings.Contains(msg, b.want) {
			t.Errorf("%s: %d %s, want an error naming %q", b.body, r.status, r.body, b.want)
		}
	}
	if r := h.do("POST", "/api/v1/collections", writer, js, strings.NewReader(`{"name":"y"}`)); r.status != 403 {
		t.Errorf("an EVENTS_WRITE key created a collection: %d", r.status)
	}

	path := "/api/v1/collections/" + url.PathEscape("Orders <b>")
	r = h.do("PATCH", path, admin, js, strings.NewReader(`{"active":false,"endpoints":[]}`))
	if m := r.json(t); r.status != 200 || m["active"] != false || len(m["endpoints"].([]any)) != 0 || m["community"] != "Shop" {
		t.Errorf("patch: %d %s", r.status, r.body)
	}
	if r := h.do("PATCH", path, admin, js, strings.NewReader(`{"name":"renamed"}`)); r.status != 400 {
		t.Errorf("rename: %d %s", r.status, r.body)
	}
	if r := h.do("GET", path, otherAdmin, "", nil); r.status != 404 {
		t.Errorf("another workspace read the collection: %d", r.status)
	}

	r = h.do("POST", "/api/v1/clients", admin, js, strings.NewReader(`{"name":"Mobile","collection":"Orders <b>"}`))
	if r.status != 201 {
		t.Fatalf("create client: %d %s", r.status, r.body)
	}
	m := r.json(t)
	token := m["token"].(string)
	client := m["client"].(map[string]any)
	if !strings.HasPrefix(token, usage.ClientTokenPrefix) || client["name"] != "Mobile" || client["token_hash"] != nil {
		t.Errorf("client answer = %v", m)
	}
	if r := h.do("POST", "/api/v1/clients", otherAdmin, js, strings.NewReader(`{"name":"x","collection":"Orders <b>"}`)); r.status != 404 {
		t.Errorf("client on another workspace's collection: %d", r.status)
	}

	// The gateway's directory: token hashes, for an EVENTS_WRITE key.
	r = h.do("GET", "/api/v1/gateway/directory?collection="+url.QueryEscape("Orders <b>"), writer, "", nil)
	if r.status != 200 {
		t.Fatalf("directory: %d %s", r.status, r.body)
	}
	if !strings.Contains(string(r.body), usage.HashToken(token)) || strings.Contains(string(r.body), token) {
		t.Errorf("directory must carry the hash and never the token: %s", r.body)
	}
	if r := h.do("GET", "/api/v1/gateway/directory?collection=nope", writer, "", nil); r.status != 404 {
		t.Errorf("directory of an unknown collection: %d", r.status)
	}
	if r := h.do("GET", "/api/v1/gateway/directory?collection="+url.QueryEscape("Orders <b>"), h.key(h.ws, usage.ScopeLogsRead), "", nil); r.status != 403 {
		t.Errorf("directory with LOGS_READ: %d", r.status)
	}

	id := client["id"].(string)
	if r := h.do("DELETE", "/api/v1/clients/"+id, otherAdmin, "", nil); r.status != 404 {
		t.Errorf("revoke through another workspace: %d", r.status)
	}
	if r := h.do("DELETE", "/api/v1/clients/"+id, admin, "", nil); r.status != 204 {
		t.Errorf("revoke: %d %s", r.status, r.body)
	}
	r = h.do("GET", "/api/v1/clients?collection="+url.QueryEscape("Orders <b>"), admin, "", nil)
	items := r.json(t)["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["revoked_at"] == nil {
		t.Errorf("clients after revoke: %s", r.body)
	}
}
