package httpapi

import (
	"mime"
	"net/http"

	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/usage"
)

// handleUsageReports is GET /export/usage-reports: "Usage Reports.zip" for
// a key with SERVER_MANAGEMENT_READ, or for an admin member signed in to
// the console.
func (s *Server) handleUsageReports(w http.ResponseWriter, r *http.Request) {
	ri := info(r)
	ri.api = true
	c, err := s.authenticate(r.Context(), r, usage.ScopeServerMgmtRead)
	if c != nil {
		ri.caller = c
	}
	if err == nil {
		err = s.limits.allow(w, c.Key.ID, groupExports, s.now())
	}
	if err == nil {
		ri.started = s.now()
		err = s.writeUsageReports(w, r, c)
	}
	if err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Server) writeUsageReports(w http.ResponseWriter, r *http.Request, c *caller) error {
	report, err := export.LookupReport("usage-reports")
	if err != nil {
		return err
	}
	_, loc, err := s.workspaceSettings(r, c.Workspace.ID)
	if err != nil {
		return err
	}
	run, err := report.Plan(export.Job{Events: s.events, Workspace: c.Workspace, Timezone: loc.String(), Loc: loc, Now: s.now()})
	if err != nil {
		return err
	}
	if err := s.auditReady(); err != nil {
		return err
	}
	release, err := s.running.acquire(w, c.Workspace.ID)
	if err != nil {
		return err
	}
	defer release()
	write, err := run.Start(r.Context(), func(int64, int64) {})
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": run.FileName}))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	n, err := write(w)
	if err != nil {
		// The header is out: the client sees a cut file; the log says why.
		s.log.Error("usage reports failed mid-stream", "workspace", c.Workspace.Name, "err", err)
	}
	details := map[string]any{"report": "usage-reports", "format": "zip", "users": n, "via": "download"}
	if err != nil {
		details["error"] = "cut short: " + usage.ErrorMessage(err)
	}
	if err := s.audit(r, c, usage.AuditExportCreate, run.FileName, details); err != nil {
		s.log.Error("audit: usage reports download not recorded", "workspace", c.Workspace.Name, "err", err)
	}
	return nil
}
