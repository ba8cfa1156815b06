package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/usagelog/usagelog/internal/audit"
	"github.com/usagelog/usagelog/internal/usage"
	"github.com/usagelog/usagelog/internal/webhook"
)

// Meta is what the runner reads and records of the metadata store: the
// jobs and schedules, and the workspaces they run for.
type Meta interface {
	usage.JobStore
	WorkspaceByID(ctx context.Context, id int64) (usage.Workspace, error)
}

// SettingsReader reads a workspace's settings (its timezone, privacy and
// row limit) for the exporter.
type SettingsReader interface {
	Settings(ctx context.Context, workspaceID int64) (usage.Settings, error)
}

// WebhookMeta is what a webhook delivery reads and records: the job's
// schedule and the outcome.
type WebhookMeta interface {
	Schedule(ctx context.Context, workspaceID int64, id string) (usage.Schedule, error)
	RecordWebhook(ctx context.Context, id, outcome string) error
}

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	Meta     Meta
	Exporter *Exporter
	// Workers is how many jobs run at once in this process (default 2);
	// PerWorkspace how many run at once in one workspace across every
	// replica (default 2).
	Workers, PerWorkspace int
	// Beat is how often a running job's progress is saved, which is how
	// often a cancel from another replica is noticed (default 1 s). A
	// job that has not beaten for Lease (default 15 s) has lost its
	// runner and is failed.
	Beat, Lease time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	Log *slog.Logger
	// Finished, when set, is called with each job that ends.
	Finished func(usage.ExportJob)
	// Audit, when set, records each job that ends as export.create.
	Audit *audit.Log
	// Webhooks says where a schedule's webhook may go.
	Webhooks webhook.Policy
}

// Runner works through the queued export jobs.
type Runner struct {
	cfg  RunnerConfig
	wake chan struct{}

	mu      sync.Mutex
	running map[string]context.CancelFunc
	wg      sync.WaitGroup
}

// NewRunner returns a Runner; Start starts its workers.
func NewRunner(cfg RunnerConfig) (*Runner, error) {
	if cfg.Meta == nil || cfg.Exporter == nil {
		return nil, errors.New("jobs: runner needs a meta store and an exporter")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.PerWorkspace <= 0 {
		cfg.PerWorkspace = 2
	}
	if cfg.Beat <= 0 {
		cfg.Beat = time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 15 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: cfg, wake: make(chan struct{}, 1), running: map[string]context.CancelFunc{}}, nil
}

// Submit validates spec and queues it as a job of ws. Bad specs are
// usage.EInvalid, before anything is stored.
func (r *Runner) Submit(ctx context.Context, ws usage.Workspace, spec usage.ExportSpec, by usage.Actor) (usage.ExportJob, error) {
	if err := r.cfg.Audit.Ready(); err != nil {
		return usage.ExportJob{}, err
	}
	return r.submitAs(ctx, usage.RandomID("job_", 10), ws, spec, by, "", 0)
}

func (r *Runner) submitAs(ctx context.Context, id string, ws usage.Workspace, spec usage.ExportSpec, by usage.Actor, scheduleID string, retention time.Duration) (usage.ExportJob, error) {
	now := r.cfg.Now().UTC().Truncate(time.Millisecond)
	plan, err := r.cfg.Exporter.Plan(ctx, ws, spec, now)
	if err != nil {
		return usage.ExportJob{}, err
	}
	j := usage.ExportJob{ID: id, WorkspaceID: ws.ID, Spec: plan.Spec(), Status: usage.JobQueued,
		RowsTotal: -1, CreatedBy: by.Name, Creator: by, ScheduleID: scheduleID, CreatedAt: now}
	if retention > 0 {
		j.ExpiresAt = now.Add(retention)
	}
	if err := r.cfg.Meta.CreateJob(ctx, &j); err != nil {
		return usage.ExportJob{}, err
	}
	r.Wake()
	return j, nil
}

// Wake tells an idle worker to look for jobs now.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Cancel cancels a job of the workspace. A job running in this process
// stops at once; one running elsewhere stops at its runner's next beat.
// Its partial file is removed.
func (r *Runner) Cancel(ctx context.Context, workspaceID int64, id string) (usage.ExportJob, error) {
	j, err := r.cfg.Meta.CancelJob(ctx, workspaceID, id, r.cfg.Now().UTC())
	if err != nil {
		return j, err
	}
	r.mu.Lock()
	cancel := r.running[id]
	r.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	return j, nil
}

// Start fails the jobs whose runner died, then runs workers until ctx
// ends. Wait waits for them.
func (r *Runner) Start(ctx context.Context) {
	r.failStale(ctx)
	for range r.cfg.Workers {
		r.wg.Go(func() { r.work(ctx) })
	}
	// Stale jobs of a replica that died are failed within a lease.
	r.wg.Go(func() {
		t := time.NewTicker(r.cfg.Lease)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				r.failStale(ctx)
				r.removeExpired(ctx)
			}
		}
	})
}

