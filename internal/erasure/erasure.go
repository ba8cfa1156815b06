// Package erasure erases a person on request (a data-subject request):
// every event of a workspace that names them is deleted from the event
// store with what is derived from it, their ids are kept so that a retry
// does not bring them back, the export files written before that may
// hold them are listed (and deleted when asked), and a receipt is left.
// A request is recorded in the metadata store (Request); a Runner takes it
// up in the background, reports its progress there, and takes up one
// that another process began and stopped reporting.
package erasure

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/usage"
)

// Events erases a person's events (the event stores' Erase).
type Events interface {
	// Erase deletes every event of the workspace that m names, records
	// their ids under erasureID, and returns what erasureID removed in
	// all; resumed says that an earlier run of it stopped part way.
	Erase(ctx context.Context, workspaceID int64, erasureID string, m usage.ErasureMatch, resumed bool, progress func(done, total int64)) (usage.EraseResult, error)
}

// Store keeps erasures (the metadata stores).
type Store interface {
	CreateErasure(ctx context.Context, e *usage.Erasure) error
	Erasure(ctx context.Context, workspaceID int64, id string) (usage.Erasure, error)
	Erasures(ctx context.Context, workspaceID int64, limit int) ([]usage.Erasure, error)
	ClaimErasure(ctx context.Context, now, staleBefore time.Time) (usage.Erasure, bool, error)
	ErasureProgress(ctx context.Context, id string, done, total int64, at time.Time) error
	FinishErasure(ctx context.Context, e *usage.Erasure) error
}

// Jobs are the export jobs whose files an erasure looks through.
type Jobs interface {
	Jobs(ctx context.Context, workspaceID int64, limit int) ([]usage.ExportJob, error)
	ForgetJobFile(ctx context.Context, id string) error
}

// Auditor records the end of each erasure.
type Auditor interface {
	Record(e usage.AuditEntry) error
}

// Input is a request to erase a person: the one field that names them,
// why, and whether to delete the export files that may hold them.
type Input struct {
	Match       MatchInput `json:"match"`
	Reason      string     `json:"reason,omitempty"`
	DeleteFiles bool       `json:"delete_files,omitempty"`
}

// MatchInput names the person: exactly one field.
type MatchInput struct {
	MemberID  string `json:"member_id,omitempty" jsonschema:"description=API calls by this member id."`
	UserEmail string `json:"user_email,omitempty" jsonschema:"description=Activity and user observations by this email (ASCII letters in either case)."`
	UserID    string `json:"user_id,omitempty" jsonschema:"description=Activity by this user id."`
	IP        string `json:"ip,omitempty" jsonschema:"description=API calls from this address, as stored."`
}

// MaxReason bounds a request's reason.
const MaxReason = 1000

// Matched is the one field the input names, checked.
func (in Input) Matched() (usage.ErasureMatch, error) {
	var set []usage.ErasureMatch
	mi := in.Match
	for _, m := range []usage.ErasureMatch{{Field: usage.EraseMemberID, Value: mi.MemberID}, {Field: usage.EraseUserEmail, Value: mi.UserEmail},
		{Field: usage.EraseUserID, Value: mi.UserID}, {Field: usage.EraseIP, Value: mi.IP}} {
		if m.Value != "" {
			set = append(set, m)
		}
	}
	if len(set) != 1 {
		return usage.ErasureMatch{}, usage.Errorf(usage.EInvalid, "match: name exactly one of member_id, user_email, user_id, ip (got %d)", len(set))
	}
	return set[0].Check()
}

// Request checks and records an erasure, queued for a Runner; the caller
// records erasure.create in the audit log (AuditDetails).
func Request(ctx context.Context, st Store, secret []byte, workspaceID int64, in Input, creator usage.Actor, now time.Time) (usage.Erasure, error) {
	m, err := in.Matched()
	if err != nil {
		return usage.Erasure{}, err
	}
	reason := strings.TrimSpace(in.Reason)
	if len(reason) > MaxReason {
		return usage.Erasure{}, usage.Errorf(usage.EInvalid, "reason: at most %d bytes", MaxReason)
	}
	e := usage.Erasure{ID: usage.RandomID("er_", 10), WorkspaceID: workspaceID, Field: m.Field, Value: m.Value,
		Hash: usage.ErasureHash(secret, workspaceID, m), Reason: reason, DeleteFiles: in.DeleteFiles, Status: usage.ErasureQueued,
		Creator: creator, CreatedAt: now.UTC().Truncate(time.Millisecond)}
	if err := st.CreateErasure(ctx, &e); err != nil {
		return e, err
	}
	return e, nil
}

