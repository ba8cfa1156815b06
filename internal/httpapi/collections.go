package httpapi

import (
	"net/http"

	"github.com/usagelog/usagelog/internal/gateway"
	"github.com/usagelog/usagelog/internal/usage"
)

// collectionBody is what POST and PATCH /api/v1/collections take; PATCH
// changes only the fields it names.
type collectionBody struct {
	Name      *string   `json:"name"`
	Type      *string   `json:"type"`
	Community *string   `json:"community"`
	Endpoints *[]string `json:"endpoints"`
	Active    *bool     `json:"active"`
}

func (b collectionBody) apply(c *usage.Collection) {
	if b.Type != nil {
		c.Type = *b.Type
	}
	if b.Community != nil {
		c.Community = *b.Community
	}
	if b.Endpoints != nil {
		c.Endpoints = *b.Endpoints
		if len(c.Endpoints) == 0 {
			c.Endpoints = nil
		}
	}
	if b.Active != nil {
		c.Active = *b.Active
	}
}

func (s *Server) handleCollections(w http.ResponseWriter, r *http.Request, c *caller) error {
	cols, err := s.meta.Collections(r.Context(), c.Workspace.ID)
	if err != nil {
		return err
	}
	out := make([]gateway.CollectionJSON, 0, len(cols))
	for _, col := range cols {
		out = append(out, gateway.NewCollectionJSON(col))
	}
	writeJSON(w, http.StatusOK, list[gateway.CollectionJSON]{Items: out})
	return nil
}

func (s *Server) handleCreateCollection(w http.ResponseWriter, r *http.Request, c *caller) error {
	var body collectionBody
	if err := decodeJSONBody(w, r, &body); err != nil {
		return err
	}
	if body.Name == nil {
		return usage.Errorf(usage.EInvalid, `field "name" is required`)
	}
	col := usage.Collection{Name: *body.Name, Active: true}
	body.apply(&col)
	col, err := usage.NewCollection(c.Workspace.ID, col, s.now())
	if err != nil {
		return err
	}
	if err := s.auditReady(); err != nil {
		return err
	}
	if err := s.meta.CreateCollection(r.Context(), col); err != nil {
		return err
	}
	if err := s.audit(r, c, usage.AuditCollectionUpdate, col.Name, collectionDetails(col, "create")); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, gateway.NewCollectionJSON(col))
	return nil
}

func (s *Server) handleCollection(w http.ResponseWriter, r *http.Request, c *caller) error {
	col, err := s.meta.CollectionByName(r.Context(), c.Workspace.ID, r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, gateway.NewCollectionJSON(col))
	return nil
}

func (s *Server) handlePatchCollection(w http.ResponseWriter, r *http.Request, c *caller) error {
	var body collectionBody
	if err := decodeJSONBody(w, r, &body); err != nil {
		return err
	}
	col, err := s.meta.CollectionByName(r.Context(), c.Workspace.ID, r.PathValue("name"))
	if err != nil {
		return err
	}
	if body.Name != nil && *body.Name != col.Name {
		return usage.Errorf(usage.EInvalid, `field "name": a collection cannot be renamed (its name is in recorded events)`)
	}
	body.apply(&col)
	if err := col.Validate(); err != nil {
		return err
	}
	if err := s.auditReady(); err != nil {
		return err
	}
	if err := s.meta.UpdateCollection(r.Context(), col); err != nil {
		return err
	}
	if err := s.audit(r, c, usage.AuditCollectionUpdate, col.Name, collectionDetails(col, "update")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, gateway.NewCollectionJSON(col))
	return nil
}

func (s *Server) handleClients(w http.ResponseWriter, r *http.Request, c *caller) error {
	var colID string
	if name := r.URL.Query().Get("collection"); name != "" {
		col, err := s.meta.CollectionByName(r.Context(), c.Workspace.ID, name)
		if err != nil {
			return err
		}
		colID = col.ID
	}
	clients, err := s.meta.Clients(r.Context(), c.Workspace.ID, colID)
	if err != nil {
		return err
	}
	out := make([]gateway.ClientJSON, 0, len(clients))
	for _, cl := range clients {
		out = append(out, gateway.NewClientJSON(cl, false))
	}
	writeJSON(w, http.StatusOK, list[gateway.ClientJSON]{Items: out})
	return nil
}

func (s *Server) handleCreateClient(w http.ResponseWriter, r *http.Request, c *caller) error {
	var body clientRequest
	if err := decodeJSONBody(w, r, &body); err != nil {
		return err
	}
	if body.Collection == "" {
		return usage.Errorf(usage.EInvalid, `field "collection" is required`)
	}
	col, err := s.meta.CollectionByName(r.Context(), c.Workspace.ID, body.Collection)
	if err != nil {
		return err
	}
	token, cl, err := usage.NewClient(col, body.Name, s.now())
	if err != nil {
		return err
	}
	if err := s.auditReady(); err != nil {
		return err
	}
	if err := s.meta.CreateClient(r.Context(), cl); err != nil {
		return err
	}
	if err := s.audit(r, c, usage.AuditClientCreate, cl.ID, map[string]any{"name": cl.Name, "collection": col.Name}); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, createdClient{Token: token, Client: gateway.NewClientJSON(cl, false)})
	return nil
}

func (s *Server) handleRevokeClient(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := s.auditReady(); err != nil {
		return err
	}
	if err := s.meta.RevokeClient(r.Context(), c.Workspace.ID, r.PathValue("id"), s.now()); err != nil {
		return err
	}
	if err := s.audit(r, c, usage.AuditClientRevoke, r.PathValue("id"), nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleGatewayDirectory gives a remote gateway its collection and the
// hashes of its clients' tokens. It takes the gateway's recording key
// (EVENTS_WRITE), so a gateway needs no admin key.
func (s *Server) handleGatewayDirectory(w http.ResponseWriter, r *http.Request, c *caller) error {
	name := r.URL.Query().Get("collection")
	if name == "" {
		return usage.Errorf(usage.EInvalid, `query parameter "collection" is required`)
	}
	col, err := s.meta.CollectionByName(r.Context(), c.Workspace.ID, name)
	if err != nil {
		return err
	}
	clients, err := s.meta.Clients(r.Context(), c.Workspace.ID, col.ID)
	if err != nil {
		return err
	}
	out := gateway.DirectoryJSON{Collection: gateway.NewCollectionJSON(col), Clients: make([]gateway.ClientJSON, 0, len(clients))}
	for _, cl := range clients {
		out.Clients = append(out.Clients, gateway.NewClientJSON(cl, true))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// collectionDetails is what the audit log keeps of a collection's change.
func collectionDetails(col usage.Collection, change string) map[string]any {
	return map[string]any{"change": change, "type": col.Type, "active": col.Active, "community": col.Community, "endpoints": col.Endpoints}
}
