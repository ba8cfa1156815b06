package httpapi

import (
	"net/http"

	"github.com/usagelog/usagelog/internal/usage"
)

// redactionJSON is the body of GET and PUT /api/v1/workspace/redaction.
type redactionJSON struct {
	usage.Redaction
	// Default says the workspace set no rules: these are the defaults.
	Default bool `json:"default"`
}

// redactionRequest is the body of PUT /api/v1/workspace/redaction: a
// field left out takes its default, so that {} goes back to the defaults.
type redactionRequest struct {
	// QueryParams are the parameter names whose values are redacted,
	// matched without regard to case; [] redacts none.
	QueryParams *[]string `json:"query_params"`
	// PathPatterns are RE2 expressions; a path segment or query value
	// that one matches is redacted whole; [] redacts none.
	PathPatterns *[]string `json:"path_patterns"`
	// IP is how much of a caller's address is kept.
	IP *usage.IPMode `json:"ip" jsonschema:"enum=full,enum=truncated,enum=none"`
}

// handleRedaction is GET /api/v1/workspace/redaction: what capture
// removes from the workspace's events, the defaults until a PUT.
func (s *Server) handleRedaction(w http.ResponseWriter, r *http.Request, c *caller) error {
	red, set, err := s.meta.Redaction(r.Context(), c.Workspace.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, redactionJSON{Redaction: red, Default: !set})
	return nil
}

// handlePutRedaction is PUT /api/v1/workspace/redaction. It applies to
// the events captured after it, on every capture path; stored events keep
// what they hold.
func (s *Server) handlePutRedaction(w http.ResponseWriter, r *http.Request, c *caller) error {
	var body redactionRequest
	if err := decodeJSONBody(w, r, &body); err != nil {
		return err
	}
	red := usage.DefaultRedaction()
	if body.QueryParams != nil {
		red.QueryParams = *body.QueryParams
	}
	if body.PathPatterns != nil {
		red.PathPatterns = *body.PathPatterns
	}
	if body.IP != nil {
		red.IP = *body.IP
	}
	if red.QueryParams == nil {
		red.QueryParams = []string{}
	}
	if red.PathPatterns == nil {
		red.PathPatterns = []string{}
	}
	if err := red.Validate(); err != nil {
		return err
	}
	if err := s.auditReady(); err != nil {
		return err
	}
	save := &red
	if body.QueryParams == nil && body.PathPatterns == nil && body.IP == nil {
		save = nil // {}: the defaults, and whatever they become
	}
	if err := s.meta.SaveRedaction(r.Context(), c.Workspace.ID, save); err != nil {
		return err
	}
	if err := s.audit(r, c, usage.AuditRedactionUpdate, "redaction", red.AuditDetails(save == nil)); err != nil {
		return err
	}
	s.policies.Forget(c.Workspace.ID)
	return s.handleRedaction(w, r, c)
}
