package cli

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/retention"
	"github.com/usagelog/usagelog/internal/usage"
)

// minSecretLen is the shortest secret accepted from a flag: replicas that
// share one need it long enough not to be guessed.
const minSecretLen = 32

// loadSecret returns the server secret: given (from --secret or
// USAGELOG_SECRET, shared by replicas), or the one in DIR/secret, created
// on first start with 32 random bytes.
func loadSecret(dir, given string) ([]byte, error) {
	if given != "" {
		if len(given) < minSecretLen {
			return nil, usagef("--secret must be at least %d characters", minSecretLen)
		}
		return []byte(given), nil
	}
	path := filepath.Join(dir, "secret")
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < minSecretLen {
			return nil, fmt.Errorf("secret file %s holds fewer than %d characters", path, minSecretLen)
		}
		return []byte(s), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("secret: %w", err)
	}
	s := hex.EncodeToString([]byte(usage.RandomToken(32)))
	// O_EXCL: two processes starting at once keep one secret.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadSecret(dir, "")
	}
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("secret: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return []byte(s), nil
}

// sweeper deletes old export files.
type sweeper interface {
	Sweep(ctx context.Context, cutoff time.Time) (int, error)
}

// janitor deletes export files older than retention now and then every
// interval, until ctx ends.
// janitorConfig is what the janitor cleans: export files past their
// retention, events and audit entries past theirs.
type janitorConfig struct {
	files         sweeper
	fileRetention time.Duration
	retention     *retention.Janitor
	every         time.Duration
	log           *slog.Logger
}

func janitor(ctx context.Context, cfg janitorConfig) {
	for {
		n, err := cfg.files.Sweep(ctx, time.Now().Add(-cfg.fileRetention))
		switch {
		case err != nil && ctx.Err() == nil:
			cfg.log.Error("janitor: sweeping export files", "err", err)
		case n > 0:
			cfg.log.Info("janitor: deleted old export files", "files", n, "retention", cfg.fileRetention)
		}
		_, audits, err := cfg.retention.Pass(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			cfg.log.Error("janitor: retention", "err", err)
		case audits > 0:
			cfg.log.Info("janitor: purged old audit entries", "entries", audits)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(cfg.every):
		}
	}
}
