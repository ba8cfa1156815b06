package httpapi

import (
	"cmp"
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

// handleReportExport is GET /api/v1/exports/{report}: any report of the
// catalogue, its filters in the query.
func (s *Server) handleReportExport(w http.ResponseWriter, r *http.Request, c *caller) error {
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

// exportLogs streams a report straight into the response as rows come
// from the store, planned by the catalogue as a job of the query's
// filters, format and tz. The row count is checked against the
// workspace's limit first, so a refusal is still a clean 422.
func (s *Server) exportLogs(w http.ResponseWriter, r *http.Request, c *caller, name string) error {
	report, err := export.LookupReport(name)
	if err != nil {
		return err
	}
	st, loc, err := s.workspaceSettings(r, c.Workspace.ID)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if tz := q.Get("tz"); tz != "" {
		if loc, err = usage.LoadLocation(tz); err != nil {
			return usage.Errorf(usage.EInvalid, "tz: %s", usage.ErrorMessage(err))
		}
	}
	filters := export.QueryFilters(q)
	run, err := report.Plan(export.Job{
		Events: s.events, Workspace: c.Workspace, Privacy: usage.NewPrivacy(st, s.secret, c.Workspace.ID),
		Filters: filters, Format: q.Get("format"), Timezone: cmp.Or(q.Get("tz"), loc.String()), Loc: loc,
		Now: s.now(), RowLimit: st.RowLimit(s.exportRowLimit), MaxRangeDays: s.maxRangeDays,
	})
	if err != nil {
		return err
	}
	details := map[string]any{"report": report.Name, "format": string(run.Format), "filters": filters, "timezone": cmp.Or(q.Get("tz"), loc.String()), "via": "download"}
	return s.streamRun(w, r, c, run, details, "rows")
}

// exportSlot readies a synchronous export: the audit log must take its
// entry, and one of the workspace's export slots must be free (a 429
// naming the limit when none is). release gives the slot back.
func (s *Server) exportSlot(w http.ResponseWriter, c *caller) (release func(), err error) {
	if err := s.auditReady(); err != nil {
		return nil, err
	}
	return s.running.acquire(w, c.Workspace.ID)
}

// streamRun streams a planned report into the response as a download,
// in one of the workspace's export slots, and records it in the audit log
// with details and the rows written under count.
func (s *Server) streamRun(w http.ResponseWriter, r *http.Request, c *caller, run *export.Run, details map[string]any, count string) error {
	release, err := s.exportSlot(w, c)
	if err != nil {
		return err
	}
	defer release()
	write, err := run.Start(r.Context(), func(int64, int64) {})
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", run.Format.ContentType())
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": run.FileName}))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	n, err := write(w)
	if err != nil {
		// The header is out: the client sees a cut file; the log says why.
		s.log.Error("export failed mid-stream", "report", details["report"], "workspace", c.Workspace.Name, count, n, "err", err)
	}
	details[count] = n
	if err != nil {
		details["error"] = "cut short: " + usage.ErrorMessage(err)
	}
	if err := s.audit(r, c, usage.AuditExportCreate, run.FileName, details); err != nil {
		// The file went out already: the refusal can only be logged.
		s.log.Error("audit: export not recorded", "report", details["report"], "workspace", c.Workspace.Name, "err", err)
	}
	return nil
}
