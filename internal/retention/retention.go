// Package retention removes what workspaces keep no longer: the events
// older than their retention_days, with everything derived from them, and
// the audit entries older than the server's audit retention.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/usagelog/usagelog/internal/audit"
	"github.com/usagelog/usagelog/internal/usage"
)

// Events removes a workspace's old events (usage.EventStore's).
type Events interface {
	PurgeEvents(ctx context.Context, workspaceID int64, before time.Time) (int64, error)
}

// Meta is what a pass reads and purges of the metadata store.
type Meta interface {
	Workspaces(ctx context.Context) ([]usage.Workspace, error)
	Settings(ctx context.Context, workspaceID int64) (usage.Settings, error)
	PurgeAudit(ctx context.Context, before time.Time) (int64, error)
}

// Janitor runs retention passes.
type Janitor struct {
	Events Events
	Meta   Meta
	// Audit records each workspace's purge (retention.purge).
	Audit *audit.Log
	// AuditRetention is how long audit entries are kept (400 days unless
	// set).
	AuditRetention time.Duration
	Now            func() time.Time
	Log            *slog.Logger
}

// Purged is what a pass removed of one workspace.
type Purged struct {
	Workspace usage.Workspace
	Before    time.Time
	Events    int64
}

// Pass removes, in every workspace that keeps its events a number of
// days, those from before the start of the oldest UTC day it keeps, then
// the audit entries past the audit retention. It goes on past a workspace
// that fails and reports every failure.
func (j *Janitor) Pass(ctx context.Context) (purged []Purged, auditPurged int64, err error) {
	now := time.Now()
	if j.Now != nil {
		now = j.Now()
	}
	log := j.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	workspaces, err := j.Meta.Workspaces(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("retention: %w", err)
	}
	var errs []error
	for _, ws := range workspaces {
		st, err := j.Meta.Settings(ctx, ws.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("workspace %s: %w", ws.Name, err))
			continue
		}
		before := st.RetentionCutoff(now)
		if before.IsZero() {
			continue
		}
		start := time.Now()
		n, err := j.Events.PurgeEvents(ctx, ws.ID, before)
		if err != nil {
			errs = append(errs, fmt.Errorf("workspace %s: %w", ws.Name, err))
			continue
		}
		purged = append(purged, Purged{Workspace: ws, Before: before, Events: n})
		log.Info("retention: purged", "workspace", ws.Name, "before", before, "events", n, "took", time.Since(start).Round(time.Millisecond))
		if err := j.Audit.Record(usage.AuditEntry{WorkspaceID: ws.ID, Actor: usage.SystemActor("janitor"), Action: usage.AuditRetentionPurge,
			Target: "events", Details: map[string]any{"before": before, "events": n, "retention_days": st.RetentionDays}}); err != nil {
			log.Error("audit: retention pass not recorded", "workspace", ws.Name, "err", err)
		}
	}
	keep := j.AuditRetention
	if keep <= 0 {
		keep = 400 * 24 * time.Hour
	}
	if auditPurged, err = j.Meta.PurgeAudit(ctx, now.Add(-keep)); err != nil {
		errs = append(errs, fmt.Errorf("audit entries: %w", err))
	}
	if len(errs) > 0 {
		return purged, auditPurged, fmt.Errorf("retention: %w", errors.Join(errs...))
	}
	return purged, auditPurged, nil
}
