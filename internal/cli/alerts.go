package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/usagelog/usagelog/internal/alerts"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
	"github.com/usagelog/usagelog/internal/webhook"
)

// alertsCmd is usagelog alerts: the rules of POST /api/v1/alerts from the
// command line, and test, which measures a rule now and prints what it
// would send.
func alertsCmd() subcommandGroup {
	var in alerts.Input
	var threshold, enabled string
	var filters, emails, webhookAllow stringList
	var publicURL string
	return subcommandGroup{command: "alerts", workspace: "workspace of the rule", subs: []subcommand{
		{name: "create",
			flags: func(fs *flagSet) {
				fs.StringVar(&in.Name, "name", "", "name of the rule, in its messages")
				fs.StringVar(&in.Metric, "metric", "", "calls, errors, error_rate, p95_ms, status or silence")
				fs.StringVar(&in.Op, "op", ">", ">, >=, < or <=")
				fs.StringVar(&threshold, "threshold", "", "the value the metric is compared with (an error rate from 0 to 1)")
				fs.StringVar(&in.Window, "window", "15m", "the span measured, 5m to 7d")
				fs.Var(&filters, "filter", "a log filter NAME=VALUE, repeatable (collection=Orders, status_class=5xx)")
				fs.Int64Var(&in.MinCalls, "min-calls", 0, "fewer calls in the window than this: no data, not a value")
				fs.StringVar(&in.Notify.Webhook, "webhook", "", "URL the messages are posted to, signed")
				fs.StringVar(&in.Notify.Format, "format", "json", "json or slack (a Slack incoming webhook's {\"text\": …})")
				fs.Var(&webhookAllow, "webhook-allow", "network (CIDR) or address the webhook may go to although it is not public, repeatable (as serve's)")
				fs.Var(&emails, "email", "address the messages are mailed to (serve --smtp), repeatable")
				fs.StringVar(&in.Renotify, "renotify", "", "how often a firing rule notifies again (5m to 7d); empty: once")
				fs.StringVar(&enabled, "enabled", "true", "false: kept, not measured")
			},
			check: func() error {
				if threshold != "" {
					t, err := strconv.ParseFloat(threshold, 64)
					if err != nil {
						return usage.Errorf(usage.EInvalid, "--threshold: %q is not a number", threshold)
					}
					in.Threshold = &t
				}
				on, err := strconv.ParseBool(enabled)
				if err != nil {
					return usage.Errorf(usage.EInvalid, "--enabled: %q is not true or false", enabled)
				}
				in.Enabled = &on
				in.Filters = map[string][]string{}
				for _, f := range filters {
					k, v, ok := strings.Cut(f, "=")
					if !ok || k == "" {
						return usage.Errorf(usage.EInvalid, "--filter: %q is not NAME=VALUE", f)
					}
					in.Filters[k] = append(in.Filters[k], v)
				}
				in.Notify.Email = emails
				_, err = in.Rule()
				return err
			},
			run: func(ctx context.Context, c *local) error {
				r, err := in.Rule()
				if err != nil {
					return err
				}
				// The target is checked as the API checks it: serve refuses
				// to post where this policy does not let it.
				allow, err := webhook.ParseAllow(webhookAllow)
				if err != nil {
					return usage.Errorf(usage.EInvalid, "%s", err)
				}
				if r.Notify.Webhook != "" {
					if err := (webhook.Policy{Allow: allow}).CheckField(ctx, "--webhook", r.Notify.Webhook); err != nil {
						return err
					}
				}
				r.ID, r.WorkspaceID = usage.RandomID("al_", 10), c.ws.ID
				secret := usage.RandomID("whsec_", 24)
				if err := c.st.alerts.CreateAlert(ctx, &r, secret, time.Now()); err != nil {
					return err
				}
				if err := auditLocal(ctx, c.st.meta, c.env, c.ws.ID, usage.AuditAlertCreate, r.ID, r.AuditDetails()); err != nil {
					return err
				}
				fmt.Fprintf(c.env.Stdout, "created alert %s %q\n", r.ID, r.Name)
				if r.Notify.Webhook != "" {
					fmt.Fprintf(c.env.Stdout, "webhook secret (shown once): %s\n", secret)
				}
				return nil
			}},
		{name: "list", run: listAlerts},
		{name: "delete", arg: "ID",
			run: func(ctx context.Context, c *local) error {
				if err := c.st.alerts.DeleteAlert(ctx, c.ws.ID, c.arg); err != nil {
					return err
				}
				if err := auditLocal(ctx, c.st.meta, c.env, c.ws.ID, usage.AuditAlertDelete, c.arg, nil); err != nil {
					return err
				}
				fmt.Fprintf(c.env.Stdout, "deleted alert %s\n", c.arg)
				return nil
			}},
		{name: "test", arg: "ID",
			flags: func(fs *flagSet) {
				fs.StringVar(&publicURL, "public-url", "http://127.0.0.1:8080", "the server's address, for the logs link")
			},
			run: func(ctx context.Context, c *local) error {
				e, err := c.st.alerts.Alert(ctx, c.ws.ID, c.arg)
				if err != nil {
					return err
				}
				r := &alerts.Runner{Summaries: &summary.Service{Rollups: c.st.events, Events: c.st.events}, BaseURL: publicURL, Log: slog.New(slog.DiscardHandler)}
				prev := e.Status.State
				m, err := r.Measure(ctx, &e, time.Now())
				if err != nil {
					return err
				}
				now, would := string(m.Status.State), "this would be sent"
				if prev == m.Status.State {
					now += ", as it was"
				} else {
					now += ", was " + string(prev)
				}
				if m.Notice == alerts.NoNotice {
					would = "nothing would be sent; this is what it measured"
				}
				fmt.Fprintf(c.env.Stdout, "%s: %s.\n\n", now, would)
				fmt.Fprint(c.env.Stdout, m.Text())
				return nil
			}},
	}}
}

func listAlerts(ctx context.Context, c *local) error {
	rules, err := c.st.alerts.Alerts(ctx, c.ws.ID)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tMETRIC\tWINDOW\tSTATE\tLAST VALUE")
	for _, e := range rules {
		state, last := string(e.Status.State), "-"
		if !e.Enabled {
			state = "disabled"
		}
		if !e.Last.At.IsZero() {
			last = (&alerts.Message{Rule: &e.Rule, M: e.Last}).Value()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Name, e.Metric, alerts.FormatSpan(e.Window), state, last)
	}
	return tw.Flush()
}
