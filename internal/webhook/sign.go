package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries "t=UNIX,v1=HEX": HEX is the HMAC-SHA256, keyed
// with the schedule's webhook secret, of "UNIX." followed by the body.
const SignatureHeader = "X-Usagelog-Signature"

// Sign returns the signature header value of body at t.
func Sign(secret string, t time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", t.Unix())
	mac.Write(body)
	return fmt.Sprintf("t=%d,v1=%s", t.Unix(), hex.EncodeToString(mac.Sum(nil)))
}

// Verify checks a signature header against body, accepting signatures
// made within tolerance of now.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts int64
	var sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts, _ = strconv.ParseInt(v, 10, 64)
		case "v1":
			sig = v
		}
	}
	if ts == 0 || sig == "" {
		return fmt.Errorf("webhook signature: malformed header %q", header)
	}
	t := time.Unix(ts, 0)
	if d := now.Sub(t); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook signature: timestamp %s is outside the tolerance", t.UTC())
	}
	if !hmac.Equal([]byte(Sign(secret, t, body)), fmt.Appendf(nil, "t=%d,v1=%s", ts, sig)) {
		return fmt.Errorf("webhook signature: does not match")
	}
	return nil
}
