package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// StoreDirectory reads a collection and its clients from a metadata store.
type StoreDirectory struct {
	Meta        usage.CollectionStore
	WorkspaceID int64
	Collection  string
}

// Load implements Directory.
func (d StoreDirectory) Load(ctx context.Context) (usage.Collection, []usage.Client, error) {
	col, err := d.Meta.CollectionByName(ctx, d.WorkspaceID, d.Collection)
	if err != nil {
		return col, nil, err
	}
	clients, err := d.Meta.Clients(ctx, d.WorkspaceID, col.ID)
	return col, clients, err
}

// DirectoryJSON is the answer of GET /api/v1/gateway/directory: what a
// gateway needs to check its clients. Tokens are never in it, only their
// SHA-256 hashes.
type DirectoryJSON struct {
	Collection CollectionJSON `json:"collection"`
	Clients    []ClientJSON   `json:"clients"`
}

// CollectionJSON is a collection as the API shows it.
type CollectionJSON struct {
	Name      string   `json:"name"`
	Type      string   `json:"type"`
	Community string   `json:"community"`
	Endpoints []string `json:"endpoints"`
	Active    bool     `json:"active"`
	CreatedAt string   `json:"created_at"`
}

// ClientJSON is a gateway client as the API shows it; TokenHash only in the
// directory.
type ClientJSON struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	Collection string  `json:"collection"`
	CreatedAt  string  `json:"created_at"`
	RevokedAt  *string `json:"revoked_at" jsonschema:"nullable"`
	TokenHash  string  `json:"token_hash,omitempty"`
}

// NewCollectionJSON shows c.
func NewCollectionJSON(c usage.Collection) CollectionJSON {
	eps := c.Endpoints
	if eps == nil {
		eps = []string{}
	}
	return CollectionJSON{Name: c.Name, Type: c.Type, Community: c.Community, Endpoints: eps, Active: c.Active, CreatedAt: c.CreatedAt.Format(time.RFC3339)}
}

// NewClientJSON shows c, with its token hash when withHash.
func NewClientJSON(c usage.Client, withHash bool) ClientJSON {
	out := ClientJSON{ID: c.ID, Name: c.Name, Collection: c.Collection, CreatedAt: c.CreatedAt.Format(time.RFC3339)}
	if c.Revoked() {
		t := c.RevokedAt.Format(time.RFC3339)
		out.RevokedAt = &t
	}
	if withHash {
		out.TokenHash = c.Hash
	}
	return out
}

// ServerDirectory reads the directory from a usagelog server with a key
// that has the EVENTS_WRITE scope, the one the gateway records with.
type ServerDirectory struct {
	BaseURL, Token, Collection string
	HTTP                       *http.Client
}

// Load implements Directory.
func (d ServerDirectory) Load(ctx context.Context) (usage.Collection, []usage.Client, error) {
	u := strings.TrimSuffix(d.BaseURL, "/") + "/api/v1/gateway/directory?" + url.Values{"collection": {d.Collection}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return usage.Collection{}, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+d.Token)
	hc := d.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return usage.Collection{}, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return usage.Collection{}, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		return usage.Collection{}, nil, fmt.Errorf("server answered %d: %s", resp.StatusCode, e.Error.Message)
	}
	var dj DirectoryJSON
	if err := json.Unmarshal(body, &dj); err != nil {
		return usage.Collection{}, nil, fmt.Errorf("bad directory: %w", err)
	}
	col := usage.Collection{Name: dj.Collection.Name, Type: dj.Collection.Type, Community: dj.Collection.Community, Endpoints: dj.Collection.Endpoints, Active: dj.Collection.Active}
	clients := make([]usage.Client, 0, len(dj.Clients))
	for _, c := range dj.Clients {
		cl := usage.Client{ID: c.ID, Name: c.Name, Collection: c.Collection, Hash: c.TokenHash}
		if c.RevokedAt != nil {
			if t, err := time.Parse(time.RFC3339, *c.RevokedAt); err == nil {
				cl.RevokedAt = t
			} else {
				cl.RevokedAt = time.Unix(1, 0)
			}
		}
		clients = append(clients, cl)
	}
	return col, clients, nil
}