// Wait waits for the workers to stop after Start's ctx ended.
func (r *Runner) Wait() { r.wg.Wait() }

func (r *Runner) failStale(ctx context.Context) {
	now := r.cfg.Now().UTC()
	stale, err := r.cfg.Meta.FailStaleJobs(ctx, now.Add(-r.cfg.Lease), now,
		"the server running this job stopped before it finished; submit it again")
	if err != nil {
		r.cfg.Log.Error("fail stale export jobs", "err", err)
		return
	}
	for _, j := range stale {
		r.cfg.Log.Warn("export job failed: its runner stopped", "job", j.ID)
		if err := r.removePartial(ctx, j); err != nil {
			r.cfg.Log.Error("remove a dead job's partial file", "job", j.ID, "err", err)
		}
		r.finished(j)
	}
}

// removeExpired deletes the files of scheduled jobs past their retention.
func (r *Runner) removeExpired(ctx context.Context) {
	expired, err := r.cfg.Meta.ExpiredJobFiles(ctx, r.cfg.Now().UTC())
	if err != nil {
		r.cfg.Log.Error("expired export files", "err", err)
		return
	}
	for _, j := range expired {
		if err := r.cfg.Exporter.Files.Remove(ctx, j.FilePath); err != nil {
			r.cfg.Log.Error("remove expired export file", "job", j.ID, "err", err)
			continue
		}
		if err := r.cfg.Meta.ForgetJobFile(ctx, j.ID); err != nil {
			r.cfg.Log.Error("forget expired export file", "job", j.ID, "err", err)
		}
	}
}

func (r *Runner) work(ctx context.Context) {
	poll := time.NewTicker(r.cfg.Beat)
	defer poll.Stop()
	for ctx.Err() == nil {
		j, err := r.cfg.Meta.ClaimJob(ctx, r.cfg.Now().UTC(), r.cfg.PerWorkspace)
		if err == nil {
			r.run(ctx, j)
			continue
		}
		if usage.ErrorCode(err) != usage.ENotFound && ctx.Err() == nil {
			r.cfg.Log.Error("claim export job", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-r.wake:
		case <-poll.C:
		}
	}
}

func (r *Runner) run(ctx context.Context, j usage.ExportJob) {
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.mu.Lock()
	r.running[j.ID] = cancel
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.running, j.ID)
		r.mu.Unlock()
	}()
	log := r.cfg.Log.With("job", j.ID, "report", j.Spec.Report)
	log.Info("export job started")

	var written, total atomic.Int64
	total.Store(-1)
	var cancelled atomic.Bool
	// The export only stores two numbers; a beat saves them once a
	// period and learns whether the job was cancelled elsewhere.
	beatDone := make(chan struct{})
	stopBeat := make(chan struct{})
	go func() {
		defer close(beatDone)
		t := time.NewTicker(r.cfg.Beat)
		defer t.Stop()
		for {
			select {
			case <-stopBeat:
				return
			case <-t.C:
				ok, err := r.cfg.Meta.JobProgress(jctx, j.ID, written.Load(), total.Load(), r.cfg.Now().UTC())
				if err == nil && !ok {
					cancelled.Store(true)
					cancel()
				}
			}
		}
	}()

	res, err := r.execute(jctx, j, func(w, t int64) { written.Store(w); total.Store(t) })
	close(stopBeat)
	<-beatDone

	j.RowsWritten, j.RowsTotal = written.Load(), total.Load()
	j.FinishedAt = r.cfg.Now().UTC().Truncate(time.Millisecond)
	switch {
	case err == nil:
		j.Status, j.FilePath, j.RecordCount = usage.JobSucceeded, res.FilePath, res.Records
		j.RowsWritten = max(j.RowsWritten, res.Records)
		if j.RowsTotal < 0 {
			j.RowsTotal = j.RowsWritten
		}
	case ctx.Err() != nil && !cancelled.Load():
		j.Status, j.Error = usage.JobFailed, "the server shut down while this job ran; submit it again"
	default:
		j.Status, j.Error = usage.JobFailed, usage.ErrorMessage(err)
	}
	// The store, not this process, knows whether it was cancelled: a
	// finish that finds the job no longer running leaves it cancelled.
	ok, ferr := r.cfg.Meta.FinishJob(context.WithoutCancel(ctx), j)
	if ferr != nil {
		log.Error("finish export job", "err", ferr)
		return
	}
	if !ok {
		if j.FilePath != "" {
			// Cancelled after the file was complete: it goes too.
			if err := r.cfg.Exporter.Files.Remove(context.WithoutCancel(ctx), j.FilePath); err != nil {
				log.Error("remove cancelled export's file", "err", err)
			}
		}
		log.Info("export job cancelled", "rows", j.RowsWritten)
		if final, err := r.cfg.Meta.Job(context.WithoutCancel(ctx), j.WorkspaceID, j.ID); err == nil {
			r.finished(final)
		}
		return
	}
	log.Info("export job finished", "status", j.Status, "rows", j.RowsWritten, "err", j.Error)
	r.finished(j)
}

