package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/usagelog/usagelog/internal/usage"
)

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code        string `json:"code"`
	Message     string `json:"message"`
	GatewayCode int    `json:"gateway_code,omitempty"`
}

// writeError writes err as the JSON error envelope. Internal errors are
// logged and answered with a generic message.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	s.writeErrorWith(w, r, err, nil)
}

// writeErrorWith writes the error envelope with extra top-level fields.
func (s *Server) writeErrorWith(w http.ResponseWriter, r *http.Request, err error, extra map[string]any) {
	code := usage.ErrorCode(err)
	status := usage.HTTPStatus(err)
	detail := errorDetail{Code: string(code), Message: usage.ErrorMessage(err)}
	var e *usage.Error
	if errors.As(err, &e) && e.Gateway != 0 {
		detail.Code, detail.GatewayCode = usage.RefusalSlug(e.Gateway), e.Gateway
		info(r).refusal = e
	}
	if code == usage.EInternal {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if code == usage.EUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="usagelog"`)
	}
	body := map[string]any{"error": detail}
	for k, v := range extra {
		body[k] = v
	}
	if strings.HasPrefix(r.URL.Path, "/export/") {
		// The usage export API's answers say success either way; a
		// client that checks it must not read undefined.
		body["success"] = false
	}
	writeJSON(w, status, body)
}

// bearerToken reads the token of an Authorization: Bearer header.
func bearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}
