package httpapi

import (
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/usage"
)

func (s *Server) handleLogsCSV(w http.ResponseWriter, r *http.Request, c *caller) error {
	f, err := usage.ParseLogFilter(r.URL.Query(), s.now(), time.UTC)
	if err != nil {
		return err
	}
	return s.streamCSV(w, r, c, export.APILogs, f)
}

func (s *Server) handleAPIUsage(w http.ResponseWriter, r *http.Request, c *caller) error {
	q := r.URL.Query()
	f, err := usage.ParseLogFilter(q, s.now(), time.UTC, export.APIUsage.Filters...)
	if err != nil {
		return err
	}
	switch t := q.Get("type"); t {
	case "", "all":
	case "mcp", "other":
		if f.UsageType != "" && string(f.UsageType) != t {
			return usage.Errorf(usage.EInvalid, "type %q contradicts usage_type %q", t, f.UsageType)
		}
		f.UsageType = usage.UsageType(t)
	default:
		return usage.Errorf(usage.EInvalid, "unknown type %q (want all, mcp or other)", t)
	}
	if len(f.Communities) > 1 {
		return usage.Errorf(usage.EInvalid, "community: give one community, or none for all")
	}
	switch format := q.Get("format"); format {
	case "", "csv":
	default:
		return usage.Errorf(usage.EInvalid, "unknown format %q (this version writes csv)", format)
	}
	return s.streamCSV(w, r, c, export.APIUsage, f)
}

// streamCSV writes a report straight into the response as rows come from
// the store.
func (s *Server) streamCSV(w http.ResponseWriter, r *http.Request, c *caller, d *export.Definition, f usage.LogFilter) error {
	scanner, ok := s.events.(usage.LogScanner)
	if !ok {
		return fmt.Errorf("export: the events store cannot stream")
	}
	name := fmt.Sprintf("%s-%s-%s.csv", c.Workspace.Name, d.Name, rangeName(f, s.now()))
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	w.Header().Set("Cache-Control", "no-store")
	if _, err := export.Write(r.Context(), d, scanner.ScanLogs(r.Context(), c.Workspace.ID, f), f.Location(), export.NewCSV(w), nil); err != nil {
		// The header is out: the client sees a cut file; the log says why.
		s.log.Error("export failed mid-stream", "report", d.Name, "workspace", c.Workspace.Name, "err", err)
	}
	return nil
}

// rangeName names an export's range in its timezone: 2026-03-01_2026-03-31,
// or "all" when unbounded.
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