func (r *Runner) execute(ctx context.Context, j usage.ExportJob, progress Progress) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("export panicked: %v", p)
		}
	}()
	ws, err := r.cfg.Meta.WorkspaceByID(ctx, j.WorkspaceID)
	if err != nil {
		return Result{}, err
	}
	plan, err := r.planJob(ctx, ws, j)
	if err != nil {
		return Result{}, err
	}
	return plan.Run(ctx, progress)
}

// planJob plans job j as it ran or runs: relative filters (period=7d)
// read the time it was submitted, and its file is named after it.
func (r *Runner) planJob(ctx context.Context, ws usage.Workspace, j usage.ExportJob) (*Plan, error) {
	plan, err := r.cfg.Exporter.Plan(ctx, ws, j.Spec, j.CreatedAt)
	if err != nil {
		return nil, err
	}
	plan.forJob(j)
	return plan, nil
}

// removePartial deletes what the dead runner of job j left of its file.
func (r *Runner) removePartial(ctx context.Context, j usage.ExportJob) error {
	if r.cfg.Exporter.Files == nil {
		return nil
	}
	ws, err := r.cfg.Meta.WorkspaceByID(ctx, j.WorkspaceID)
	if err != nil {
		return err
	}
	plan, err := r.planJob(ctx, ws, j)
	if err != nil {
		return err
	}
	return r.cfg.Exporter.Files.RemovePartial(ctx, plan.filePath)
}

func (r *Runner) finished(j usage.ExportJob) {
	details := map[string]any{"job": j.ID, "report": j.Spec.Report, "format": j.Spec.Format, "filters": j.Spec.Filters,
		"timezone": j.Spec.Timezone, "status": string(j.Status), "rows": j.RecordCount, "via": "job"}
	if j.ScheduleID != "" {
		details["schedule"] = j.ScheduleID
	}
	if j.Error != "" {
		details["error"] = j.Error
	}
	// The job was accepted while the audit log was writable; an entry the
	// log refuses now is logged, as the file exists either way.
	if err := r.cfg.Audit.Record(usage.AuditEntry{WorkspaceID: j.WorkspaceID, Actor: j.Creator, Action: usage.AuditExportCreate,
		Target: j.FilePath, Details: details}); err != nil {
		r.cfg.Log.Error("audit: export job not recorded", "job", j.ID, "err", err)
	}
	if r.cfg.Finished != nil {
		r.cfg.Finished(j)
	}
}
