package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/usagelog/usagelog/internal/httpapi"
	"github.com/usagelog/usagelog/internal/usage"
)

const schedulesUsage = `usage: usagelog schedules create --server URL --token T --name NAME --report REPORT
           [--format F] [--filter NAME=VALUE …] [--range previous_day|previous_week|previous_month|none]
           --every daily|weekly|monthly [--at HH:MM] [--weekday monday] [--day 1] [--tz ZONE]
           [--retention-days N] [--webhook URL]
       usagelog schedules list --server URL --token T
       usagelog schedules delete --server URL --token T ID

Schedules run on the server: at each run it queues an export job of the
report covering the range before the run (in --tz), keeps the file for
--retention-days (default 30), and posts the finished job's JSON to
--webhook, signed in the X-Usagelog-Signature header with the secret that
create prints once.

`

func schedules(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, schedulesUsage)
		return usagef("schedules: want create, list or delete")
	}
	sub := args[0]
	fs := newFlagSet("schedules "+sub, env)
	fs.Usage = func() { fmt.Fprint(env.Stderr, schedulesUsage); fs.PrintDefaults() }
	server := fs.String("server", "", "URL of the usagelog server that runs the schedules")
	token := fs.String("token", "", "key with the scope of the schedule's report")
	var body httpapi.ScheduleRequest
	var filters stringList
	if sub == "create" {
		fs.StringVar(&body.Name, "name", "", "name of the schedule")
		fs.StringVar(&body.Report, "report", "", "report: api-logs, api-usage, users, …, usage-reports")
		fs.StringVar(&body.Format, "format", "", "csv, xlsx, json, ndjson (zip for usage-reports)")
		fs.Var(&filters, "filter", "a filter of the report as NAME=VALUE (e.g. status_class=5xx), repeatable")
		fs.StringVar(&body.Range, "range", "previous_day", "period before each run: previous_day, previous_week, previous_month or none")
		fs.StringVar(&body.Cadence.Every, "every", "", "daily, weekly or monthly")
		fs.StringVar(&body.Cadence.At, "at", "00:00", "time of day of each run, HH:MM")
		fs.StringVar(&body.Cadence.Weekday, "weekday", "", "day of a weekly run (default monday)")
		fs.IntVar(&body.Cadence.Day, "day", 0, "day of the month of a monthly run, 1–28 (default 1)")
		fs.StringVar(&body.Cadence.Timezone, "tz", "UTC", "IANA timezone of the cadence, the range and the written times")
		fs.IntVar(&body.RetentionDays, "retention-days", 0, "days each run's file is kept (default 30)")
		fs.StringVar(&body.WebhookURL, "webhook", "", "URL that receives each finished job's JSON")
	}
	pos, err := fs.parse(args[1:])
	if err != nil {
		return err
	}
	if *server == "" {
		return usagef("schedules %s: --server URL is required (schedules run on a server)", sub)
	}
	c, err := newAPIClient(*server, *token)
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		if len(pos) != 0 {
			return usagef("schedules create: unexpected argument %q", pos[0])
		}
		body.Filters = usage.FilterValues{}
		for _, f := range filters {
			k, v, ok := strings.Cut(f, "=")
			if !ok || k == "" {
				return usagef("schedules create: --filter %q: want NAME=VALUE", f)
			}
			body.Filters[k] = append(body.Filters[k], v)
		}
		var sc struct {
			usage.Schedule
			WebhookSecret string `json:"webhookSecret"`
		}
		if err := c.call(ctx, http.MethodPost, "/api/v1/schedules", body, &sc); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s\n", sc.ID)
		fmt.Fprintf(env.Stderr, "schedule %q: next run %s\n", sc.Name, sc.NextRun.Format(time.RFC3339))
		if sc.WebhookSecret != "" {
			fmt.Fprintf(env.Stderr, "webhook secret (shown once): %s\n", sc.WebhookSecret)
		}
		return nil
	case "list":
		var list struct{ Items []usage.Schedule }
		if err := c.call(ctx, http.MethodGet, "/api/v1/schedules", nil, &list); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tREPORT\tRANGE\tCADENCE\tNEXT RUN\tLAST JOB")
		for _, sc := range list.Items {
			cad := sc.Cadence.Every + " " + sc.Cadence.At + " " + sc.Cadence.Timezone
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", sc.ID, sc.Name, sc.Spec.Report, sc.Range, cad, sc.NextRun.Format(time.RFC3339), sc.LastJobID)
		}
		return tw.Flush()
	case "delete":
		if len(pos) != 1 {
			return usagef("schedules delete: want one ID")
		}
		return c.call(ctx, http.MethodDelete, "/api/v1/schedules/"+url.PathEscape(pos[0]), nil, nil)
	}
	return usagef("schedules: unknown subcommand %q (want create, list or delete)", sub)
}
