package httpapi

import (
	"net/http"
	"strings"

	"github.com/usagelog/usagelog/capture"
	"github.com/usagelog/usagelog/internal/usage"
)

// actorOf is who a caller is for the audit log: its key, or the console
// member whose session stands in for one.
func actorOf(c *caller) usage.Actor {
	if id, ok := strings.CutPrefix(c.Key.ID, "member:"); ok {
		return usage.Actor{Type: usage.ActorMember, ID: id, Name: c.Key.Name}
	}
	return usage.Actor{Type: usage.ActorKey, ID: c.Key.ID, Name: c.Key.Name}
}

// auditReady refuses an audited action before it starts while the audit
// log cannot be written.
func (s *Server) auditReady() error { return s.auditLog.Ready() }

// audit records what caller c did.
func (s *Server) audit(r *http.Request, c *caller, action, target string, details map[string]any) error {
	return s.auditLog.Record(usage.AuditEntry{WorkspaceID: c.Workspace.ID, Actor: actorOf(c), Action: action, Target: target,
		IP: capture.ClientIP(r, nil), Details: details})
}

type auditPage struct {
	Items      []usage.AuditEntry `json:"items"`
	NextCursor string             `json:"next_cursor,omitempty"`
}

// handleAudit is GET /api/v1/audit: the workspace's entries, newest
// first, filtered by action and time.
func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request, c *caller) error {
	q, err := usage.ParseAuditQuery(r.URL.Query())
	if err != nil {
		return err
	}
	entries, err := s.meta.Audit(r.Context(), c.Workspace.ID, q)
	if err != nil {
		return err
	}
	out := auditPage{Items: entries}
	if len(entries) == q.Limit {
		last := entries[len(entries)-1]
		out.NextCursor = usage.Cursor{TimeMS: last.Time.UnixMilli(), ID: last.ID}.Encode()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