// AuditDetails are what the audit log records of an erasure: the field and
// the keyed hash of its value, never the value.
func AuditDetails(e *usage.Erasure) map[string]any {
	d := map[string]any{"field": string(e.Field), "value_hash": e.Hash, "delete_files": e.DeleteFiles}
	if e.Reason != "" {
		d["reason"] = e.Reason
	}
	if e.Status == usage.ErasureDone || e.Status == usage.ErasureFailed {
		removed := map[string]any{}
		for k, n := range e.Removed {
			removed[string(k)] = n
		}
		d["status"], d["removed"], d["files"] = string(e.Status), removed, len(e.Files)
		if e.Error != "" {
			d["error"] = e.Error
		}
	}
	return d
}

// Defaults of Config.
const (
	DefaultEvery     = 10 * time.Second
	DefaultHeartbeat = 5 * time.Second
	DefaultStale     = time.Minute
)

// Config configures a Runner.
type Config struct {
	Events Events
	Meta   Store
	Jobs   Jobs
	Files  usage.FileStore
	Audit  Auditor
	Log    *slog.Logger
	// Every is how often the Runner looks for due erasures besides when
	// woken; Heartbeat how often a run records its progress; Stale how
	// long a run may go without before another process takes it up.
	Every, Heartbeat, Stale time.Duration
	Now                     func() time.Time
}

// Runner runs due erasures, one at a time.
type Runner struct {
	cfg  Config
	wake chan struct{}
}

