package console_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/usagelog/usagelog/internal/usage"
)

// TestErasuresPage: an admin's request is refused with its reason when it
// names no value, queued otherwise (the page follows it and then shows the
// receipt); hostile values and reasons are escaped; analysts are kept out.
func TestErasuresPage(t *testing.T) {
	s := newSite(t)
	s.member("default", "ann@acme.example", usage.RoleAdmin)
	s.member("default", "bob@acme.example", usage.RoleAnalyst)
	b, token := s.signIn("ann@acme.example")
	if p := s.get(b, "/erasures"); p.status != 200 || !strings.Contains(p.body, `id="create-erasure"`) || !strings.Contains(p.body, "No erasure yet.") {
		t.Fatalf("erasures page: %d", p.status)
	}
	bad := s.post(b, "/erasures", url.Values{"csrf": {token}, "field": {"member_id"}, "value": {"  "}, "reason": {"<b>why</b>"}})
	if bad.status != 400 || !strings.Contains(bad.body, "Enter the member_id that names the person.") || !strings.Contains(bad.body, `value="&lt;b&gt;why&lt;/b&gt;"`) {
		t.Fatalf("refused form: %d %s", bad.status, bad.body)
	}
	if p := s.post(b, "/erasures", url.Values{"csrf": {token}, "field": {"phone"}, "value": {"1"}}); p.status != 400 {
		t.Errorf("unknown field: %d", p.status)
	}
	p := s.post(b, "/erasures", url.Values{"csrf": {token}, "field": {"user_email"}, "value": {"<Ann>@Example.com"}, "reason": {"<script>x</script>"}})
	if p.status != 303 {
		t.Fatalf("create: %d %s", p.status, p.body)
	}
	ws, _ := s.store.WorkspaceByName(context.Background(), "default")
	list, _ := s.store.Erasures(context.Background(), ws.ID, 10)
	if len(list) != 1 || list[0].Value != "<ann>@example.com" || list[0].Status != usage.ErasureQueued {
		t.Fatalf("stored %+v", list)
	}
	detail := s.get(b, "/erasures/"+list[0].ID)
	if detail.status != 200 || !strings.Contains(detail.body, `http-equiv="refresh"`) || strings.Contains(detail.body, "<script>x") ||
		strings.Contains(detail.body, "ann>@example.com") {
		t.Fatalf("queued erasure's page: %d %s", detail.status, detail.body)
	}
	if p := s.get(b, "/erasures/er_missing"); p.status != 404 {
		t.Errorf("missing: %d", p.status)
	}
	analyst, _ := s.signIn("bob@acme.example")
	if p := s.get(analyst, "/erasures"); p.status != 403 {
		t.Errorf("analyst: %d", p.status)
	}
}
