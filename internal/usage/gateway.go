package usage

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Collection types of the event contract.
const (
	CollectionProxy  = "proxy"
	CollectionRecipe = "recipe"
)

// Collection is an API collection that the recording gateway serves. When
// it declares endpoints, calls to any other path are refused (4041).
type Collection struct {
	ID          string
	WorkspaceID int64
	Name        string
	Type        string // CollectionProxy or CollectionRecipe
	Community   string
	Endpoints   []string // "GET /orders/{id}" or "/orders/{id}"; none: any path
	Active      bool
	CreatedAt   time.Time
}

// NewCollection validates a collection and gives it an id.
func NewCollection(workspaceID int64, c Collection, now time.Time) (Collection, error) {
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		return Collection{}, fmt.Errorf("new collection: %w", err)
	}
	c.ID = "col_" + hex.EncodeToString(id[:])
	c.WorkspaceID = workspaceID
	c.CreatedAt = TruncateMS(now)
	if c.Type == "" {
		c.Type = CollectionProxy
	}
	return c, c.Validate()
}

// Validate reports what is wrong with c's name, type, community and
// endpoints.
func (c Collection) Validate() error {
	name := strings.TrimSpace(c.Name)
	switch {
	case name == "":
		return Errorf(EInvalid, "collection name is required")
	case name != c.Name:
		return Errorf(EInvalid, "collection name %q has surrounding spaces", c.Name)
	case len(c.Name) > 200 || !utf8.ValidString(c.Name):
		return Errorf(EInvalid, "collection name must be valid UTF-8 of at most 200 bytes")
	case c.Type != CollectionProxy && c.Type != CollectionRecipe:
		return Errorf(EInvalid, "collection type %q: want proxy or recipe", c.Type)
	case len(c.Community) > 200 || !utf8.ValidString(c.Community):
		return Errorf(EInvalid, "community must be valid UTF-8 of at most 200 bytes")
	case len(c.Endpoints) > 1000:
		return Errorf(EInvalid, "a collection declares at most 1,000 endpoints")
	}
	for _, e := range c.Endpoints {
		if _, err := ParseEndpoint(e); err != nil {
			return err
		}
	}
	return nil
}

// InactiveDetails is the status details of a call to an inactive
// collection (gateway code 4042).
func (c Collection) InactiveDetails() string {
	if c.Type == CollectionRecipe {
		return "Recipe is inactive"
	}
	return "Collection is inactive"
}

// Endpoint is a declared path pattern: literal segments, "{name}" for one
// segment and a final "{name...}" for the rest; an optional method first.
type Endpoint struct {
	Pattern  string // as declared, recorded as the event's endpoint
	Method   string // "" matches any method
	segments []string
}

// ParseEndpoint parses "GET /orders/{id}" or "/files/{path...}".
func ParseEndpoint(s string) (Endpoint, error) {
	e := Endpoint{Pattern: s}
	path := s
	if method, rest, ok := strings.Cut(s, " "); ok {
		if method == "" || strings.ToUpper(method) != method || strings.ContainsAny(method, "/{}") {
			return Endpoint{}, Errorf(EInvalid, "endpoint %q: the method must be upper case, as in \"GET /orders\"", s)
		}
		e.Method, path = method, rest
	}
	if len(s) > 500 || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " ?#") || !utf8.ValidString(path) {
		return Endpoint{}, Errorf(EInvalid, "endpoint %q: want a path such as /orders/{id}, optionally after a method", s)
	}
	segs := strings.Split(path[1:], "/")
	for i, seg := range segs {
		if !strings.ContainsAny(seg, "{}") {
			continue
		}
		name, ok := strings.CutPrefix(seg, "{")
		name, ok2 := strings.CutSuffix(name, "}")
		if !ok || !ok2 || strings.ContainsAny(name, "{}") {
			return Endpoint{}, Errorf(EInvalid, "endpoint %q: a wildcard is a whole segment such as {id}", s)
		}
		if strings.HasSuffix(name, "...") && i != len(segs)-1 {
			return Endpoint{}, Errorf(EInvalid, "endpoint %q: {%s} must be the last segment", s, name)
		}
	}
	e.segments = segs
	return e, nil
}

// Match reports whether a call of method to path is this endpoint.
func (e Endpoint) Match(method, path string) bool {
	if e.Method != "" && e.Method != method {
		return false
	}
	if !strings.HasPrefix(path, "/") {
		return false
	}
	rest := path[1:]
	for i, seg := range e.segments {
		last := i == len(e.segments)-1
		if strings.HasPrefix(seg, "{") {
			if strings.HasSuffix(seg, "...}") {
				return true
			}
			part, tail, more := strings.Cut(rest, "/")
			if part == "" || (last && more) || (!last && !more) {
				return false
			}
			rest = tail
			continue
		}
		part, tail, more := strings.Cut(rest, "/")
		if part != seg || (last && more) || (!last && !more) {
			return false
		}
		rest = tail
	}
	return true
}

// ClientTokenPrefix tells gateway client tokens from usagelog API keys.
const ClientTokenPrefix = "ulc_"

// Client is an API client allowed through the gateway to one collection.
// Like a key, only its token's hash is stored.
type Client struct {
	ID           string
	WorkspaceID  int64
	CollectionID string
	Collection   string // the collection's name, filled when read
	Name         string
	Hash         string
	CreatedAt    time.Time
	RevokedAt    time.Time // zero while active
}

// Revoked reports whether the client was revoked.
func (c *Client) Revoked() bool { return !c.RevokedAt.IsZero() }

// NewClient makes a client of collection with a fresh token, returned once.
func NewClient(col Collection, name string, now time.Time) (token string, c Client, err error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", Client{}, Errorf(EInvalid, "client name is required")
	}
	if len(name) > 200 || !utf8.ValidString(name) {
		return "", Client{}, Errorf(EInvalid, "client name must be valid UTF-8 of at most 200 bytes")
	}
	var secret [32]byte
	var id [6]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", Client{}, fmt.Errorf("new client: %w", err)
	}
	if _, err := rand.Read(id[:]); err != nil {
		return "", Client{}, fmt.Errorf("new client: %w", err)
	}
	token = ClientTokenPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
	return token, Client{
		ID:           "cli_" + hex.EncodeToString(id[:]),
		WorkspaceID:  col.WorkspaceID,
		CollectionID: col.ID,
		Collection:   col.Name,
		Name:         name,
		Hash:         HashToken(token),
		CreatedAt:    TruncateMS(now),
	}, nil
}

// CollectionStore keeps the gateway's collections and clients.
type CollectionStore interface {
	// CreateCollection stores a new collection; EConflict when the
	// workspace has one of that name.
	CreateCollection(ctx context.Context, c Collection) error
	// UpdateCollection saves type, community, endpoints and active of the
	// workspace's collection of c.Name; ENotFound when there is none.
	UpdateCollection(ctx context.Context, c Collection) error
	CollectionByName(ctx context.Context, workspaceID int64, name string) (Collection, error)
	Collections(ctx context.Context, workspaceID int64) ([]Collection, error)
	CreateClient(ctx context.Context, c Client) error
	// Clients lists the workspace's clients, of one collection when
	// collectionID is not empty, revoked ones included, oldest first.
	Clients(ctx context.Context, workspaceID int64, collectionID string) ([]Client, error)
	RevokeClient(ctx context.Context, workspaceID int64, id string, at time.Time) error
}
