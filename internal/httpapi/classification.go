package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// classificationJSON is the body of GET and PUT
// /api/v1/workspace/classification.
type classificationJSON struct {
	Rules []usage.Rule `json:"rules"`
	// Default says the workspace set no rules: these are the defaults.
	Default bool `json:"default"`
	// Reclassification is how far the stored calls follow these rules.
	Reclassification reclassificationJSON `json:"reclassification"`
}

// reclassificationJSON tells how far the workspace's stored calls have
// been classified again since its rules last changed.
type reclassificationJSON struct {
	// State: none (the rules never changed), pending, running, done or
	// failed.
	State string `json:"state" jsonschema:"enum=none,enum=pending,enum=running,enum=done,enum=failed"`
	// Done of Total are the run's steps (days of calls, or calls, as the
	// store counts them): a progress bar's ratio.
	Done  int64 `json:"done" jsonschema:"minimum=0"`
	Total int64 `json:"total" jsonschema:"minimum=0"`
	// Changed is how many calls the latest finished run classified
	// differently.
	Changed     int64   `json:"changed" jsonschema:"minimum=0"`
	RequestedAt *string `json:"requested_at" jsonschema:"nullable"`
	StartedAt   *string `json:"started_at" jsonschema:"nullable"`
	FinishedAt  *string `json:"finished_at" jsonschema:"nullable"`
	// Error is why the latest run failed, "" when it did not.
	Error string `json:"error"`
}

func reclassificationOf(r usage.Reclassification) reclassificationJSON {
	at := func(t time.Time) *string {
		if t.IsZero() {
			return nil
		}
		s := t.UTC().Format(time.RFC3339Nano)
		return &s
	}
	out := reclassificationJSON{State: r.State(), Done: r.Done, Total: r.Total, Changed: r.Changed, Error: r.Error,
		RequestedAt: at(r.RequestedAt), StartedAt: at(r.StartedAt)}
	if out.State == usage.ReclassDone || out.State == usage.ReclassFailed {
		out.FinishedAt = at(r.FinishedAt)
	}
	return out
}

// handleClassification is GET /api/v1/workspace/classification: the
// workspace's rules, the defaults until a PUT replaces them.
func (s *Server) handleClassification(w http.ResponseWriter, r *http.Request, c *caller) error {
	rules, set, err := s.meta.Classification(r.Context(), c.Workspace.ID)
	if err != nil {
		return err
	}
	if !set {
		rules = usage.DefaultRules
	}
	rc, err := s.meta.Reclassification(r.Context(), c.Workspace.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, classificationJSON{Rules: rules, Default: !set, Reclassification: reclassificationOf(rc)})
	return nil
}

// handlePutClassification is PUT /api/v1/workspace/classification:
// {"rules":[…]} replaces the list, first match wins; {"rules":null} goes
// back to the defaults. It applies to the calls stored after it at once,
// and to those stored before by a reclassification in the background.
func (s *Server) handlePutClassification(w http.ResponseWriter, r *http.Request, c *caller) error {
	var body classificationRequest
	if err := decodeJSONBody(w, r, &body); err != nil {
		return err
	}
	if body.Rules == nil {
		return usage.Errorf(usage.EInvalid, `field "rules" is required: the list of rules, or null for the defaults`)
	}
	var rules []usage.Rule
	dec := json.NewDecoder(bytes.NewReader(body.Rules))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rules); err != nil {
		return usage.Errorf(usage.EInvalid, "rules: %v", err)
	}
	if err := usage.ValidateRules(rules); err != nil {
		return err
	}
	if err := s.auditReady(); err != nil {
		return err
	}
	if err := s.meta.SaveClassification(r.Context(), c.Workspace.ID, rules); err != nil {
		return err
	}
	if err := s.audit(r, c, usage.AuditClassificationUpdate, "classification", map[string]any{"rules": rules, "default": rules == nil}); err != nil {
		return err
	}
	s.policies.Forget(c.Workspace.ID)
	if err := s.meta.RequestReclassification(r.Context(), c.Workspace.ID, s.now()); err != nil {
		return err
	}
	if s.reclassifier != nil {
		s.reclassifier.Wake()
	}
	return s.handleClassification(w, r, c)
}
