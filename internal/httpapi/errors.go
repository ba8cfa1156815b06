package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/usagelog/usagelog/internal/usage"
)

// errorBody is every error answer: the error, and where an endpoint says
// more, its other fields.
type errorBody struct {
	Error errorDetail `json:"error"`
	// Success is false on the usage export API (/export/…): its answers
	// say success either way, and a client that checks it must not read
	// undefined.
	Success *bool `json:"success,omitempty"`
	// An ingest refused whole says what it stored before the refusal.
	Accepted      *int         `json:"accepted,omitempty"`
	Duplicates    *int         `json:"duplicates,omitempty"`
	Rejected      *[]rejection `json:"rejected,omitempty"`
	RejectedCount *int         `json:"rejected_count,omitempty"`
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

// writeErrorWith writes the error envelope, with the fields extra sets.
func (s *Server) writeErrorWith(w http.ResponseWriter, r *http.Request, err error, extra func(*errorBody)) {
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
	body := errorBody{Error: detail}
	if extra != nil {
		extra(&body)
	}
	if strings.HasPrefix(r.URL.Path, "/export/") {
		body.Success = new(bool)
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
