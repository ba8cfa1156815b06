package export

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// LogRequest is a validated request for a report over api_request events:
// the HTTP API and the CLI both build one from query-style parameters.
type LogRequest struct {
	Report *Definition[Event]
	Filter usage.LogFilter
	Format Format
}

// ParseLogRequest validates the parameters of report name: the shared log
// filters, format, and for api-usage the seed's type (all, mcp, other) and
// a single community. Errors are usage.EInvalid and name the bad value.
func ParseLogRequest(r LogReport, q url.Values, now time.Time, defaultTZ *time.Location) (LogRequest, error) {
	extra := []string{"format"}
	for _, p := range r.Params {
		extra = append(extra, p.Name)
	}
	f, err := usage.ParseLogFilter(q, now, defaultTZ, extra...)
	if err != nil {
		return LogRequest{}, err
	}
	format, err := ParseFormat(q.Get("format"))
	if err != nil {
		return LogRequest{}, usage.Errorf(usage.EInvalid, "%v", err)
	}
	if r.Refine != nil {
		if err := r.Refine(q, &f); err != nil {
			return LogRequest{}, err
		}
	}
	return LogRequest{Report: r.Definition, Filter: f, Format: format}, nil
}

// LogReport is a report over api_request events as the catalogue plans
// it: its rows, and the parameters it takes beyond the log filters with
// what they do to the filter.
type LogReport struct {
	*Definition[Event]
	Params []usage.Param
	Refine func(q url.Values, f *usage.LogFilter) error
}

// Count returns how many rows the request exports, or usage.EUnprocessable
// naming the limit when there are more than limit (0: no limit).
func (lr LogRequest) Count(ctx context.Context, src usage.LogScanner, workspaceID, limit int64) (int64, error) {
	n, err := src.CountLogs(ctx, workspaceID, lr.Filter)
	if err != nil {
		return 0, fmt.Errorf("export %s: %w", lr.Report.Name, err)
	}
	if limit > 0 && n > limit {
		return n, usage.Errorf(usage.EUnprocessable,
			"the export would hold %d rows, over this workspace's limit of %d: narrow it with from/to, period, community or the other filters", n, limit)
	}
	return n, nil
}

// FileName names the export: workspace, report and range in the export's
// timezone, e.g. acme-api-usage-2026-03-01_2026-03-31.xlsx.
func (lr LogRequest) FileName(workspace string, now time.Time) string {
	return fmt.Sprintf("%s-%s-%s.%s", workspace, lr.Report.Name, rangeName(lr.Filter, now), lr.Format)
}

// rangeName is 2026-03-01_2026-03-31, start_… or …_{today} for half-open
// ranges, or "all" when unbounded.
func rangeName(f usage.LogFilter, now time.Time) string {
	if f.From.IsZero() && f.To.IsZero() {
		return "all"
	}
	loc := f.Location()
	from, to := "start", now.In(loc).Format("2006-01-02")
	if !f.From.IsZero() {
		from = f.From.In(loc).Format("2006-01-02")
	}
	if !f.To.IsZero() {
		to = f.To.Add(-time.Millisecond).In(loc).Format("2006-01-02")
	}
	return from + "_" + to
}

// Run writes the request's rows from src into w, with the workspace's
// privacy settings applied.
func (lr LogRequest) Run(ctx context.Context, src usage.LogScanner, workspaceID int64, privacy usage.Privacy, w RowWriter, progress func(int)) (int, error) {
	rows := privacy.Events(src.ScanLogs(ctx, workspaceID, lr.Filter, privacy.Reads(lr.Report.Reads)...))
	return Write(ctx, lr.Report, rows, lr.Filter.Location(), w, progress)
}
