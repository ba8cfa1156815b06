package httpapi

import (
	"net/http"

	"github.com/usagelog/usagelog/internal/erasure"
	"github.com/usagelog/usagelog/internal/usage"
)

// erasureJSON is an erasure as the API gives it: what it matches (the
// field and the keyed hash of the value, never the value), where it is,
// and once done its receipt.
type erasureJSON struct {
	ID     string `json:"id"`
	Status string `json:"status" jsonschema:"enum=queued,enum=running,enum=done,enum=failed"`
	Field  string `json:"field" jsonschema:"enum=member_id,enum=user_email,enum=user_id,enum=ip"`
	// ValueHash names the erased value without holding it: the same
	// value of the same field hashes alike in the workspace.
	ValueHash   string `json:"value_hash"`
	Reason      string `json:"reason,omitempty"`
	DeleteFiles bool   `json:"delete_files"`
	CreatedBy   string `json:"created_by"`
	CreatedAt   string `json:"created_at"`
	StartedAt   string `json:"started_at,omitempty"`
	FinishedAt  string `json:"finished_at,omitempty"`
	// Done of Total are its steps, in the event store's units.
	Done  int64 `json:"done" jsonschema:"minimum=0"`
	Total int64 `json:"total" jsonschema:"minimum=0"`
	// Removed is how many events of each kind it deleted.
	Removed map[string]int64 `json:"removed"`
	// Files are the export files written before it that may hold the
	// person; deleted when delete_files was asked for.
	Files []usage.ErasedFile `json:"files"`
	Error string             `json:"error,omitempty"`
}

func newErasureJSON(e *usage.Erasure) erasureJSON {
	out := erasureJSON{ID: e.ID, Status: string(e.Status), Field: string(e.Field), ValueHash: e.Hash, Reason: e.Reason,
		DeleteFiles: e.DeleteFiles, CreatedBy: e.Creator.Name, CreatedAt: timeJSON(e.CreatedAt), StartedAt: timeJSON(e.StartedAt),
		Done: e.Done, Total: e.Total, Removed: map[string]int64{}, Files: e.Files, Error: e.Error}
	if e.Status == usage.ErasureDone || e.Status == usage.ErasureFailed {
		out.FinishedAt = timeJSON(e.FinishedAt)
	}
	for k, n := range e.Removed {
		out.Removed[string(k)] = n
	}
	if out.Files == nil {
		out.Files = []usage.ErasedFile{}
	}
	return out
}

func (s *Server) erasureStore() (erasure.Store, error) {
	if s.erasures == nil {
		return nil, usage.Errorf(usage.EUnavailable, "erasures are not kept by this server's metadata store")
	}
	return s.erasures, nil
}

// handleCreateErasure is POST /api/v1/erasures: the erasure is queued, a
// runner takes it up in the background.
func (s *Server) handleCreateErasure(w http.ResponseWriter, r *http.Request, c *caller) error {
	st, err := s.erasureStore()
	if err != nil {
		return err
	}
	var in erasure.Input
	if err := decodeJSONBody(w, r, &in); err != nil {
		return err
	}
	if _, err := in.Matched(); err != nil {
		return err
	}
	if err := s.auditReady(); err != nil {
		return err
	}
	e, err := erasure.Request(r.Context(), st, s.secret, c.Workspace.ID, in, actorOf(c), s.now())
	if err != nil {
		return err
	}
	if err := s.audit(r, c, usage.AuditErasureCreate, e.ID, erasure.AuditDetails(&e)); err != nil {
		return err
	}
	if s.eraser != nil {
		s.eraser.Wake()
	}
	w.Header().Set("Location", "/api/v1/erasures/"+e.ID)
	writeJSON(w, http.StatusAccepted, newErasureJSON(&e))
	return nil
}

// handleErasures is GET /api/v1/erasures: the newest first.
func (s *Server) handleErasures(w http.ResponseWriter, r *http.Request, c *caller) error {
	st, err := s.erasureStore()
	if err != nil {
		return err
	}
	limit, err := limitParam(r, 1000, 100)
	if err != nil {
		return err
	}
	stored, err := st.Erasures(r.Context(), c.Workspace.ID, limit)
	if err != nil {
		return err
	}
	out := make([]erasureJSON, len(stored))
	for i := range stored {
		out[i] = newErasureJSON(&stored[i])
	}
	writeJSON(w, http.StatusOK, list[erasureJSON]{Items: out})
	return nil
}

// handleErasure is GET /api/v1/erasures/{id}: progress, then the receipt.
func (s *Server) handleErasure(w http.ResponseWriter, r *http.Request, c *caller) error {
	st, err := s.erasureStore()
	if err != nil {
		return err
	}
	e, err := st.Erasure(r.Context(), c.Workspace.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newErasureJSON(&e))
	return nil
}
