package usage

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestEndpointMatch(t *testing.T) {
	tests := []struct {
		pattern, method, path string
		want                  bool
	}{
		{"/orders", "GET", "/orders", true},
		{"/orders", "POST", "/orders", true},
		{"/orders", "GET", "/orders/", false},
		{"/orders", "GET", "/orders/1", false},
		{"GET /orders/{id}", "GET", "/orders/42", true},
		{"GET /orders/{id}", "DELETE", "/orders/42", false},
		{"GET /orders/{id}", "GET", "/orders/", false},
		{"GET /orders/{id}", "GET", "/orders/42/items", false},
		{"/orders/{id}/items", "GET", "/orders/42/items", true},
		{"/orders/{id}/items", "GET", "/orders//items", false},
		{"/files/{path...}", "GET", "/files/a/b/c", true},
		{"/files/{path...}", "GET", "/files/", true},
		{"/files/{path...}", "GET", "/file", false},
		{"/", "GET", "/", true},
		{"/", "GET", "/x", false},
		{"/a", "GET", "a", false},
	}
	for _, tt := range tests {
		e, err := ParseEndpoint(tt.pattern)
		if err != nil {
			t.Fatalf("%q: %v", tt.pattern, err)
		}
		if got := e.Match(tt.method, tt.path); got != tt.want {
			t.Errorf("%q matches %s %s = %v, want %v", tt.pattern, tt.method, tt.path, got, tt.want)
		}
	}
}

func TestParseEndpointRefuses(t *testing.T) {
	for _, s := range []string{"", "orders", "get /orders", "GET orders", "/a/{id", "/a/x{id}", "/{rest...}/x", "/a?b", "/a b", " /a", strings.Repeat("/a", 300)} {
		if _, err := ParseEndpoint(s); err == nil || ErrorCode(err) != EInvalid {
			t.Errorf("ParseEndpoint(%q) = %v, want an invalid-input error", s, err)
		}
	}
}

func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{"/orders/{id}", "GET /a/{rest...}", "/", "POST /x/{y}/z", "{", "/a/{b...}/c"} {
		f.Add(s, "GET", "/orders/1")
	}
	f.Fuzz(func(t *testing.T, pattern, method, path string) {
		e, err := ParseEndpoint(pattern)
		if err != nil {
			return
		}
		e.Match(method, path) // must not panic
		if e.Method == "" && !strings.HasPrefix(pattern, "/") {
			t.Fatalf("%q parsed without a leading slash", pattern)
		}
	})
}

func TestCollectionValidate(t *testing.T) {
	now := time.Now()
	if _, err := NewCollection(1, Collection{Name: "Orders"}, now); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, c := range []Collection{
		{Name: ""}, {Name: " padded "}, {Name: "x", Type: "soap"}, {Name: "x", Endpoints: []string{"nope"}}, {Name: "bad \xff"},
	} {
		if _, err := NewCollection(1, c, now); ErrorCode(err) != EInvalid {
			t.Errorf("%+v: err = %v, want invalid", c, err)
		}
	}
	if (Collection{Type: CollectionRecipe}).InactiveDetails() != "Recipe is inactive" || (Collection{Type: CollectionProxy}).InactiveDetails() != "Collection is inactive" {
		t.Error("inactive details")
	}
}

// TestRefusalStatus holds every gateway code to the rule callers read it
// by: its first three digits are the HTTP status it is answered with.
func TestRefusalStatus(t *testing.T) {
	for _, gw := range []int{GatewayUnrecognizedToken, GatewayMissingToken, GatewayRevokedToken, GatewayMissingScope,
		GatewayEndpointNotFound, GatewayCollectionInactive, GatewayPayloadTooLarge, GatewayRateLimited} {
		if got := HTTPStatus(Refusal(gw, "")); got != gw/10 {
			t.Errorf("gateway code %d answers %d, want %d", gw, got, gw/10)
		}
	}
	if got := HTTPStatus(errors.New("disk full")); got != 500 {
		t.Errorf("a plain error answers %d, want 500", got)
	}
	if got := HTTPStatus(fmt.Errorf("load: %w", Errorf(EGone, "expired"))); got != 410 {
		t.Errorf("a wrapped EGone answers %d, want 410", got)
	}
}
