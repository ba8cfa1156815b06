package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/usagelog/usagelog/internal/alerts"
	"github.com/usagelog/usagelog/internal/usage"
)

// alertJSON is an alert rule as the API gives it: its definition, where
// it stands, and (once, when it is created) its webhook's secret.
type alertJSON struct {
	ID        string              `json:"id"`
	Name      string              `json:"name"`
	Metric    alerts.Metric       `json:"metric"`
	Op        string              `json:"op,omitempty"`
	Threshold float64             `json:"threshold"`
	Window    string              `json:"window"`
	Filters   map[string][]string `json:"filters"`
	MinCalls  int64               `json:"min_calls"`
	Notify    alerts.NotifyInput  `json:"notify"`
	Renotify  string              `json:"renotify,omitempty"`
	Enabled   bool                `json:"enabled"`
	State     alerts.State        `json:"state" jsonschema:"enum=ok,enum=firing,enum=no_data"`
	// StateSince is when it entered its state; LastAt, LastValue and
	// LastCalls the latest measurement (absent before the first).
	StateSince    string   `json:"state_since"`
	LastAt        string   `json:"last_at,omitempty"`
	LastValue     *float64 `json:"last_value,omitempty"`
	LastCalls     *int64   `json:"last_calls,omitempty"`
	NotifyError   string   `json:"notify_error,omitempty"`
	NotifyErrorAt string   `json:"notify_error_at,omitempty"`
	CreatedAt     string   `json:"created_at"`
	UpdatedAt     string   `json:"updated_at"`
	WebhookSecret string   `json:"webhook_secret,omitempty" jsonschema:"description=Signs the webhook's body (X-Usagelog-Signature); shown once: when the rule is created."`
}

// alertEventJSON is one entry of a rule's history.
type alertEventJSON struct {
	At     string        `json:"at"`
	State  alerts.State  `json:"state" jsonschema:"enum=ok,enum=firing,enum=no_data"`
	Notice alerts.Notice `json:"notice,omitempty" jsonschema:"enum=firing,enum=still_firing,enum=resolved"`
	Value  float64       `json:"value"`
	Calls  int64         `json:"calls"`
}