// New returns a Runner.
func New(cfg Config) (*Runner, error) {
	if cfg.Events == nil || cfg.Meta == nil || cfg.Jobs == nil || cfg.Files == nil {
		return nil, fmt.Errorf("erasure: events, meta, jobs and files are required")
	}
	cfg.Every = cmpOr(cfg.Every, DefaultEvery)
	cfg.Heartbeat = cmpOr(cfg.Heartbeat, DefaultHeartbeat)
	cfg.Stale = cmpOr(cfg.Stale, DefaultStale)
	if cfg.Stale <= cfg.Heartbeat {
		return nil, fmt.Errorf("erasure: stale after %s is not longer than the heartbeat %s", cfg.Stale, cfg.Heartbeat)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Runner{cfg: cfg, wake: make(chan struct{}, 1)}, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Wake makes the loop look for due erasures now (one was requested).
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Loop runs due erasures until ctx ends.
func (r *Runner) Loop(ctx context.Context) {
	for {
		if _, err := r.RunDue(ctx); err != nil && ctx.Err() == nil {
			r.cfg.Log.Error("erasure", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-time.After(r.cfg.Every):
		}
	}
}

// RunDue runs every due erasure, one after another, and returns how many
// it ran. One that fails is recorded as failed, and the next is taken up.
func (r *Runner) RunDue(ctx context.Context) (int, error) {
	n := 0
	for {
		now := r.cfg.Now()
		e, ok, err := r.cfg.Meta.ClaimErasure(ctx, now, now.Add(-r.cfg.Stale))
		if err != nil || !ok {
			return n, err
		}
		n++
		if err := r.run(ctx, &e); err != nil {
			return n, err
		}
	}
}

// run erases e's person, recording progress at every heartbeat, and
// records its receipt; it returns an error only when it could not record
// the outcome, or ctx ended (the erasure is taken up again once stale).
func (r *Runner) run(ctx context.Context, e *usage.Erasure) error {
	start := time.Now()
	var (
		mu          sync.Mutex
		done, total int64
	)
	beat := func() error {
		mu.Lock()
		d, t := done, total
		mu.Unlock()
		return r.cfg.Meta.ErasureProgress(ctx, e.ID, d, t, r.cfg.Now())
	}
	runCtx, stop := context.WithCancel(ctx)
	beats := make(chan struct{})
	go func() {
		defer close(beats)
		for {
			select {
			case <-runCtx.Done():
				return
			case <-time.After(r.cfg.Heartbeat):
				if err := beat(); err != nil && runCtx.Err() == nil {
					r.cfg.Log.Warn("erasure: recording progress", "erasure", e.ID, "err", err)
				}
			}
		}
	}()
	res, err := r.cfg.Events.Erase(runCtx, e.WorkspaceID, e.ID, e.Match(), e.Attempt > 1, func(d, t int64) {
		mu.Lock()
		done, total = d, t
		mu.Unlock()
	})
	if err == nil {
		e.Files, err = r.files(runCtx, e, res)
	}
	stop()
	<-beats
	if ctx.Err() != nil {
		return ctx.Err()
	}
	e.Removed, e.FinishedAt, e.Status = res.Removed, r.cfg.Now(), usage.ErasureDone
	if e.Removed == nil {
		e.Removed = map[usage.Kind]int64{}
	}
	mu.Lock()
	e.Done, e.Total = done, total
	mu.Unlock()
	if err != nil {
		e.Status, e.Error = usage.ErasureFailed, err.Error()
		r.cfg.Log.Error("erasure: failed", "erasure", e.ID, "workspace", e.WorkspaceID, "attempt", e.Attempt, "err", err)
	} else {
		e.Done = e.Total
		r.cfg.Log.Info("erasure: done", "erasure", e.ID, "workspace", e.WorkspaceID, "removed", e.Removed, "files", len(e.Files),
			"took", time.Since(start).Round(time.Millisecond))
	}
	if err := r.cfg.Meta.FinishErasure(ctx, e); err != nil {
		return err
	}
	e.Value = ""
	if r.cfg.Audit != nil {
		if err := r.cfg.Audit.Record(usage.AuditEntry{WorkspaceID: e.WorkspaceID, Time: e.FinishedAt, Actor: usage.SystemActor("erasure"),
			Action: usage.AuditErasureDone, Target: e.ID, Details: AuditDetails(e)}); err != nil {
			r.cfg.Log.Error("erasure: audit", "erasure", e.ID, "err", err)
		}
	}
	return nil
}

// maxJobs bounds the export jobs an erasure looks through (the newest).
const maxJobs = 100_000

// files lists the workspace's export files that may hold the person: of a
// report over a kind of events the erasure removed, written after the
// first of them and before the erasure was requested. With DeleteFiles it
// deletes each (its signed links then find nothing) and forgets it.
func (r *Runner) files(ctx context.Context, e *usage.Erasure, res usage.EraseResult) ([]usage.ErasedFile, error) {
	if len(res.Removed) == 0 {
		return nil, nil
	}
	jobs, err := r.cfg.Jobs.Jobs(ctx, e.WorkspaceID, maxJobs)
	if err != nil {
		return nil, fmt.Errorf("export files: %w", err)
	}
	var out []usage.ErasedFile
	for _, j := range jobs {
		if j.FilePath == "" || j.FinishedAt.Before(res.First) || j.CreatedAt.After(e.CreatedAt) {
			continue
		}
		rep, err := export.LookupReport(j.Spec.Report)
		if err != nil || !slices.ContainsFunc(rep.Kinds, func(k usage.Kind) bool { return res.Removed[k] > 0 }) {
			continue
		}
		f := usage.ErasedFile{JobID: j.ID, Report: rep.Name, Path: j.FilePath, Written: j.FinishedAt}
		if e.DeleteFiles {
			if err := r.cfg.Files.Remove(ctx, j.FilePath); err != nil {
				return out, fmt.Errorf("delete %s: %w", j.FilePath, err)
			}
			if err := r.cfg.Jobs.ForgetJobFile(ctx, j.ID); err != nil {
				return out, fmt.Errorf("forget %s: %w", j.FilePath, err)
			}
			f.Deleted = true
		}
		out = append(out, f)
	}
	return out, nil
}
