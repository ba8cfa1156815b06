package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/usagelog/usagelog/internal/usage"
)

// classificationJSON is the body of GET and PUT
// /api/v1/workspace/classification.
type classificationJSON struct {
	Rules []usage.Rule `json:"rules"`
	// Default says the workspace set no rules: these are the defaults.
	Default bool `json:"default"`
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
	writeJSON(w, http.StatusOK, classificationJSON{Rules: rules, Default: !set})
	return nil
}

// handlePutClassification is PUT /api/v1/workspace/classification:
// {"rules":[…]} replaces the list, first match wins; {"rules":null} goes
// back to the defaults. It applies to the events stored after it.
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
	s.classifiers.Forget(c.Workspace.ID)
	return s.handleClassification(w, r, c)
}
