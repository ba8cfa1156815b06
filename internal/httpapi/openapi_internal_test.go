package httpapi

import (
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
)

// TestDescriptionMatchesRouter checks the description against the mux
// both ways: every route the server registers is described, and every
// described operation reaches the handler of its own route, not the
// catch-all.
func TestDescriptionMatchesRouter(t *testing.T) {
	st := sqlitetest.Open(t)
	s, err := New(Config{Events: st, Meta: st, Metrics: NewMetrics()})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Scope       string `json:"x-usagelog-scope"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(s.Description(), &doc); err != nil {
		t.Fatal(err)
	}
	var described []string
	param := regexp.MustCompile(`\{[^}]+\}`)
	for path, ops := range doc.Paths {
		for method, o := range ops {
			m := strings.ToUpper(method)
			described = append(described, m+" "+path)
			if o.OperationID == "" {
				t.Errorf("%s %s: no operationId", m, path)
			}
			// A described path, its parameters filled in, is served by
			// its own pattern.
			r := httptest.NewRequest(m, param.ReplaceAllString(path, "x1"), nil)
			_, pattern := s.mux.Handler(r)
			if pattern == "/" || pattern == "" {
				t.Errorf("%s %s is described but not served", m, path)
				continue
			}
			if got := strings.ReplaceAll(pattern, "...}", "}"); got != m+" "+path {
				t.Errorf("%s %s is served by %s", m, path, pattern)
			}
		}
	}
	var registered []string
	for _, p := range s.registered {
		registered = append(registered, strings.ReplaceAll(p, "...}", "}"))
	}
	slices.Sort(described)
	slices.Sort(registered)
	for _, p := range registered {
		if !slices.Contains(described, p) {
			t.Errorf("%s is served but not described", p)
		}
	}
	if len(registered) != len(described) {
		t.Errorf("%d routes registered, %d operations described", len(registered), len(described))
	}
	for _, want := range []string{"GET /api/v1/openapi.json", "POST /api/v1/events", "GET /api/v1/exports/usage-reports", "GET /files/{path}", "GET /metrics"} {
		if !slices.Contains(described, want) {
			t.Errorf("%s is not described", want)
		}
	}
}
