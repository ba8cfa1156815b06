package usage

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// TokenPrefix makes usagelog keys recognisable in logs and secret scanners.
const TokenPrefix = "ulk_"

// NewKey makes a key with a fresh random token. The token is returned once
// and never stored: the key keeps only its hash.
func NewKey(workspaceID int64, name string, scopes []Scope, now time.Time) (token string, key APIKey, err error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", APIKey{}, Errorf(EInvalid, "key name is required")
	}
	if len(name) > 200 {
		return "", APIKey{}, Errorf(EInvalid, "key name is longer than 200 characters")
	}
	if len(scopes) == 0 {
		return "", APIKey{}, Errorf(EInvalid, "a key needs at least one scope")
	}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", APIKey{}, fmt.Errorf("new key: %w", err)
	}
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", APIKey{}, fmt.Errorf("new key: %w", err)
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
	sorted := slices.Clone(scopes)
	slices.Sort(sorted)
	key = APIKey{
		ID:          "key_" + hex.EncodeToString(id[:]),
		WorkspaceID: workspaceID,
		Name:        name,
		Scopes:      slices.Compact(sorted),
		Hash:        HashToken(token),
		CreatedAt:   TruncateMS(now),
	}
	return token, key, nil
}

// HashToken is how tokens are stored and looked up.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// ValidateWorkspaceName accepts names a person can type and a URL or file
// path can carry without escaping surprises.
func ValidateWorkspaceName(name string) error {
	if name == "" {
		return Errorf(EInvalid, "workspace name is required")
	}
	if len(name) > 64 {
		return Errorf(EInvalid, "workspace name %q is longer than 64 characters", name)
	}
	for _, r := range name {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.') {
			return Errorf(EInvalid, "workspace name %q may hold only letters, digits, '-', '_' and '.'", name)
		}
	}
	if name == "." || name == ".." {
		return Errorf(EInvalid, "workspace name %q is not allowed", name)
	}
	return nil
}
