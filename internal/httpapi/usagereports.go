package httpapi

import (
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
	return s.streamRun(w, r, c, run, map[string]any{"report": "usage-reports", "format": "zip", "via": "download"}, "users")
}
