package export

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"iter"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
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
	// export's range (0: DefaultMaxRangeDays, -1: none); RowLimit bounds
	// the rows (0: none).
	Now          time.Time
	MaxRangeDays int
	RowLimit     int64
	// Names spells a parameter ("from", "status_class", "format",
	// "timezone") as the caller takes it, for errors: nil is an export
	// job's JSON (filters.from, format, timezone); the CLI gives its flags.
	Names func(param string) string
	// Scanned, when set, hears how many events a report that aggregates
	// them before its first row has read so far.
	Scanned func(events int)
}

// name spells param as the job's caller takes it.
func (j Job) name(param string) string {
	switch {
	case j.Names != nil:
		return j.Names(param)
	case param == "format" || param == "timezone":
		return param
	}
	return "filters." + param
}

// scanned passes events on, telling j.Scanned how many have gone by every
// 10,000 and at the end.
func (j Job) scanned(events iter.Seq2[*usage.Event, error]) iter.Seq2[*usage.Event, error] {
	if j.Scanned == nil {
		return events
	}
	return func(yield func(*usage.Event, error) bool) {
		n := 0
		defer func() { j.Scanned(n) }()
		for e, err := range events {
			if n++; n%10_000 == 0 {
				j.Scanned(n)
			}
			if !yield(e, err) {
				return
			}
		}
	}
}

// QueryFilters are the filters of a query-style request (the API's
// synchronous exports, the CLI's flags): every parameter but format and
// tz, which a Job takes apart.
func QueryFilters(q url.Values) usage.FilterValues {
	filters := usage.FilterValues{}
	for k, v := range q {
		if k != "format" && k != "tz" {
			filters[k] = v
		}
	}
	return filters
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
func planLogs(r LogReport) func(Job) (*Run, error) {
	return func(j Job) (*Run, error) {
		q := url.Values{}
		for k, v := range j.Filters {
			if k == "format" || k == "tz" {
				return nil, usage.Errorf(usage.EInvalid, "filters: %q is not a filter (give it as the job's %s)", k, map[string]string{"format": "format", "tz": "timezone"}[k])
			}
			q[k] = v
		}
		q.Set("format", cmp.Or(j.Format, "csv"))
		// The job's zone, read once by whoever made the job.
		lr, err := ParseLogRequest(r, q, j.Now, j.Loc)
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
				if j.RowLimit == 0 {
					return func(w io.Writer) (int, error) { return runCounting(ctx, j, lr, w, progress) }, nil
				}
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

// runCounting writes lr's rows with no row limit to check: the total then
// only sizes progress, so it is counted beside the export rather than
// before it, and estimated where the store can do that for less (on
// ClickHouse the exact count is a FINAL read of its own, which slowed a
// million-row export by a tenth). Progress reports -1 as the total until
// the count is in.
func runCounting(ctx context.Context, j Job, lr LogRequest, w io.Writer, progress func(written, total int64)) (int, error) {
	var total atomic.Int64
	total.Store(-1)
	countCtx, cancel := context.WithCancel(ctx)
	counted := make(chan struct{})
	go func() {
		defer close(counted)
		count := func() (int64, error) { return lr.Count(countCtx, j.Events, j.Workspace.ID, 0) }
		if est, ok := j.Events.(usage.LogEstimator); ok {
			count = func() (int64, error) { return est.EstimateLogs(countCtx, j.Workspace.ID, lr.Filter) }
		}
		if n, err := count(); err == nil {
			total.Store(n)
		}
	}()
	defer func() { cancel(); <-counted }()
	progress(0, -1)
	return lr.Run(ctx, j.Events, j.Workspace.ID, j.Privacy, NewWriter(lr.Format, w, lr.Report.Name),
		func(n int) { progress(int64(n), total.Load()) })
}

// planActivity plans an activity export (users … api-keys) from the job's
// from and to.
func planActivity(u *UsageExport) func(Job) (*Run, error) {
	return func(j Job) (*Run, error) {
		for _, k := range slices.Sorted(maps.Keys(j.Filters)) {
			if k != "from" && k != "to" {
				return nil, usage.Errorf(usage.EInvalid, "%s does not apply to %s (it takes %s and %s)", j.name(k), u.Name, j.name("from"), j.name("to"))
			}
		}
		from, to := url.Values(j.Filters).Get("from"), url.Values(j.Filters).Get("to")
		if from == "" || to == "" {
			return nil, usage.Errorf(usage.EInvalid, "%s and %s are required: %s aggregates from and to (dates like 2026-03-01)", j.name("from"), j.name("to"), u.Name)
		}
		rng, err := ResolveDates(from, to, j.Timezone, max(cmp.Or(j.MaxRangeDays, DefaultMaxRangeDays), 0),
			RangeFields{From: j.name("from"), To: j.name("to"), Timezone: j.name("timezone")})
		if err != nil {
			return nil, err
		}
		format, err := ParseFormat(j.Format)
		if err != nil {
			return nil, usage.Errorf(usage.EInvalid, "%s: %v", j.name("format"), err)
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
			rows, err := u.Aggregate(ctx, j.scanned(j.Events.ScanEvents(ctx, j.Workspace.ID, usage.KindActivity, rng.From, rng.To)), rng.Loc, j.Privacy)
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
		k := slices.Sorted(maps.Keys(j.Filters))[0]
		return nil, usage.Errorf(usage.EInvalid, "%s does not apply to usage-reports (it covers the last 6 months and the last year)", j.name(k))
	}
	if f := j.Format; f != "" && f != "zip" {
		return nil, usage.Errorf(usage.EInvalid, "%s: usage-reports is a zip of two workbooks, not %q", j.name("format"), f)
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
			return func(w io.Writer) (int, error) {
				err := reports.Write(ctx, w, j.Loc)
				return reports.YearUsers(), err
			}, nil
		},
	}, nil
}
