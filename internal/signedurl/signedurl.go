// Package signedurl makes and checks download links: an HMAC-SHA256 over a
// file's path and the link's expiry, with the server's secret.
package signedurl

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// Signer signs and verifies links under a public base URL.
type Signer struct {
	key  []byte
	base string
	ttl  time.Duration
}

// DefaultTTL is how long a link works unless configured.
const DefaultTTL = 15 * time.Minute

// New returns a Signer. secret is the server's; the signing key is derived
// from it so it never doubles as another key. base is the absolute URL
// downloads are served under (scheme and host, optionally a path prefix).
func New(secret []byte, base string, ttl time.Duration) *Signer {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("usagelog signed downloads"))
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Signer{key: m.Sum(nil), base: strings.TrimRight(base, "/"), ttl: ttl}
}

func (s *Signer) mac(path string, expires int64) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(path))
	m.Write([]byte{0})
	m.Write([]byte(strconv.FormatInt(expires, 10)))
	return m.Sum(nil)
}

// URL returns the absolute download link of path, valid for the TTL from
// now.
func (s *Signer) URL(path string, now time.Time) string {
	expires := now.Add(s.ttl).Unix()
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	q := url.Values{"expires": {strconv.FormatInt(expires, 10)}, "signature": {hex.EncodeToString(s.mac(path, expires))}}
	return s.base + "/files/" + strings.Join(segs, "/") + "?" + q.Encode()
}

// Verify checks a link's expiry and signature: a signature that does not
// match is usage.EForbidden, a valid but expired link usage.EGone.
func (s *Signer) Verify(path, expires, signature string, now time.Time) error {
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil {
		return usage.Errorf(usage.EForbidden, "invalid download link: expires must be a Unix time")
	}
	sig, err := hex.DecodeString(signature)
	if err != nil || !hmac.Equal(sig, s.mac(path, exp)) {
		return usage.Errorf(usage.EForbidden, "invalid download link: the signature does not match")
	}
	if now.Unix() >= exp {
		return usage.Errorf(usage.EGone, "the download link expired at %s; export again for a new one", time.Unix(exp, 0).UTC().Format(time.RFC3339))
	}
	return nil
}
