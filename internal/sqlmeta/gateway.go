package sqlmeta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/sqltime"
	"github.com/usagelog/usagelog/internal/usage"
)

// CreateCollection stores a new collection.
func (s *Store) CreateCollection(ctx context.Context, c usage.Collection) error {
	_, err := s.exec(ctx, `INSERT INTO collections (id, workspace_id, name, type, community, endpoints, active, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.WorkspaceID, c.Name, c.Type, c.Community, strings.Join(c.Endpoints, "\n"), c.Active, c.CreatedAt.UnixMilli())
	if err != nil && s.d.IsUnique(err) {
		return usage.Errorf(usage.EConflict, "collection %q already exists", c.Name)
	}
	if err != nil {
		return fmt.Errorf("meta: create collection: %w", err)
	}
	return nil
}

// UpdateCollection saves a collection's type, community, endpoints and
// active flag.
func (s *Store) UpdateCollection(ctx context.Context, c usage.Collection) error {
	r, err := s.exec(ctx, `UPDATE collections SET type = ?, community = ?, endpoints = ?, active = ? WHERE workspace_id = ? AND name = ?`,
		c.Type, c.Community, strings.Join(c.Endpoints, "\n"), c.Active, c.WorkspaceID, c.Name)
	if err != nil {
		return fmt.Errorf("meta: update collection: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return usage.Errorf(usage.ENotFound, "collection %q not found", c.Name)
	}
	return nil
}

const collectionColumns = `id, workspace_id, name, type, community, endpoints, active, created_at`

func scanCollection(row scanner) (usage.Collection, error) {
	var c usage.Collection
	var endpoints string
	err := row.Scan(&c.ID, &c.WorkspaceID, &c.Name, &c.Type, &c.Community, &endpoints, flag{&c.Active}, sqltime.Millis{T: &c.CreatedAt})
	if endpoints != "" {
		c.Endpoints = strings.Split(endpoints, "\n")
	}
	return c, err
}

// CollectionByName finds the workspace's collection of that name.
func (s *Store) CollectionByName(ctx context.Context, workspaceID int64, name string) (usage.Collection, error) {
	c, err := scanCollection(s.queryRow(ctx, `SELECT `+collectionColumns+` FROM collections WHERE workspace_id = ? AND name = ?`, workspaceID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return c, usage.Errorf(usage.ENotFound, "collection %q not found", name)
	}
	if err != nil {
		return c, fmt.Errorf("meta: collection: %w", err)
	}
	return c, nil
}

// Collections lists the workspace's collections by name.
func (s *Store) Collections(ctx context.Context, workspaceID int64) ([]usage.Collection, error) {
	rows, err := s.query(ctx, `SELECT `+collectionColumns+` FROM collections WHERE workspace_id = ? ORDER BY name`, workspaceID)
	out, err := collect(rows, err, scanCollection)
	if err != nil {
		return nil, fmt.Errorf("meta: collections: %w", err)
	}
	return out, nil
}

// CreateClient stores a new gateway client.
func (s *Store) CreateClient(ctx context.Context, c usage.Client) error {
	// The SELECT keeps a client from naming another workspace's collection.
	r, err := s.exec(ctx, `INSERT INTO gateway_clients (id, workspace_id, collection_id, name, hash, created_at)
		SELECT ?, ?, id, ?, ?, ? FROM collections WHERE id = ? AND workspace_id = ?`,
		c.ID, c.WorkspaceID, c.Name, c.Hash, c.CreatedAt.UnixMilli(), c.CollectionID, c.WorkspaceID)
	if err != nil {
		return fmt.Errorf("meta: create client: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return usage.Errorf(usage.ENotFound, "collection %q not found", c.Collection)
	}
	return nil
}

// Clients lists the workspace's clients, oldest first.
func (s *Store) Clients(ctx context.Context, workspaceID int64, collectionID string) ([]usage.Client, error) {
	q := `SELECT g.id, g.workspace_id, g.collection_id, c.name, g.name, g.hash, g.created_at, g.revoked_at
		FROM gateway_clients g JOIN collections c ON c.id = g.collection_id
		WHERE g.workspace_id = ?`
	args := []any{workspaceID}
	if collectionID != "" {
		q += ` AND g.collection_id = ?`
		args = append(args, collectionID)
	}
	rows, err := s.query(ctx, q+` ORDER BY g.created_at, g.id`, args...)
	out, err := collect(rows, err, func(row scanner) (usage.Client, error) {
		var c usage.Client
		err := row.Scan(&c.ID, &c.WorkspaceID, &c.CollectionID, &c.Collection, &c.Name, &c.Hash, sqltime.Millis{T: &c.CreatedAt}, sqltime.Millis{T: &c.RevokedAt})
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("meta: clients: %w", err)
	}
	return out, nil
}

// RevokeClient revokes a client of the workspace; revoking it again is
// harmless.
func (s *Store) RevokeClient(ctx context.Context, workspaceID int64, id string, at time.Time) error {
	if _, err := s.exec(ctx, `UPDATE gateway_clients SET revoked_at = ? WHERE workspace_id = ? AND id = ? AND revoked_at = 0`, at.UnixMilli(), workspaceID, id); err != nil {
		return fmt.Errorf("meta: revoke client: %w", err)
	}
	var n int
	if err := s.queryRow(ctx, `SELECT count(*) FROM gateway_clients WHERE workspace_id = ? AND id = ?`, workspaceID, id).Scan(&n); err != nil {
		return fmt.Errorf("meta: revoke client: %w", err)
	}
	if n == 0 {
		return usage.Errorf(usage.ENotFound, "client %q not found", id)
	}
	return nil
}
