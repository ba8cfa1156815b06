package usage

import (
	"errors"
	"fmt"
	"net/http"
)

// Code classifies an Error; HTTPStatus maps each code to the status that
// the API, the console and the gateway answer with.
type Code string

// Error codes.
const (
	EInvalid       Code = "invalid"       // bad input: 400
	ENotFound      Code = "not_found"     // 404
	EConflict      Code = "conflict"      // 409
	ETooLarge      Code = "too_large"     // 413
	EUnprocessable Code = "unprocessable" // valid but over a limit: 422
	EUnauthorized  Code = "unauthorized"  // 401
	EForbidden     Code = "forbidden"     // 403
	EGone          Code = "gone"          // 410
	ERateLimited   Code = "rate_limited"  // 429
	EInternal      Code = "internal"      // 500
	// EMethodNotAllowed is a method the path does not take: 405.
	EMethodNotAllowed Code = "method_not_allowed"
	// EUnsupportedMedia is a body encoding or type not taken: 415.
	EUnsupportedMedia Code = "unsupported_media_type"
	// EUnavailable is a dependency down for now (the audit log): 503.
	EUnavailable Code = "unavailable"
)

// Error is an error whose message is safe to show to the caller.
type Error struct {
	Code    Code
	Message string
	// Gateway is the extended diagnostic code of a refused API call (4011…),
	// zero for other errors; Message is then its status details.
	Gateway int
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// httpStatus is the status of each code.
var httpStatus = map[Code]int{
	EInvalid:          http.StatusBadRequest,
	EUnauthorized:     http.StatusUnauthorized,
	EForbidden:        http.StatusForbidden,
	EGone:             http.StatusGone,
	ENotFound:         http.StatusNotFound,
	EConflict:         http.StatusConflict,
	ETooLarge:         http.StatusRequestEntityTooLarge,
	EUnprocessable:    http.StatusUnprocessableEntity,
	ERateLimited:      http.StatusTooManyRequests,
	EInternal:         http.StatusInternalServerError,
	EMethodNotAllowed: http.StatusMethodNotAllowed,
	EUnsupportedMedia: http.StatusUnsupportedMediaType,
	EUnavailable:      http.StatusServiceUnavailable,
}

// HTTPStatus is the HTTP status that answers err: its code's, 500 for an
// error that is not an *Error. A gateway refusal's status is the first
// three digits of its gateway code (4012: 401), as its code gives.
func HTTPStatus(err error) int {
	if s, ok := httpStatus[ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ErrorCode returns the code of the first *Error in err's chain, or
// EInternal.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the user-safe message of err, or a generic one for
// internal errors, whose text may name files or queries.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// Gateway codes of refused API calls, with their HTTP status and status
// details (docs/reference.md, "Gateway codes").
const (
	GatewayUnrecognizedToken  = 4011
	GatewayMissingToken       = 4012
	GatewayRevokedToken       = 4013
	GatewayMissingScope       = 4031
	GatewayEndpointNotFound   = 4041
	GatewayCollectionInactive = 4042
	GatewayPayloadTooLarge    = 4131
	GatewayRateLimited        = 4291
)

// RefusalSlug names a refusal in an error body's "code" field.
func RefusalSlug(gw int) string {
	return map[int]string{
		GatewayUnrecognizedToken:  "unrecognized_token",
		GatewayMissingToken:       "missing_token",
		GatewayRevokedToken:       "revoked_token",
		GatewayMissingScope:       "missing_scope",
		GatewayEndpointNotFound:   "endpoint_not_found",
		GatewayCollectionInactive: "collection_inactive",
		GatewayPayloadTooLarge:    "payload_too_large",
		GatewayRateLimited:        "rate_limited",
	}[gw]
}

// Refusal returns the error of a refused call with gateway code gw. Details
// override the table's status details where the call knows more (the
// missing scope's name, "Recipe is inactive").
func Refusal(gw int, details string) *Error {
	code := map[int]Code{
		GatewayUnrecognizedToken: EUnauthorized, GatewayMissingToken: EUnauthorized, GatewayRevokedToken: EUnauthorized,
		GatewayMissingScope: EForbidden, GatewayEndpointNotFound: ENotFound, GatewayCollectionInactive: ENotFound,
		GatewayPayloadTooLarge: ETooLarge, GatewayRateLimited: ERateLimited,
	}[gw]
	if details == "" {
		details = map[int]string{
			GatewayUnrecognizedToken: "Unrecognized token", GatewayMissingToken: "Missing token", GatewayRevokedToken: "Revoked token",
			GatewayMissingScope: "Missing scope", GatewayEndpointNotFound: "Endpoint not found", GatewayCollectionInactive: "Collection is inactive",
			GatewayPayloadTooLarge: "Payload too large", GatewayRateLimited: "Rate limit exceeded",
		}[gw]
	}
	return &Error{Code: code, Message: details, Gateway: gw}
}

// MissingScope is the refusal of a key that lacks a scope.
func MissingScope(s Scope) *Error { return Refusal(GatewayMissingScope, "Missing scope "+string(s)) }
