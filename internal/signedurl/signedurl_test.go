package signedurl

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

func TestSignAndVerify(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := New([]byte("a server secret of at least 32 chars"), "https://usage.example.com/", 15*time.Minute)
	link := s.URL("users-usage/1/users usage.csv", now)
	if !strings.HasPrefix(link, "https://usage.example.com/files/users-usage/1/users%20usage.csv?expires=") {
		t.Fatalf("link %q", link)
	}
	u, _ := url.Parse(link)
	exp, sig := u.Query().Get("expires"), u.Query().Get("signature")
	other := New([]byte("another server secret, 32 chars..."), "https://usage.example.com", 0)
	for _, tt := range []struct {
		name           string
		s              *Signer
		path, exp, sig string
		at             time.Time
		want           usage.Code
	}{
		{"valid", s, "users-usage/1/users usage.csv", exp, sig, now, ""},
		{"just before expiry", s, "users-usage/1/users usage.csv", exp, sig, now.Add(15*time.Minute - time.Second), ""},
		{"expired", s, "users-usage/1/users usage.csv", exp, sig, now.Add(15 * time.Minute), usage.EGone},
		{"other path", s, "users-usage/2/users usage.csv", exp, sig, now, usage.EForbidden},
		{"longer expiry", s, "users-usage/1/users usage.csv", "9999999999", sig, now, usage.EForbidden},
		{"bad hex", s, "users-usage/1/users usage.csv", exp, "zz", now, usage.EForbidden},
		{"empty", s, "users-usage/1/users usage.csv", "", "", now, usage.EForbidden},
		{"other secret", other, "users-usage/1/users usage.csv", exp, sig, now, usage.EForbidden},
	} {
		err := tt.s.Verify(tt.path, tt.exp, tt.sig, tt.at)
		if got := usage.Code(""); err != nil {
			got = usage.ErrorCode(err)
			if got != tt.want {
				t.Errorf("%s: %v (%s), want %q", tt.name, err, got, tt.want)
			}
		} else if tt.want != "" {
			t.Errorf("%s: verified, want %s", tt.name, tt.want)
		}
	}
}
