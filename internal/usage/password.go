package usage

import (
	"fmt"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Password limits: long enough to resist guessing, within bcrypt's 72 bytes.
const (
	MinPasswordLength = 12
	maxPasswordBytes  = 72
)

// PasswordCost is bcrypt's work factor; tests lower it.
var PasswordCost = bcrypt.DefaultCost

// HashPassword checks the password policy and returns a slow hash.
func HashPassword(pw string) (string, error) {
	if len(pw) < MinPasswordLength {
		return "", Errorf(EInvalid, "password is shorter than %d characters", MinPasswordLength)
	}
	if len(pw) > maxPasswordBytes {
		return "", Errorf(EInvalid, "password is longer than %d bytes", maxPasswordBytes)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), PasswordCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// dummyHash is compared against when no member has the email, so that an
// unknown email takes as long as a wrong password. It is made on first use:
// at init it cost every CLI command 50 ms.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("usagelog-dummy-password"), bcrypt.DefaultCost)
	return h
})

// CheckPassword reports whether pw matches hash; an empty hash spends the
// same time and fails.
func CheckPassword(hash, pw string) bool {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(pw))
		return false
	}
	err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw))
	return err == nil
}
