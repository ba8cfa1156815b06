package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// touchEvery limits last-used writes to one a minute per key.
const touchEvery = time.Minute

// anyScope lets any valid key through authentication; the handler checks
// the scope, which depends on what the call names.
const anyScope usage.Scope = ""

// authenticate finds the key behind a request and checks it carries scope.
// A refused call whose token names a key still returns the caller, so that
// the refusal is logged in that key's workspace.
func (s *Server) authenticate(ctx context.Context, r *http.Request, scope usage.Scope) (*caller, error) {
	token := bearerToken(r)
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
		if err := s.meta.TouchKey(ctx, key.ID, now); err != nil {
			// Last-used is informational; the call goes on.
			s.log.Warn("touch key", "key", key.ID, "err", err)
		}
	}
	return c, nil
}
