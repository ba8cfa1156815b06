package httpapi

import (
	"net/http"

	"github.com/usagelog/usagelog/internal/summary"
)

// handleSummary answers GET /api/v1/summary from the store's rollups.
func (s *Server) handleSummary(w http.ResponseWriter, r *http.Request, c *caller) error {
	_, loc, err := s.workspaceSettings(r, c.Workspace.ID)
	if err != nil {
		return err
	}
	req, err := summary.ParseRequest(r.URL.Query(), s.now(), loc)
	if err != nil {
		return err
	}
	sum, err := s.summaries.Summary(r.Context(), c.Workspace.ID, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sum)
	return nil
}

// handleFacets answers GET /api/v1/logs/facets: what the log filters can
// pick over a period, with counts.
func (s *Server) handleFacets(w http.ResponseWriter, r *http.Request, c *caller) error {
	_, loc, err := s.workspaceSettings(r, c.Workspace.ID)
	if err != nil {
		return err
	}
	req, err := summary.ParseFacetsRequest(r.URL.Query(), s.now(), loc)
	if err != nil {
		return err
	}
	f, err := s.summaries.Facets(r.Context(), c.Workspace.ID, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, f)
	return nil
}
