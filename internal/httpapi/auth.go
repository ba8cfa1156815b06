package httpapi

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// touchEvery limits last-used writes to one a minute per key.
const touchEvery = time.Minute

// touchKey records a key's use beside the call, one write a key at a
// time: last-used is informational, and on SQLite the write waits for the
// store's file's writer, which a merge step holds until it yields (up to
// 250 ms and its commit), where the call waits for nothing.
func (s *Server) touchKey(ctx context.Context, id string, now time.Time) {
	if _, busy := s.touching.LoadOrStore(id, struct{}{}); busy {
		return
	}
	go func() {
		defer s.touching.Delete(id)
		if err := s.meta.TouchKey(context.WithoutCancel(ctx), id, now); err != nil {
			s.log.Warn("touch key", "key", id, "err", err)
		}
	}()
}

// anyScope lets any valid key through authentication; the handler checks
// the scope, which depends on what the call names.
const anyScope usage.Scope = ""

// authenticate finds the key behind a request and checks it carries scope.
// A refused call whose token names a key still returns the caller, so that
// the refusal is logged in that key's workspace.
func (s *Server) authenticate(ctx context.Context, r *http.Request, scope usage.Scope) (*caller, error) {
	token := bearerToken(r)
	if token == "" && s.session != nil {
		if si, ok := s.session(r); ok {
			info(r).session = true
			return sessionCaller(r, si, scope)
		}
	}
	if token == "" {
		return nil, usage.Refusal(usage.GatewayMissingToken, "")
	}
	key, err := s.meta.KeyByHash(ctx, usage.HashToken(token))
	if usage.ErrorCode(err) == usage.ENotFound {
		return nil, usage.Refusal(usage.GatewayUnrecognizedToken, "")
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	ws, err := s.meta.WorkspaceByID(ctx, key.WorkspaceID)
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	c := &caller{Workspace: ws, Key: key}
	if key.Revoked() {
		return c, usage.Refusal(usage.GatewayRevokedToken, "")
	}
	if scope != anyScope && !key.Has(scope) {
		return c, usage.MissingScope(scope)
	}
	now := s.now()
	if now.Sub(key.LastUsedAt) >= touchEvery {
		s.touchKey(ctx, key.ID, now)
	}
	return c, nil
}

// sessionCaller is a console member calling the API from the console's
// pages. The member stands in for a key: its id (for the rate limits), its
// email (the client in the self-log) and its role's scopes.
func sessionCaller(r *http.Request, si usage.SignedIn, scope usage.Scope) (*caller, error) {
	c := &caller{Workspace: si.Workspace, Key: usage.APIKey{
		ID: "member:" + si.Member.ID, WorkspaceID: si.Workspace.ID, Name: si.Member.Email, Scopes: usage.RoleScopes(si.Member.Role),
	}}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		got := r.Header.Get("X-CSRF-Token")
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(si.CSRF)) != 1 {
			return c, usage.Errorf(usage.EForbidden, "a console session must send its CSRF token in X-CSRF-Token")
		}
	}
	if scope != anyScope && !c.Key.Has(scope) {
		return c, usage.MissingScope(scope)
	}
	return c, nil
}
