package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/usage"
)

// exportUsage is the command's help, its report names and filters made
// from the catalogue, so that a report added there is listed here.
func exportUsage() string {
	var logs, activity []string
	var own, filters []string
	for _, r := range export.Catalogue {
		switch r.Scope {
		case usage.ScopeLogsRead:
			logs = append(logs, r.Name)
			for _, p := range r.Params[len(usage.FilterParams):] {
				own = append(own, "and for "+r.Name+" "+flagName(p.Name)+" "+strings.Join(p.Enum, "|"))
			}
		case usage.ScopeUsageExportAPI:
			activity = append(activity, r.Name)
			if r.Name == export.AssistantsExport.Name {
				activity = append(activity, "agents")
			}
		}
	}
	for _, p := range usage.FilterParams {
		switch p.Name {
		case "period", "from", "to", "tz":
		default:
			filters = append(filters, flagName(p.Name))
		}
	}
	return `usage: usagelog export ` + strings.Join(logs, "|") + ` [filters] [--format csv|xlsx|json|ndjson] --out FILE
       usagelog export ` + strings.Join(activity, "|") + ` --from D --to D [--tz ZONE] --out FILE
       usagelog export usage-reports [--tz ZONE] --out "Usage Reports.zip"

With --server URL --token T the export runs as a job of that server (any
report, including the usage exports and usage-reports), with a progress bar
fed by the job, and the file is downloaded when it is ready; Ctrl-C
cancels the job.

` + wrap(`Writes a report of the workspace's API calls from the local store. Filters
are those of GET /api/v1/logs: --from/--to (RFC 3339 or YYYY-MM-DD in --tz)
or --period 1h|24h|7d|30d|90d, `+strings.Join(append(filters, own...), ", ")+`. --tz (default: the workspace's timezone)
changes the times written, never the rows selected. The format defaults to
the extension of --out. A progress bar goes to stderr.`, 76) + `

The usage exports (users … api-keys) aggregate activity from
--from to --to (YYYY-MM-DD or ISO 8601, read in --tz; a bare --to is the
whole day), one row per entity, with the workspace's privacy settings.

`
}

// wrap fills text into lines of at most width.
func wrap(text string, width int) string {
	var b strings.Builder
	n := 0
	for _, w := range strings.Fields(text) {
		switch {
		case n == 0:
		case n+1+len(w) > width:
			b.WriteByte('\n')
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}

func exportCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("export", env)
	fs.Usage = func() { fmt.Fprint(env.Stderr, exportUsage()); fs.PrintDefaults() }
	var d dataFlags
	d.register(fs)
	workspace := fs.String("workspace", usage.DefaultWorkspace, "workspace to export")
	out := fs.String("out", "", "file to write (- for standard output)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	server := fs.String("server", "", "URL of a running usagelog: run the export as a job there and download the file")
	token := fs.String("token", "", "key with the report's scope, with --server")
	// Each filter flag is passed on as the query parameter of the same
	// name, so the CLI and the API validate filters in one place.
	// The flags are the parameters the reports declare (export.Report's
	// Params), and format.
	single := []string{"format"}
	var repeated []string
	for _, rep := range export.Catalogue {
		for _, p := range rep.Params {
			name := strings.ReplaceAll(p.Name, "_", "-")
			if slices.Contains(single, name) || slices.Contains(repeated, name) {
				continue
			}
			if p.Repeat {
				repeated = append(repeated, name)
			} else {
				single = append(single, name)
			}
		}
	}
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
	report, err := export.LookupReport(pos[0])
	if err != nil {
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
	return exportLocal(ctx, env, d, *workspace, report, q, *out, *quiet)
}

// exportLocal runs report from the local stores, with no row limit or range
// bound, into out.
func exportLocal(ctx context.Context, env Env, d dataFlags, workspace string, report export.Report, q url.Values, out string, quiet bool) error {
	st, ws, err := d.openWorkspace(ctx, workspace)
	if err != nil {
		return err
	}
	defer st.close()
	defer exportGC()()
	settings, err := st.meta.Settings(ctx, ws.ID)
	if err != nil {
		return err
	}
	tz := cmp.Or(q.Get("tz"), settings.Timezone, "UTC")
	loc, err := usage.LoadLocation(tz)
	if err != nil {
		return usagef("export %s: --tz: %s", report.Name, usage.ErrorMessage(err))
	}
	secret, err := st.serverSecret(ctx, d.data, env.Getenv("USAGELOG_SECRET"))
	if err != nil {
		return err
	}
	filters := export.QueryFilters(q)
	job := export.Job{
		Events: st.events, Workspace: ws, Privacy: usage.NewPrivacy(settings, secret, ws.ID),
		Filters: filters, Format: q.Get("format"), Timezone: tz, Loc: loc,
		Now: time.Now(), MaxRangeDays: -1, Names: flagName,
	}
	progress := func(int64, int64) {}
	if !quiet && report.Fields != nil { // the usage-reports zip shows no rows
		bar := newProgressBar(env, report.Name, -1, "rows")
		job.Scanned = func(n int) { bar.Describe(fmt.Sprintf("%s: read %d events", report.Name, n)) }
		progress = rowProgress(bar)
	}
	run, err := report.Plan(job)
	if err != nil {
		return usagef("export %s: %s", report.Name, usage.ErrorMessage(err))
	}
	start := time.Now()
	write, err := run.Start(ctx, progress)
	if err != nil {
		return err
	}
	n, size, err := writeExport(ctx, out, env, write)
	if err != nil {
		return err
	}
	progress(int64(n), int64(n)) // an estimate may have been over
	if out == "-" {
		return nil
	}
	took := time.Since(start).Round(time.Millisecond)
	if report.Fields == nil {
		fmt.Fprintf(env.Stderr, "wrote the %s (%d bytes) to %s in %s\n", strings.ToLower(report.Title), size, out, took)
		return nil
	}
	fmt.Fprintf(env.Stderr, "wrote %d %s rows (%s, %d bytes) to %s in %s\n", n, report.Name, run.Format, size, out, took)
	return nil
}

// flagName spells a report parameter as the flag that gives it.
func flagName(param string) string {
	if param == "timezone" {
		return "--tz"
	}
	return "--" + strings.ReplaceAll(param, "_", "-")
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

// rowProgress moves bar to written rows of total (-1 while unknown: a
// spinner).
func rowProgress(bar *progressbar.ProgressBar) func(written, total int64) {
	shown := int64(-1)
	return func(written, total int64) {
		if total != shown && total >= 0 {
			bar.ChangeMax64(total)
			if shown < 0 {
				// As a spinner the bar counted modulo its width: from
				// zero again, Set64 counts every row written.
				bar.Reset()
			}
			shown = total
		}
		bar.Set64(written)
	}
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
