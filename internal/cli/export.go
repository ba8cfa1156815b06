package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/usage"
)

const exportUsage = `usage: usagelog export api-logs|api-usage [filters] [--format csv|xlsx|json|ndjson] --out FILE

Writes a report of the workspace's API calls from the local store. Filters
are those of GET /api/v1/logs: --from/--to (RFC 3339 or YYYY-MM-DD in --tz)
or --period 1h|24h|7d|30d|90d, --status, --status-class, --client,
--collection, --collection-type, --community, --usage-type, and for
api-usage --type all|mcp|other. --tz (default: the workspace's timezone)
changes the times written, never the rows selected. The format defaults to
the extension of --out. A progress bar goes to stderr.

`

func exportCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("export", env)
	fs.Usage = func() { fmt.Fprint(env.Stderr, exportUsage); fs.PrintDefaults() }
	var d dataFlags
	d.register(fs)
	workspace := fs.String("workspace", usage.DefaultWorkspace, "workspace to export")
	out := fs.String("out", "", "file to write (- for standard output)")
	quiet := fs.Bool("quiet", false, "no progress bar")
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
		return usagef("export: name one report: api-logs or api-usage")
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

	st, ws, err := d.openWorkspace(ctx, *workspace)
	if err != nil {
		return err
	}
	defer st.close()
	scanner, ok := st.events.(usage.LogScanner)
	if !ok {
		return fmt.Errorf("export: the events store cannot stream exports")
	}
	settings, err := st.meta.Settings(ctx, ws.ID)
	if err != nil {
		return err
	}
	loc := time.UTC
	if settings.Timezone != "" {
		if loc, err = usage.LoadLocation(settings.Timezone); err != nil {
			return fmt.Errorf("workspace timezone: %w", err)
		}
	}
	lr, err := export.ParseLogRequest(pos[0], q, time.Now(), loc)
	if err != nil {
		return usagef("export: %s", usage.ErrorMessage(err))
	}
	total, err := lr.Count(ctx, scanner, ws.ID, 0)
	if err != nil {
		return err
	}

	var progress func(int)
	if !*quiet {
		bar := progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(env.Stderr),
			progressbar.OptionSetDescription(lr.Report.Name),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("rows"),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(env.Stderr) }),
		)
		progress = func(n int) { bar.Set64(int64(n)) }
	}

	start := time.Now()
	n, size, err := writeExport(ctx, *out, env, func(f io.Writer) (int, error) {
		return lr.Run(ctx, scanner, ws.ID, export.NewWriter(lr.Format, f, lr.Report.Name), progress)
	})
	if err != nil {
		return err
	}
	if *out != "-" {
		fmt.Fprintf(env.Stderr, "wrote %d rows (%s, %d bytes) to %s in %s\n", n, lr.Format, size, *out, time.Since(start).Round(time.Millisecond))
	}
	return nil
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
