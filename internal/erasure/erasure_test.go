package erasure

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/usagelog/usagelog/internal/usage"
)

func TestInputMatched(t *testing.T) {
	for _, tt := range []struct {
		body, field, value, err string
	}{
		{body: `{"match":{"member_id":"m-1"}}`, field: "member_id", value: "m-1"},
		{body: `{"match":{"user_email":"Ann.B@Example.COM"}}`, field: "user_email", value: "ann.b@example.com"},
		{body: `{"match":{"user_id":"u 1"}}`, field: "user_id", value: "u 1"},
		{body: `{"match":{"ip":"203.0.113.0"}}`, field: "ip", value: "203.0.113.0"},
		{body: `{"match":{}}`, err: "name exactly one of member_id, user_email, user_id, ip (got 0)"},
		{body: `{"match":{"member_id":"a","ip":"b"}}`, err: "(got 2)"},
		{body: `{"match":{"member_id":"   "}}`, err: "member_id: a value is required"},
		{body: `{"match":{"member_id":"` + strings.Repeat("x", 1025) + `"}}`, err: "member_id: at most 1024 bytes"},
	} {
		var in Input
		if err := json.Unmarshal([]byte(tt.body), &in); err != nil {
			t.Fatal(err)
		}
		m, err := in.Matched()
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || usage.ErrorCode(err) != usage.EInvalid {
				t.Errorf("%s: %v, want %q", tt.body, err, tt.err)
			}
			continue
		}
		if err != nil || string(m.Field) != tt.field || m.Value != tt.value {
			t.Errorf("%s: %+v %v", tt.body, m, err)
		}
	}
}

func TestHashNamesWithoutHolding(t *testing.T) {
	secret := []byte("a secret of thirty-two characters")
	m := usage.ErasureMatch{Field: usage.EraseUserEmail, Value: "ann@example.com"}
	h := usage.ErasureHash(secret, 1, m)
	if h != usage.ErasureHash(secret, 1, m) || strings.Contains(h, "ann") {
		t.Errorf("hash %q", h)
	}
	for _, other := range []string{usage.ErasureHash(secret, 2, m), usage.ErasureHash([]byte("another secret, thirty-two chars"), 1, m),
		usage.ErasureHash(secret, 1, usage.ErasureMatch{Field: usage.EraseUserID, Value: m.Value})} {
		if other == h {
			t.Errorf("another workspace, secret or field hashes alike: %s", other)
		}
	}
}

// FuzzInput feeds the API's body to Matched: it never panics, and what it
// accepts names one field by a value of at most MaxErasureValue bytes of
// UTF-8 that is not blank.
func FuzzInput(f *testing.F) {
	f.Add(`{"match":{"member_id":"m-1"},"reason":"r"}`)
	f.Add(`{"match":{"user_email":"A@B.C","ip":""}}`)
	f.Add(`{"match":{"ip":"\u0000"}}`)
	f.Fuzz(func(t *testing.T, body string) {
		var in Input
		if json.Unmarshal([]byte(body), &in) != nil {
			return
		}
		m, err := in.Matched()
		if err != nil {
			return
		}
		if m.Field.Kinds() == nil || strings.TrimSpace(m.Value) == "" || len(m.Value) > usage.MaxErasureValue || !utf8.ValidString(m.Value) {
			t.Fatalf("accepted %+v from %s", m, body)
		}
	})
}
