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

// EnsureWorkspace returns the named workspace, creating it if it is new.
func (s *Store) EnsureWorkspace(ctx context.Context, name string) (usage.Workspace, error) {
	ws, err := s.WorkspaceByName(ctx, name)
	if usage.ErrorCode(err) != usage.ENotFound {
		return ws, err
	}
	ws, err = s.CreateWorkspace(ctx, name)
	if usage.ErrorCode(err) == usage.EConflict {
		// Created by another process between the two calls.
		return s.WorkspaceByName(ctx, name)
	}
	return ws, err
}

// CreateWorkspace creates a workspace with a unique name.
func (s *Store) CreateWorkspace(ctx context.Context, name string) (usage.Workspace, error) {
	if err := usage.ValidateWorkspaceName(name); err != nil {
		return usage.Workspace{}, err
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	var id int64
	err := s.queryRowW(ctx, `INSERT INTO workspaces (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING RETURNING id`, name, now.UnixMilli()).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return usage.Workspace{}, usage.Errorf(usage.EConflict, "workspace %q already exists", name)
	}
	if err != nil {
		return usage.Workspace{}, fmt.Errorf("meta: create workspace: %w", err)
	}
	return usage.Workspace{ID: id, Name: name, CreatedAt: now}, nil
}

func (s *Store) workspace(ctx context.Context, where string, arg any, what string) (usage.Workspace, error) {
	var ws usage.Workspace
	var created int64
	err := s.queryRow(ctx, `SELECT id, name, created_at FROM workspaces WHERE `+where, arg).Scan(&ws.ID, &ws.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return ws, usage.Errorf(usage.ENotFound, "workspace %s not found", what)
	}
	if err != nil {
		return ws, fmt.Errorf("meta: workspace: %w", err)
	}
	ws.CreatedAt = time.UnixMilli(created).UTC()
	return ws, nil
}

// WorkspaceByName finds a workspace by name.
func (s *Store) WorkspaceByName(ctx context.Context, name string) (usage.Workspace, error) {
	return s.workspace(ctx, "name = ?", name, fmt.Sprintf("%q", name))
}

// WorkspaceByID finds a workspace by id.
func (s *Store) WorkspaceByID(ctx context.Context, id int64) (usage.Workspace, error) {
	return s.workspace(ctx, "id = ?", id, fmt.Sprint(id))
}

// Workspaces lists every workspace by id.
func (s *Store) Workspaces(ctx context.Context) ([]usage.Workspace, error) {
	rows, err := s.query(ctx, `SELECT id, name, created_at FROM workspaces ORDER BY id`)
	out, err := collect(rows, err, func(r scanner) (usage.Workspace, error) {
		var ws usage.Workspace
		var created int64
		err := r.Scan(&ws.ID, &ws.Name, &created)
		ws.CreatedAt = time.UnixMilli(created).UTC()
		return ws, err
	})
	if err != nil {
		return nil, fmt.Errorf("meta: workspaces: %w", err)
	}
	return out, nil
}

// CreateKey stores a key.
func (s *Store) CreateKey(ctx context.Context, k usage.APIKey) error {
	_, err := s.exec(ctx, `INSERT INTO api_keys (id, workspace_id, name, scopes, hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, k.WorkspaceID, k.Name, joinScopes(k.Scopes), k.Hash, k.CreatedAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("meta: create key: %w", err)
	}
	return nil
}

const keyColumns = `id, workspace_id, name, scopes, hash, created_at, last_used_at, revoked_at`

func scanKey(row scanner) (usage.APIKey, error) {
	var k usage.APIKey
	var scopes string
	err := row.Scan(&k.ID, &k.WorkspaceID, &k.Name, &scopes, &k.Hash, sqltime.Millis{T: &k.CreatedAt}, sqltime.Millis{T: &k.LastUsedAt}, sqltime.Millis{T: &k.RevokedAt})
	k.Scopes = splitScopes(scopes)
	return k, err
}

// KeyByHash finds a key by the hash of its token.
func (s *Store) KeyByHash(ctx context.Context, hash string) (usage.APIKey, error) {
	k, err := scanKey(s.queryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return k, usage.Errorf(usage.ENotFound, "key not found")
	}
	if err != nil {
		return k, fmt.Errorf("meta: key: %w", err)
	}
	return k, nil
}

// Keys lists a workspace's keys, oldest first.
func (s *Store) Keys(ctx context.Context, workspaceID int64) ([]usage.APIKey, error) {
	rows, err := s.query(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE workspace_id = ? ORDER BY created_at, id`, workspaceID)
	out, err := collect(rows, err, scanKey)
	if err != nil {
		return nil, fmt.Errorf("meta: keys: %w", err)
	}
	return out, nil
}

// RevokeKey revokes a key of the workspace; ENotFound when the workspace has
// no such key, whoever else may have one.
func (s *Store) RevokeKey(ctx context.Context, workspaceID int64, id string, at time.Time) error {
	r, err := s.exec(ctx, `UPDATE api_keys SET revoked_at = ? WHERE workspace_id = ? AND id = ? AND revoked_at = 0`, at.UnixMilli(), workspaceID, id)
	if err != nil {
		return fmt.Errorf("meta: revoke key: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		var exists int
		_ = s.queryRow(ctx, `SELECT count(*) FROM api_keys WHERE workspace_id = ? AND id = ?`, workspaceID, id).Scan(&exists)
		if exists == 0 {
			return usage.Errorf(usage.ENotFound, "key %q not found", id)
		}
	}
	return nil
}

// TouchKey records that a key was used.
func (s *Store) TouchKey(ctx context.Context, id string, at time.Time) error {
	if _, err := s.exec(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, at.UnixMilli(), id); err != nil {
		return fmt.Errorf("meta: touch key: %w", err)
	}
	return nil
}

func joinScopes(scopes []usage.Scope) string {
	parts := make([]string, len(scopes))
	for i, s := range scopes {
		parts[i] = string(s)
	}
	return strings.Join(parts, " ")
}

func splitScopes(s string) []usage.Scope {
	var out []usage.Scope
	for _, f := range strings.Fields(s) {
		out = append(out, usage.Scope(f))
	}
	return out
}
