package export

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// Job is what a report needs to run for one workspace, as an export job
// gives it: its filters (without the format and timezone, which come
// apart), format and timezone.
type Job struct {
	Events    usage.EventStore
	Workspace usage.Workspace
	Privacy   usage.Privacy
	Filters   usage.FilterValues
	// Format is "" for the report's default.
	Format string
	// Timezone is the IANA name the job gave (resolved: never empty), and
	// Loc its zone.
	Timezone string
	Loc      *time.Location
	// Now reads relative periods; MaxRangeDays bounds an activity
	// export's range; RowLimit bounds the rows (0: none).
	Now          time.Time
	MaxRangeDays int
	RowLimit     int64
}

// Run is a report planned for one workspace.
type Run struct {
	Format Format
	// FileName is the name a download of the file is given.
	FileName string
	// Path is where its file goes in a file store; suffix keeps the files
	// of two runs apart.
	Path func(suffix string) string
	// Start counts or computes the rows and checks them against the row
	// limit, reporting progress (written, total; total -1 while unknown),
	// and returns what writes the file.
	Start func(ctx context.Context, progress func(written, total int64)) (write func(w io.Writer) (int, error), err error)
}

// planLogs plans a report over api_request events (api-logs, api-usage).
func planLogs(name string) func(Job) (*Run, error) {
	return func(j Job) (*Run, error) {
		q := url.Values{}
		for k, v := range j.Filters {
			if k == "format" || k == "tz" {
				return nil, usage.Errorf(usage.EInvalid, "filters: %q is not a filter (give it as the job's %s)", k, map[string]string{"format": "format", "tz": "timezone"}[k])
			}
			q[k] = v
		}
		q.Set("format", cmp.Or(j.Format, "csv"))
		q.Set("tz", j.Timezone)
		lr, err := ParseLogRequest(name, q, j.Now, j.Loc)
		if err != nil {
			return nil, err
		}
		base := strings.TrimSuffix(lr.FileName(j.Workspace.Name, j.Now), "."+string(lr.Format))
		return &Run{
			Format: lr.Format, FileName: lr.FileName(j.Workspace.Name, j.Now),
			Path: func(suffix string) string {
				return fmt.Sprintf("%s/%d/%s-%s.%s", lr.Report.Name, j.Workspace.ID, base, suffix, lr.Format)
			},
			Start: func(ctx context.Context, progress func(written, total int64)) (func(io.Writer) (int, error), error) {
				total, err := lr.Count(ctx, j.Events, j.Workspace.ID, j.RowLimit)
				if err != nil {
					return nil, err
				}
				progress(0, total)
				return func(w io.Writer) (int, error) {
					return lr.Run(ctx, j.Events, j.Workspace.ID, j.Privacy, NewWriter(lr.Format, w, lr.Report.Name),
						func(n int) { progress(int64(n), total) })
				}, nil
			},
		}, nil
	}
}

// planActivity plans an activity export (users … api-keys) from the job's
// from and to.
func planActivity(u *UsageExport) func(Job) (*Run, error) {
	return func(j Job) (*Run, error) {
		for k := range j.Filters {
			if k != "from" && k != "to" {
				return nil, usage.Errorf(usage.EInvalid, "filters: %s takes from and to, not %q", u.Name, k)
			}
		}
		from, to := url.Values(j.Filters).Get("from"), url.Values(j.Filters).Get("to")
		if from == "" || to == "" {
			return nil, usage.Errorf(usage.EInvalid, "filters: %s needs from and to (dates like 2026-03-01)", u.Name)
		}
		rng, err := ResolveDates(from, to, j.Timezone, cmp.Or(j.MaxRangeDays, DefaultMaxRangeDays),
			RangeFields{From: "filters.from", To: "filters.to", Timezone: "timezone"})
		if err != nil {
			return nil, err
		}
		format, err := ParseFormat(j.Format)
		if err != nil {
			return nil, usage.Errorf(usage.EInvalid, "format: %v", err)
		}
		return PlanActivity(j, u, rng, format), nil
	}
}

// PlanActivity plans the activity export u of a resolved range: jobs and
// the synchronous POST /export/{dataType} run the same code.
func PlanActivity(j Job, u *UsageExport, rng UsageRange, format Format) *Run {
	return &Run{
		Format: format, FileName: rng.FileName(u.Name, format),
		Path: func(suffix string) string { return rng.FilePath(u.Name, j.Workspace.ID, suffix, format) },
		Start: func(ctx context.Context, progress func(written, total int64)) (func(io.Writer) (int, error), error) {
			progress(0, -1)
			rows, err := u.Aggregate(ctx, j.Events.ScanEvents(ctx, j.Workspace.ID, usage.KindActivity, rng.From, rng.To), rng.Loc, j.Privacy)
			if err != nil {
				return nil, err
			}
			total := int64(len(rows))
			if j.RowLimit > 0 && total > j.RowLimit {
				return nil, usage.Errorf(usage.EUnprocessable, "the export would hold %d rows, over this workspace's limit of %d: export a shorter range", total, j.RowLimit)
			}
			progress(0, total)
			return func(w io.Writer) (int, error) {
				return Write(ctx, u.Definition, Rows(rows), rng.Loc, NewWriter(format, w, u.Name),
					func(n int) { progress(int64(n), total) })
			}, nil
		},
	}
}

// planUsageReports plans "Usage Reports.zip" of the last 6 months and the
// last year.
func planUsageReports(j Job) (*Run, error) {
	if len(j.Filters) > 0 {
		return nil, usage.Errorf(usage.EInvalid, "filters: usage-reports takes none (it covers the last 6 months and the last year)")
	}
	if f := j.Format; f != "" && f != "zip" {
		return nil, usage.Errorf(usage.EInvalid, "format: usage-reports is a zip of two workbooks, not %q", f)
	}
	return &Run{
		Format: "zip", FileName: UsageReportsName,
		Path: func(suffix string) string {
			return fmt.Sprintf("usage-reports/%d/%s-%s/%s", j.Workspace.ID, j.Now.In(j.Loc).Format("2006-01-02"), suffix, UsageReportsName)
		},
		Start: func(ctx context.Context, progress func(written, total int64)) (func(io.Writer) (int, error), error) {
			progress(0, -1)
			reports, err := LoadUsageReports(ctx, j.Events, j.Workspace.ID, j.Now)
			if err != nil {
				return nil, err
			}
			return func(w io.Writer) (int, error) { return 0, reports.Write(ctx, w, j.Loc) }, nil
		},
	}, nil
}
