// Package jobs runs exports off the request path: an Exporter turns an
// export spec into a stored file, a Runner works through the queued jobs
// of every workspace with bounded concurrency, and a Scheduler queues the
// jobs of schedules when they are due and calls their webhooks.
package jobs

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/usage"
)

// Exporter writes the file of an export spec into the file store.
type Exporter struct {
	Events usage.EventStore
	Meta   usage.MetaStore
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
	// filePath is where the file goes in the file store.
	filePath string
	run      func(ctx context.Context, progress Progress) (Result, error)
}

// inDir moves the plan's file under dir.
func (p *Plan) inDir(dir string) { p.filePath = dir + p.filePath }

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

// Plan validates spec for workspace ws, its relative times read at now.
// Errors are usage.EInvalid and name the bad field.
func (e *Exporter) Plan(ctx context.Context, ws usage.Workspace, spec usage.ExportSpec, now time.Time) (*Plan, error) {
	if _, err := export.LookupReport(spec.Report); err != nil {
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
	p := &Plan{e: e, ws: ws, spec: spec}
	privacy := usage.NewPrivacy(st, e.Secret, ws.ID)
	limit := st.RowLimit(e.RowLimit)
	suffix := usage.RandomID("", 4)
	switch {
	case spec.Report == "usage-reports":
		err = e.planUsageReports(p, loc, suffix, now)
	case export.UsageExports[spec.Report] != nil:
		err = e.planUsageExport(p, export.UsageExports[spec.Report], privacy, limit, suffix)
	default:
		err = e.planLogs(p, loc, privacy, limit, suffix, now)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (e *Exporter) planLogs(p *Plan, loc *time.Location, privacy usage.Privacy, limit int64, suffix string, now time.Time) error {
	scanner := e.Events
	q := url.Values{}
	for k, v := range p.spec.Filters {
		if k == "format" || k == "tz" {
			return usage.Errorf(usage.EInvalid, "filters: %q is not a filter (give it as the job's %s)", k, map[string]string{"format": "format", "tz": "timezone"}[k])
		}
		q[k] = v
	}
	q.Set("format", cmp.Or(p.spec.Format, "csv"))
	q.Set("tz", p.spec.Timezone)
	lr, err := export.ParseLogRequest(p.spec.Report, q, now, loc)
	if err != nil {
		return err
	}
	p.spec.Format = string(lr.Format)
	name := strings.TrimSuffix(lr.FileName(p.ws.Name, now), "."+string(lr.Format))
	p.filePath = fmt.Sprintf("%s/%d/%s-%s.%s", lr.Report.Name, p.ws.ID, name, suffix, lr.Format)
	p.run = func(ctx context.Context, progress Progress) (Result, error) {
		total, err := lr.Count(ctx, scanner, p.ws.ID, limit)
		if err != nil {
			return Result{}, err
		}
		progress(0, total)
		return store(ctx, e.Files, p.filePath, func(w io.Writer) (int, error) {
			return lr.Run(ctx, scanner, p.ws.ID, privacy, export.NewWriter(lr.Format, w, lr.Report.Name),
				func(n int) { progress(int64(n), total) })
		})
	}
	return nil
}

func (e *Exporter) planUsageExport(p *Plan, u *export.UsageExport, privacy usage.Privacy, limit int64, suffix string) error {
	for k := range p.spec.Filters {
		if k != "from" && k != "to" {
			return usage.Errorf(usage.EInvalid, "filters: %s takes from and to, not %q", u.Name, k)
		}
	}
	from, to := first(p.spec.Filters["from"]), first(p.spec.Filters["to"])
	if from == "" || to == "" {
		return usage.Errorf(usage.EInvalid, "filters: %s needs from and to (dates like 2026-03-01)", u.Name)
	}
	rng, err := export.ResolveDates(from, to, p.spec.Timezone, cmp.Or(e.MaxRangeDays, export.DefaultMaxRangeDays),
		export.RangeFields{From: "filters.from", To: "filters.to", Timezone: "timezone"})
	if err != nil {
		return err
	}
	format, err := export.ParseFormat(p.spec.Format)
	if err != nil {
		return usage.Errorf(usage.EInvalid, "format: %v", err)
	}
	p.spec.Format = string(format)
	return e.usageExportRun(p, u, rng, format, privacy, limit, suffix)
}

// PlanUsageExport plans the seed 001 export name of a resolved range: the
// synchronous POST /export/{dataType} runs the same code as a job.
func (e *Exporter) PlanUsageExport(ctx context.Context, ws usage.Workspace, u *export.UsageExport, rng export.UsageRange, format export.Format) (*Plan, error) {
	st, err := e.Meta.Settings(ctx, ws.ID)
	if err != nil {
		return nil, err
	}
	p := &Plan{e: e, ws: ws, spec: usage.ExportSpec{Report: u.Name, Format: string(format), Timezone: rng.Loc.String()}}
	if err := e.usageExportRun(p, u, rng, format, usage.NewPrivacy(st, e.Secret, ws.ID), st.RowLimit(e.RowLimit), usage.RandomID("", 4)); err != nil {
		return nil, err
	}
	return p, nil
}

func (e *Exporter) usageExportRun(p *Plan, u *export.UsageExport, rng export.UsageRange, format export.Format, privacy usage.Privacy, limit int64, suffix string) error {
	scanner := e.Events
	p.filePath = rng.FilePath(u.Name, p.ws.ID, suffix, format)
	p.run = func(ctx context.Context, progress Progress) (Result, error) {
		progress(0, -1)
		rows, err := u.Aggregate(ctx, scanner.ScanEvents(ctx, p.ws.ID, usage.KindActivity, rng.From, rng.To), rng.Loc, privacy)
		if err != nil {
			return Result{}, err
		}
		total := int64(len(rows))
		if limit > 0 && total > limit {
			return Result{}, usage.Errorf(usage.EUnprocessable, "the export would hold %d rows, over this workspace's limit of %d: export a shorter range", total, limit)
		}
		progress(0, total)
		return store(ctx, e.Files, p.filePath, func(w io.Writer) (int, error) {
			return export.Write(ctx, u.Definition, export.Rows(rows), rng.Loc, export.NewWriter(format, w, u.Name),
				func(n int) { progress(int64(n), total) })
		})
	}
	return nil
}

func (e *Exporter) planUsageReports(p *Plan, loc *time.Location, suffix string, now time.Time) error {
	src := e.Events
	if len(p.spec.Filters) > 0 {
		return usage.Errorf(usage.EInvalid, "filters: usage-reports takes none (it covers the last 6 months and the last year)")
	}
	if f := p.spec.Format; f != "" && f != "zip" {
		return usage.Errorf(usage.EInvalid, "format: usage-reports is a zip of two workbooks, not %q", f)
	}
	p.spec.Format = "zip"
	p.filePath = fmt.Sprintf("usage-reports/%d/%s-%s/%s", p.ws.ID, now.In(loc).Format("2006-01-02"), suffix, export.UsageReportsName)
	p.run = func(ctx context.Context, progress Progress) (Result, error) {
		progress(0, -1)
		reports, err := export.LoadUsageReports(ctx, src, p.ws.ID, now)
		if err != nil {
			return Result{}, err
		}
		return store(ctx, e.Files, p.filePath, func(w io.Writer) (int, error) {
			return 0, reports.Write(ctx, w, loc)
		})
	}
	return nil
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
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
