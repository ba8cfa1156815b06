package webhook

import (
	"testing"
	"time"
)

func TestSignVerify(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"id":"job_1"}`)
	sig := Sign("whsec_a", now, body)
	for _, c := range []struct {
		name, secret, header string
		body                 []byte
		now                  time.Time
		ok                   bool
	}{
		{"good", "whsec_a", sig, body, now, true},
		{"other secret", "whsec_b", sig, body, now, false},
		{"changed body", "whsec_a", sig, []byte(`{"id":"job_2"}`), now, false},
		{"too old", "whsec_a", sig, body, now.Add(time.Hour), false},
		{"malformed", "whsec_a", "v1=abc", body, now, false},
	} {
		if err := Verify(c.secret, c.header, c.body, c.now, 5*time.Minute); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
