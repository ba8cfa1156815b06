package httpapi

import (
	"net/http"
	"time"

	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/jobs"
	"github.com/usagelog/usagelog/internal/usage"
)

// jobView renders a job with a fresh signed download link when it has a
// file.
func (s *Server) jobView(j usage.ExportJob) jobs.View {
	return jobs.ViewOf(j, s.JobLinks(), s.now())
}

// JobLinks makes the download links of job files; nil when the server
// serves no files.
func (s *Server) JobLinks() jobs.Linker {
	if s.signer == nil {
		return nil
	}
	return s.links
}

func (s *Server) needJobs() error {
	if s.jobs == nil {
		return usage.Errorf(usage.EInternal, "export jobs are not running on this server")
	}
	return nil
}

func needScope(c *caller, scope usage.Scope) error {
	if !c.Key.Has(scope) {
		return usage.MissingScope(scope)
	}
	return nil
}

// handleCreateJob is POST /api/v1/exports.
func (s *Server) handleCreateJob(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := s.needJobs(); err != nil {
		return err
	}
	var spec usage.ExportSpec
	if err := decodeJSONBody(w, r, &spec); err != nil {
		return err
	}
	if spec.Report == "" {
		return usage.Errorf(usage.EInvalid, "report is required (one of api-logs, api-usage, users, …, usage-reports)")
	}
	if err := needScope(c, export.ReportScope(spec.Report)); err != nil {
		return err
	}
	j, err := s.jobs.Submit(r.Context(), c.Workspace, spec, actorOf(c))
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/exports/"+j.ID)
	writeJSON(w, http.StatusAccepted, s.jobView(j))
	return nil
}

// handleJobs is GET /api/v1/exports: the workspace's jobs that the key may
// see, newest first.
func (s *Server) handleJobs(w http.ResponseWriter, r *http.Request, c *caller) error {
	limit, err := limitParam(r, 1000, 100)
	if err != nil {
		return err
	}
	stored, err := s.meta.Jobs(r.Context(), c.Workspace.ID, limit)
	if err != nil {
		return err
	}
	out := make([]jobs.View, 0, len(stored))
	for _, j := range stored {
		if c.Key.Has(export.ReportScope(j.Spec.Report)) {
			out = append(out, s.jobView(j))
		}
	}
	writeJSON(w, http.StatusOK, list[jobs.View]{Items: out})
	return nil
}

// handleExportsItem is GET /api/v1/exports/{id}.
func (s *Server) handleExportsItem(w http.ResponseWriter, r *http.Request, c *caller) error {
	j, err := s.meta.Job(r.Context(), c.Workspace.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := needScope(c, export.ReportScope(j.Spec.Report)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.jobView(j))
	return nil
}

// handleCancelJob is DELETE /api/v1/exports/{id}.
func (s *Server) handleCancelJob(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := s.needJobs(); err != nil {
		return err
	}
	j, err := s.meta.Job(r.Context(), c.Workspace.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := needScope(c, export.ReportScope(j.Spec.Report)); err != nil {
		return err
	}
	if j.Status.Final() {
		return usage.Errorf(usage.EConflict, "export job %s already %s", j.ID, j.Status)
	}
	j, err = s.jobs.Cancel(r.Context(), c.Workspace.ID, j.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.jobView(j))
	return nil
}

// scheduleJSON is a schedule as the API answers it; the webhook secret is
// shown once, when the schedule is created.
type scheduleJSON struct {
	usage.Schedule
	WebhookSecret string `json:"webhookSecret,omitempty"`
}

// ScheduleRequest is the body of POST /api/v1/schedules.
type ScheduleRequest struct {
	Name          string             `json:"name"`
	Report        string             `json:"report"`
	Format        string             `json:"format,omitempty"`
	Filters       usage.FilterValues `json:"filters,omitempty"`
	Timezone      string             `json:"timezone,omitempty"`
	Range         string             `json:"range,omitempty"`
	Cadence       usage.Cadence      `json:"cadence"`
	RetentionDays int                `json:"retentionDays,omitempty"`
	WebhookURL    string             `json:"webhookUrl,omitempty"`
}

// handleCreateSchedule is POST /api/v1/schedules.
func (s *Server) handleCreateSchedule(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := s.needJobs(); err != nil {
		return err
	}
	var body ScheduleRequest
	if err := decodeJSONBody(w, r, &body); err != nil {
		return err
	}
	if err := needScope(c, export.ReportScope(body.Report)); err != nil {
		return err
	}
	sc := usage.Schedule{ID: usage.RandomID("sch_", 8), WorkspaceID: c.Workspace.ID, Name: body.Name,
		Spec:  usage.ExportSpec{Report: body.Report, Format: body.Format, Filters: body.Filters, Timezone: body.Timezone},
		Range: body.Range, Cadence: body.Cadence, RetentionDays: body.RetentionDays, WebhookURL: body.WebhookURL,
		CreatedBy: c.Key.Name, CreatedAt: s.now().UTC().Truncate(time.Millisecond)}
	if sc.WebhookURL != "" {
		sc.WebhookSecret = usage.RandomID("whsec_", 24)
	}
	if err := s.jobs.PlanSchedule(r.Context(), c.Workspace, &sc, s.now()); err != nil {
		return err
	}
	if err := s.auditReady(); err != nil {
		return err
	}
	if err := s.meta.CreateSchedule(r.Context(), &sc); err != nil {
		return err
	}
	if err := s.audit(r, c, usage.AuditScheduleCreate, sc.ID, map[string]any{"name": sc.Name, "report": sc.Spec.Report, "format": sc.Spec.Format,
		"filters": sc.Spec.Filters, "range": sc.Range, "cadence": sc.Cadence, "webhook": sc.WebhookURL}); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, scheduleJSON{Schedule: sc, WebhookSecret: sc.WebhookSecret})
	return nil
}

// handleSchedules is GET /api/v1/schedules.
func (s *Server) handleSchedules(w http.ResponseWriter, r *http.Request, c *caller) error {
	stored, err := s.meta.Schedules(r.Context(), c.Workspace.ID)
	if err != nil {
		return err
	}
	out := make([]usage.Schedule, 0, len(stored))
	for _, sc := range stored {
		if c.Key.Has(export.ReportScope(sc.Spec.Report)) {
			out = append(out, sc)
		}
	}
	writeJSON(w, http.StatusOK, list[usage.Schedule]{Items: out})
	return nil
}

func (s *Server) schedule(r *http.Request, c *caller) (usage.Schedule, error) {
	sc, err := s.meta.Schedule(r.Context(), c.Workspace.ID, r.PathValue("id"))
	if err != nil {
		return sc, err
	}
	return sc, needScope(c, export.ReportScope(sc.Spec.Report))
}

// handleSchedule is GET /api/v1/schedules/{id}.
func (s *Server) handleSchedule(w http.ResponseWriter, r *http.Request, c *caller) error {
	sc, err := s.schedule(r, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sc)
	return nil
}

// handleDeleteSchedule is DELETE /api/v1/schedules/{id}.
func (s *Server) handleDeleteSchedule(w http.ResponseWriter, r *http.Request, c *caller) error {
	if _, err := s.schedule(r, c); err != nil {
		return err
	}
	if err := s.auditReady(); err != nil {
		return err
	}
	if err := s.meta.DeleteSchedule(r.Context(), c.Workspace.ID, r.PathValue("id")); err != nil {
		return err
	}
	if err := s.audit(r, c, usage.AuditScheduleDelete, r.PathValue("id"), nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
