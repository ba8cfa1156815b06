package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"iter"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/usage"
)

const exportUsage = `usage: usagelog export api-logs|api-usage [filters] [--format csv|xlsx|json|ndjson] --out FILE
       usagelog export users|assistants|agents|workflows|projects|models|api-keys --from D --to D [--tz ZONE] --out FILE
       usagelog export usage-reports [--tz ZONE] --out "Usage Reports.zip"

With --server URL --token T the export runs as a job of that server (any
report, including the usage exports and usage-reports), with a progress bar
fed by the job, and the file is downloaded when it is ready; Ctrl-C
cancels the job.

Writes a report of the workspace's API calls from the local store. Filters
are those of GET /api/v1/logs: --from/--to (RFC 3339 or YYYY-MM-DD in --tz)
or --period 1h|24h|7d|30d|90d, --status, --status-class, --client,
--collection, --collection-type, --community, --usage-type, and for
api-usage --type all|mcp|other. --tz (default: the workspace's timezone)
changes the times written, never the rows selected. The format defaults to
the extension of --out. A progress bar goes to stderr.

The seed 001 usage exports (users … api-keys) aggregate activity from
--from to --to (YYYY-MM-DD or ISO 8601, read in --tz; a bare --to is the
whole day), one row per entity, with the workspace's privacy settings.

`

func exportCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("export", env)
	fs.Usage = func() { fmt.Fprint(env.Stderr, exportUsage); fs.PrintDefaults() }
	var d dataFlags
	d.register(fs)
	workspace := fs.String("workspace", usage.DefaultWorkspace, "workspace to export")
	out := fs.String("out", "", "file to write (- for standard output)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	server := fs.String("server", "", "URL of a running usagelog: run the export as a job there and download the file")
	token := fs.String("token", "", "key with the report's scope, with --server")
	// Each filter flag is passed on as the query parameter of the same
	// name, so the CLI and the API validate filters in one place.
	single := []string{"from", "to", "period", "tz", "collection-type", "usage-type", "type", "format"}
	repeated := []string{"status", "status-class", "client", "collection", "community"}
	vals := map[string]*string{}
	for _, name := range single {
		vals[name] = fs.String(name, "", "filter "+name+" (see GET /api/v1/logs)")
	}
	lists := map[string]*stringList{}
	for _, name := range repeated {
		lists[name] = &stringList{}
		fs.Var(lists[name], name, "filter "+name+", repeatable")
	}
	fs.Lookup("format").Usage = "csv, xlsx, json or ndjson (default: from the --out extension, else csv)"
	fs.Lookup("tz").Usage = "IANA timezone of the written times (default: the workspace's, else UTC)"
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("export: name one report: %s", export.ReportNames())
	}
	if _, err := export.LookupReport(pos[0]); err != nil {
		return usagef("export: %s", usage.ErrorMessage(err))
	}
	if *out == "" {
		return usagef("export: --out FILE is required (- for standard output)")
	}
	q := url.Values{}
	for name, v := range vals {
		if *v != "" {
			q.Set(strings.ReplaceAll(name, "-", "_"), *v)
		}
	}
	for name, l := range lists {
		for _, v := range *l {
			q.Add(strings.ReplaceAll(name, "-", "_"), v)
		}
	}
	if !q.Has("format") && *out != "-" {
		if ext := strings.TrimPrefix(filepath.Ext(*out), "."); ext != "" {
			if _, err := export.ParseFormat(ext); err == nil {
				q.Set("format", ext)
			}
		}
	}

	if *server != "" {
		c, err := newAPIClient(*server, *token)
		if err != nil {
			return err
		}
		return exportRemote(ctx, env, c, pos[0], q, *out, *quiet)
	}
	st, ws, err := d.openWorkspace(ctx, *workspace)
	if err != nil {
		return err
	}
	defer st.close()
	defer exportGC()()
	settings, err := st.meta.Settings(ctx, ws.ID)
	if err != nil {
		return err
	}
	if pos[0] == "usage-reports" {
		return exportUsageReports(ctx, env, st, ws, settings, q, *out)
	}
	if u, ok := export.UsageExports[pos[0]]; ok {
		return exportUsageData(ctx, env, st, ws, settings, d.data, u, q, *out, *quiet)
	}
	loc, err := settings.Location()
	if err != nil {
		return err
	}
	lr, err := export.ParseLogRequest(pos[0], q, time.Now(), loc)
	if err != nil {
		return usagef("export: %s", usage.ErrorMessage(err))
	}
	secret, err := st.serverSecret(ctx, d.data, env.Getenv("USAGELOG_SECRET"))
	if err != nil {
		return err
	}
	privacy := usage.NewPrivacy(settings, secret, ws.ID)
	var progress func(int)
	stopCount, finish := func() {}, func(int) {}
	if !*quiet {
		// The total only sizes the bar, so it is counted beside the export
		// rather than before it, and estimated where a store can do that
		// for less: on ClickHouse the exact count is a FINAL read of its
		// own, which slowed a million-row export by a tenth.
		bar := newProgressBar(env, lr.Report.Name, -1, "rows")
		var mu sync.Mutex
		progress = func(n int) {
			mu.Lock()
			bar.Set64(int64(n))
			mu.Unlock()
		}
		countCtx, cancel := context.WithCancel(ctx)
		counted := make(chan struct{})
		go func() {
			defer close(counted)
			count := func() (int64, error) { return lr.Count(countCtx, st.events, ws.ID, 0) }
			if est, ok := st.events.(usage.LogEstimator); ok {
				count = func() (int64, error) { return est.EstimateLogs(countCtx, ws.ID, lr.Filter) }
			}
			if total, err := count(); err == nil {
				mu.Lock()
				bar.ChangeMax64(total)
				mu.Unlock()
			}
		}()
		stopCount = sync.OnceFunc(func() { cancel(); <-counted })
		defer stopCount()
		finish = func(n int) { // an estimate may have been over
			mu.Lock()
			bar.ChangeMax64(int64(n))
			bar.Set64(int64(n))
			mu.Unlock()
		}
	}

	start := time.Now()
	n, size, err := writeExport(ctx, *out, env, func(f io.Writer) (int, error) {
		return lr.Run(ctx, st.events, ws.ID, privacy, export.NewWriter(lr.Format, f, lr.Report.Name), progress)
	})
	stopCount()
	if err != nil {
		return err
	}
	finish(n)
	if *out != "-" {
		fmt.Fprintf(env.Stderr, "wrote %d rows (%s, %d bytes) to %s in %s\n", n, lr.Format, size, *out, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// exportGC lets the heap grow to five times what is live, rather than
// twice, while an export runs, unless GOGC says otherwise; it returns what
// puts the setting back. An export's live heap is a few megabytes, and the
// text it reads is garbage a block later: at Go's default the collector
// ran every few megabytes and took a tenth of the CPU of a million-row
// export from ClickHouse (scripts/export-bench.sh). Peak memory stays
// flat, however many rows go out.
func exportGC() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	old := debug.SetGCPercent(400)
	return func() { debug.SetGCPercent(old) }
}

// writeExport writes to a temporary file beside path and renames it into
// place only when the export completed, so a failed export never leaves a
// truncated file or clobbers an earlier one. "-" writes to stdout.
func writeExport(ctx context.Context, path string, env Env, write func(io.Writer) (int, error)) (int, int64, error) {
	if path == "-" {
		n, err := write(env.Stdout)
		return n, 0, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return 0, 0, fmt.Errorf("export: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	n, err := write(tmp)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		tmp.Close()
		return n, 0, err
	}
	info, err := tmp.Stat()
	if err == nil {
		err = tmp.Close()
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return n, 0, fmt.Errorf("export: %w", err)
	}
	return n, info.Size(), nil
}

// exportUsageData writes a seed 001 usage export to a file.
func exportUsageData(ctx context.Context, env Env, st *stores, ws usage.Workspace, settings usage.Settings, data string, u *export.UsageExport, q url.Values, out string, quiet bool) error {
	for k := range q {
		if k != "from" && k != "to" && k != "tz" && k != "format" {
			return usagef("export %s: --%s does not apply (it takes --from, --to, --tz and --format)", u.Name, strings.ReplaceAll(k, "_", "-"))
		}
	}
	if !q.Has("from") || !q.Has("to") {
		return usagef("export %s: --from and --to are required", u.Name)
	}
	format, err := export.ParseFormat(q.Get("format"))
	if err != nil {
		return usagef("export: %v", err)
	}
	tz := cmp.Or(q.Get("tz"), settings.Timezone, "UTC")
	rng, err := export.ResolveDates(q.Get("from"), q.Get("to"), tz, 0, export.RangeFields{From: "--from", To: "--to", Timezone: "--tz"})
	if err != nil {
		return usagef("export %s: %s", u.Name, usage.ErrorMessage(err))
	}
	secret, err := st.serverSecret(ctx, data, env.Getenv("USAGELOG_SECRET"))
	if err != nil {
		return err
	}
	events := st.events.ScanEvents(ctx, ws.ID, usage.KindActivity, rng.From, rng.To)
	if !quiet {
		bar := newProgressBar(env, u.Name+": reading activity", -1, "events")
		events = counted(events, func(n int) { bar.Set64(int64(n)) })
		defer bar.Finish()
	}
	start := time.Now()
	rows, err := u.Aggregate(ctx, events, rng.Loc, usage.NewPrivacy(settings, secret, ws.ID))
	if err != nil {
		return err
	}
	n, size, err := writeExport(ctx, out, env, func(w io.Writer) (int, error) {
		return export.Write(ctx, u.Definition, export.Rows(rows), rng.Loc, export.NewWriter(format, w, u.Name), nil)
	})
	if err != nil {
		return err
	}
	if out != "-" {
		fmt.Fprintf(env.Stderr, "wrote %d %s rows (%s, %d bytes) to %s in %s\n", n, u.Name, format, size, out, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// counted calls progress with the number of items passed so far, every
// 10,000 items and at the end.
func counted[T any](seq iter.Seq2[T, error], progress func(int)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		n := 0
		defer func() { progress(n) }()
		for v, err := range seq {
			if n++; n%10_000 == 0 {
				progress(n)
			}
			if !yield(v, err) {
				return
			}
		}
	}
}

// exportUsageReports writes the seed 003 zip: the last 6 months and the
// last year before now.
func exportUsageReports(ctx context.Context, env Env, st *stores, ws usage.Workspace, settings usage.Settings, q url.Values, out string) error {
	for k := range q {
		if k != "tz" && k != "format" {
			return usagef("export usage-reports: --%s does not apply (it covers the last 6 months and the last year; it takes --tz)", strings.ReplaceAll(k, "_", "-"))
		}
	}
	if f := q.Get("format"); f != "" && f != "zip" {
		return usagef("export usage-reports: it is a zip of two workbooks, not %s", f)
	}
	loc, err := usage.LoadLocation(cmp.Or(q.Get("tz"), settings.Timezone))
	if err != nil {
		return usagef("export usage-reports: --tz: %s", usage.ErrorMessage(err))
	}
	start := time.Now()
	reports, err := export.LoadUsageReports(ctx, st.events, ws.ID, start)
	if err != nil {
		return err
	}
	_, size, err := writeExport(ctx, out, env, func(w io.Writer) (int, error) { return 0, reports.Write(ctx, w, loc) })
	if err != nil {
		return err
	}
	if out != "-" {
		fmt.Fprintf(env.Stderr, "wrote the usage reports (%d bytes) to %s in %s\n", size, out, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// newProgressBar draws progress on stderr: a bar with count and rate when
// total is known, a spinner with both when it is -1.
func newProgressBar(env Env, desc string, total int64, unit string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(env.Stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(env.Stderr) }),
	)
}