func timeJSON(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func newAlertJSON(e *alerts.Entry) alertJSON {
	a := alertJSON{ID: e.ID, Name: e.Name, Metric: e.Metric, Op: e.Op, Threshold: e.Threshold, Window: alerts.FormatSpan(e.Window),
		Filters: e.Filters, MinCalls: e.MinCalls, Notify: alerts.NotifyInput{Webhook: e.Notify.Webhook, Format: e.Notify.Format, Email: e.Notify.Email},
		Renotify: alerts.FormatSpan(e.Renotify), Enabled: e.Enabled, State: e.Status.State, StateSince: timeJSON(e.Status.Since),
		NotifyError: e.NotifyError, NotifyErrorAt: timeJSON(e.NotifyErrorAt), CreatedAt: timeJSON(e.Created), UpdatedAt: timeJSON(e.Updated)}
	if a.Filters == nil {
		a.Filters = map[string][]string{}
	}
	if !e.Last.At.IsZero() {
		a.LastAt, a.LastValue, a.LastCalls = timeJSON(e.Last.At), &e.Last.Value, &e.Last.Calls
	}
	return a
}

// alertRule reads and checks the rule a request's body describes.
func (s *Server) alertRule(w http.ResponseWriter, r *http.Request, c *caller) (alerts.Rule, error) {
	var in alerts.Input
	if err := decodeJSONBody(w, r, &in); err != nil {
		return alerts.Rule{}, err
	}
	rule, err := in.Rule()
	if err != nil {
		return rule, err
	}
	if rule.Notify.Webhook != "" {
		if err := s.webhooks.CheckField(r.Context(), "notify.webhook", rule.Notify.Webhook); err != nil {
			return rule, err
		}
	}
	rule.WorkspaceID = c.Workspace.ID
	return rule, nil
}

func (s *Server) alertStore() (alerts.Store, error) {
	if s.alerts == nil {
		return nil, usage.Errorf(usage.EUnavailable, "alerts are not kept by this server's metadata store")
	}
	return s.alerts, nil
}

// handleCreateAlert is POST /api/v1/alerts.
func (s *Server) handleCreateAlert(w http.ResponseWriter, r *http.Request, c *caller) error {
	st, err := s.alertStore()
	if err != nil {
		return err
	}
	rule, err := s.alertRule(w, r, c)
	if err != nil {
		return err
	}
	if err := s.auditReady(); err != nil {
		return err
	}
	rule.ID = usage.RandomID("al_", 10)
	secret := usage.RandomID("whsec_", 24)
	if err := st.CreateAlert(r.Context(), &rule, secret, s.now()); err != nil {
		return err
	}
	if err := s.audit(r, c, usage.AuditAlertCreate, rule.ID, rule.AuditDetails()); err != nil {
		return err
	}
	e, err := st.Alert(r.Context(), c.Workspace.ID, rule.ID)
	if err != nil {
		return err
	}
	out := newAlertJSON(&e)
	out.WebhookSecret = secret
	w.Header().Set("Location", "/api/v1/alerts/"+rule.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// handleAlerts is GET /api/v1/alerts.
func (s *Server) handleAlerts(w http.ResponseWriter, r *http.Request, c *caller) error {
	st, err := s.alertStore()
	if err != nil {
		return err
	}
	stored, err := st.Alerts(r.Context(), c.Workspace.ID)
	if err != nil {
		return err
	}
	out := make([]alertJSON, len(stored))
	for i := range stored {
		out[i] = newAlertJSON(&stored[i])
	}
	writeJSON(w, http.StatusOK, list[alertJSON]{Items: out})
	return nil
}

// handleAlert is GET /api/v1/alerts/{id}.
func (s *Server) handleAlert(w http.ResponseWriter, r *http.Request, c *caller) error {
	st, err := s.alertStore()
	if err != nil {
		return err
	}
	e, err := st.Alert(r.Context(), c.Workspace.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newAlertJSON(&e))
	return nil
}

// handlePutAlert is PUT /api/v1/alerts/{id}: the rule replaced, its state
// and history kept.
func (s *Server) handlePutAlert(w http.ResponseWriter, r *http.Request, c *caller) error {
	st, err := s.alertStore()
	if err != nil {
		return err
	}
	if _, err := st.Alert(r.Context(), c.Workspace.ID, r.PathValue("id")); err != nil {
		return err
	}
	rule, err := s.alertRule(w, r, c)
	if err != nil {
		return err
	}
	if err := s.auditReady(); err != nil {
		return err
	}
	rule.ID = r.PathValue("id")
	if err := st.UpdateAlert(r.Context(), &rule, s.now()); err != nil {
		return err
	}
	if err := s.audit(r, c, usage.AuditAlertUpdate, rule.ID, rule.AuditDetails()); err != nil {
		return err
	}
	return s.handleAlert(w, r, c)
}

// handleDeleteAlert is DELETE /api/v1/alerts/{id}.
func (s *Server) handleDeleteAlert(w http.ResponseWriter, r *http.Request, c *caller) error {
	st, err := s.alertStore()
	if err != nil {
		return err
	}
	if err := s.auditReady(); err != nil {
		return err
	}
	if err := st.DeleteAlert(r.Context(), c.Workspace.ID, r.PathValue("id")); err != nil {
		return err
	}
	if err := s.audit(r, c, usage.AuditAlertDelete, r.PathValue("id"), nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleAlertEvents is GET /api/v1/alerts/{id}/events: the rule's
// history, newest first.
func (s *Server) handleAlertEvents(w http.ResponseWriter, r *http.Request, c *caller) error {
	st, err := s.alertStore()
	if err != nil {
		return err
	}
	limit, err := limitParam(r, 1000, 100)
	if err != nil {
		return err
	}
	if _, err := st.Alert(r.Context(), c.Workspace.ID, r.PathValue("id")); err != nil {
		return err
	}
	events, err := st.AlertEvents(r.Context(), c.Workspace.ID, r.PathValue("id"), limit)
	if err != nil {
		return err
	}
	out := make([]alertEventJSON, len(events))
	for i, e := range events {
		out[i] = alertEventJSON{At: timeJSON(e.At), State: e.State, Notice: e.Notice, Value: e.Value, Calls: e.Calls}
	}
	writeJSON(w, http.StatusOK, list[alertEventJSON]{Items: out})
	return nil
}

// limitParam reads the only parameter of a list that takes limit.
func limitParam(r *http.Request, most, def int) (int, error) {
	for k := range r.URL.Query() {
		if k != "limit" {
			return 0, usage.Errorf(usage.EInvalid, "unknown parameter %q (this endpoint takes limit)", k)
		}
	}
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		return 0, usage.Errorf(usage.EInvalid, "limit: %q is not a number from 1 to %d", v, most)
	}
	return n, nil
}
