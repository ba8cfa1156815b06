package httpapi

import (
	"encoding/json"

	"github.com/usagelog/usagelog/internal/gateway"
)

// The answers below are named types, not maps, because the API
// description (openapi.go) is reflected from them.

// list is the answer of every endpoint that lists a collection.
type list[T any] struct {
	Items []T `json:"items"`
}

// createdKey answers POST /api/v1/keys: the token, shown this once.
type createdKey struct {
	Token string  `json:"token"`
	Key   keyJSON `json:"key"`
}

// createdClient answers POST /api/v1/clients: the token, shown this once.
type createdClient struct {
	Token  string             `json:"token"`
	Client gateway.ClientJSON `json:"client"`
}

type health struct {
	Status  string `json:"status"`
	Version string `json:"version"`
}

// readiness says of each store whether it answered.
type readiness struct {
	Events string `json:"events" jsonschema:"enum=ok,enum=unreachable"`
	Meta   string `json:"meta" jsonschema:"enum=ok,enum=unreachable"`
}

// keyRequest is the body of POST /api/v1/keys.
type keyRequest struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
}

// clientRequest is the body of POST /api/v1/clients.
type clientRequest struct {
	Name       string `json:"name"`
	Collection string `json:"collection"`
}

// classificationRequest is the body of PUT
// /api/v1/workspace/classification: the rules are decoded apart, so that
// null (back to the defaults) and a bad rule are told apart.
type classificationRequest struct {
	Rules json.RawMessage `json:"rules"`
}
