// Package jobs runs exports off the request path: an Exporter turns an
// export spec into a stored file, a Runner works through the queued jobs
// of every workspace with bounded concurrency, and a Scheduler queues the
// jobs of schedules when they are due and calls their webhooks.
package jobs

import (
	"cmp"
	"context"
	"io"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/usage"
)

// Exporter writes the file of an export spec into the file store.
type Exporter struct {
	Events usage.EventStore
	Meta   SettingsReader
	Files  usage.FileStore
	// Secret derives the workspaces' pseudonym keys.
	Secret []byte
	// MaxRangeDays bounds a seed 001 range; RowLimit applies to the
	// workspaces that set none.
	MaxRangeDays int
	RowLimit     int64
}

// Progress receives the rows written so far and the rows in all (-1 while
// unknown).
type Progress func(written, total int64)

// Result is a finished export.
type Result struct {
	FilePath string
	Records  int64
}

// Plan is a validated spec, ready to run.
type Plan struct {
	e    *Exporter
	ws   usage.Workspace
	spec usage.ExportSpec
	// filePath is where the file goes in the file store: path of a
	// suffix that keeps runs apart.
	filePath string
	path     func(suffix string) string
	run      func(ctx context.Context, progress Progress) (Result, error)
}

// forJob names the plan's file after job j, under ScheduledDir for a
// scheduled job: a runner that finds j dead knows where its partial
// file is.
func (p *Plan) forJob(j usage.ExportJob) {
	p.filePath = p.path(strings.TrimPrefix(j.ID, "job_"))
	if j.ScheduleID != "" {
		p.filePath = usage.ScheduledDir + "/" + p.filePath
	}
}

// Spec is the plan's spec with the defaults filled in (format, timezone).
func (p *Plan) Spec() usage.ExportSpec { return p.spec }

// Run writes the file. The file appears in the store only when the
// export completed; a cancelled or failed export leaves nothing behind.
func (p *Plan) Run(ctx context.Context, progress Progress) (Result, error) {
	if progress == nil {
		progress = func(int64, int64) {}
	}
	return p.run(ctx, progress)
}

// Plan validates spec for workspace ws, its relative times read at now:
// the catalogue's report plans the run (export.Catalogue). Errors are
// usage.EInvalid and name the bad field.
func (e *Exporter) Plan(ctx context.Context, ws usage.Workspace, spec usage.ExportSpec, now time.Time) (*Plan, error) {
	report, err := export.LookupReport(spec.Report)
	if err != nil {
		return nil, usage.Errorf(usage.EInvalid, "report: %s", usage.ErrorMessage(err))
	}
	st, err := e.Meta.Settings(ctx, ws.ID)
	if err != nil {
		return nil, err
	}
	if spec.Timezone == "" {
		spec.Timezone = cmp.Or(st.Timezone, "UTC")
	}
	loc, err := usage.LoadLocation(spec.Timezone)
	if err != nil {
		return nil, usage.Errorf(usage.EInvalid, "timezone: %s", usage.ErrorMessage(err))
	}
	run, err := report.Plan(export.Job{
		Events: e.Events, Workspace: ws, Privacy: usage.NewPrivacy(st, e.Secret, ws.ID),
		Filters: spec.Filters, Format: spec.Format, Timezone: spec.Timezone, Loc: loc,
		Now: now, MaxRangeDays: e.MaxRangeDays, RowLimit: st.RowLimit(e.RowLimit),
	})
	if err != nil {
		return nil, err
	}
	spec.Format = string(run.Format)
	return e.planRun(ws, spec, run), nil
}

// PlanUsageExport plans the activity export u of a resolved range: the
// synchronous POST /export/{dataType} runs the same code as a job.
func (e *Exporter) PlanUsageExport(ctx context.Context, ws usage.Workspace, u *export.UsageExport, rng export.UsageRange, format export.Format) (*Plan, error) {
	st, err := e.Meta.Settings(ctx, ws.ID)
	if err != nil {
		return nil, err
	}
	run := export.PlanActivity(export.Job{Events: e.Events, Workspace: ws, Privacy: usage.NewPrivacy(st, e.Secret, ws.ID),
		RowLimit: st.RowLimit(e.RowLimit)}, u, rng, format)
	return e.planRun(ws, usage.ExportSpec{Report: u.Name, Format: string(format), Timezone: rng.Loc.String()}, run), nil
}

// planRun is the plan that runs run into the file store.
func (e *Exporter) planRun(ws usage.Workspace, spec usage.ExportSpec, run *export.Run) *Plan {
	p := &Plan{e: e, ws: ws, spec: spec, filePath: run.Path(usage.RandomID("", 4)), path: run.Path}
	p.run = func(ctx context.Context, progress Progress) (Result, error) {
		write, err := run.Start(ctx, progress)
		if err != nil {
			return Result{}, err
		}
		return store(ctx, e.Files, p.filePath, write)
	}
	return p
}

// store writes a file through write and commits it, or aborts it on any
// error (including a cancelled ctx) so no partial file remains.
func store(ctx context.Context, files usage.FileStore, path string, write func(io.Writer) (int, error)) (Result, error) {
	if files == nil {
		return Result{}, usage.Errorf(usage.EInternal, "no file store is configured")
	}
	fw, err := files.Create(ctx, path)
	if err != nil {
		return Result{}, err
	}
	n, err := write(fw)
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = fw.Commit()
	}
	if err != nil {
		fw.Abort()
		return Result{}, err
	}
	return Result{FilePath: path, Records: int64(n)}, nil
}
