package httpapi

import (
	"mime"
	"net/http"
	"path"
	"time"

	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/usage"
)

func (s *Server) handleLogsCSV(w http.ResponseWriter, r *http.Request, c *caller) error {
	q := r.URL.Query()
	if q.Has("format") {
		return usage.Errorf(usage.EInvalid, "unknown parameter \"format\": logs.csv is CSV; /api/v1/exports/api-logs takes a format")
	}
	return s.exportLogs(w, r, c, export.APILogs.Name)
}

// handleLogExport is GET /api/v1/exports/{api-logs|api-usage}.
func (s *Server) handleLogExport(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.exportLogs(w, r, c, path.Base(r.URL.Path))
}

// workspaceSettings returns the workspace's settings and its default
// timezone for written times.
func (s *Server) workspaceSettings(r *http.Request, workspaceID int64) (usage.Settings, *time.Location, error) {
	st, err := s.meta.Settings(r.Context(), workspaceID)
	if err != nil {
		return st, nil, err
	}
	loc, err := st.Location()
	return st, loc, err
}

// exportLogs streams a report over api_request events straight into the
// response as rows come from the store. The row count is checked against
// the workspace's limit first, so a refusal is still a clean 422.
func (s *Server) exportLogs(w http.ResponseWriter, r *http.Request, c *caller, report string) error {
	scanner := s.events
	st, loc, err := s.workspaceSettings(r, c.Workspace.ID)
	if err != nil {
		return err
	}
	lr, err := export.ParseLogRequest(report, r.URL.Query(), s.now(), loc)
	if err != nil {
		return err
	}
	if _, err := lr.Count(r.Context(), scanner, c.Workspace.ID, st.RowLimit(s.exportRowLimit)); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", lr.Format.ContentType())
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": lr.FileName(c.Workspace.Name, s.now())}))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	rw := export.NewWriter(lr.Format, w, lr.Report.Name)
	if n, err := lr.Run(r.Context(), scanner, c.Workspace.ID, usage.NewPrivacy(st, s.secret, c.Workspace.ID), rw, nil); err != nil {
		// The header is out: the client sees a cut file; the log says why.
		s.log.Error("export failed mid-stream", "report", lr.Report.Name, "workspace", c.Workspace.Name, "rows", n, "err", err)
	}
	return nil
}
