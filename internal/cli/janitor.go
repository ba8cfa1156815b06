package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/usagelog/usagelog/internal/audit"
	"github.com/usagelog/usagelog/internal/retention"
	"github.com/usagelog/usagelog/internal/usage"
)

const janitorUsage = `usage: usagelog janitor [--data DIR | --events DSN --meta DSN] [--audit-retention-days 400]

Runs one retention pass now, as serve does every --janitor-every: in every
workspace that keeps its events a number of days (its retention_days
setting), removes the events from before the oldest UTC day it keeps, with
their summaries; then the audit entries older than --audit-retention-days.
Prints what it removed. (Export files are swept by serve.)

`

func janitorCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("janitor", env)
	fs.Usage = func() { fmt.Fprint(env.Stderr, janitorUsage); fs.PrintDefaults() }
	var d dataFlags
	d.register(fs)
	auditDays := fs.Int("audit-retention-days", 400, "how long audit log entries are kept")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("janitor: unexpected argument %q", pos[0])
	}
	if *auditDays < 1 {
		return usagef("janitor: --audit-retention-days must be positive")
	}
	st, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer st.close()
	log, err := audit.New(audit.Config{Store: st.meta})
	if err != nil {
		return err
	}
	j := &retention.Janitor{Events: st.events, Meta: st.meta, Audit: log, AuditRetention: time.Duration(*auditDays) * 24 * time.Hour}
	purged, audits, err := j.Pass(ctx)
	log.Close()
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKSPACE\tBEFORE\tEVENTS REMOVED")
	for _, p := range purged {
		fmt.Fprintf(tw, "%s\t%s\t%d\n", p.Workspace.Name, p.Before.Format(time.DateOnly), p.Events)
	}
	tw.Flush()
	fmt.Fprintf(env.Stdout, "audit entries removed: %d\n", audits)
	return err
}

const settingsUsage = `usage: usagelog settings [--workspace NAME] [--retention-days N] [--timezone ZONE]

Prints the workspace's settings; a flag changes that setting first.
--retention-days 0 keeps events forever (the default); otherwise the
janitor removes events older than that many days.

`

func settingsCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("settings", env)
	fs.Usage = func() { fmt.Fprint(env.Stderr, settingsUsage); fs.PrintDefaults() }
	var d dataFlags
	d.register(fs)
	workspace := fs.String("workspace", usage.DefaultWorkspace, "workspace whose settings to print or change")
	days := fs.Int("retention-days", -1, "keep events this many days (0: forever)")
	zone := fs.String("timezone", "", "the workspace's timezone (IANA name)")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("settings: unexpected argument %q", pos[0])
	}
	if *days > usage.MaxRetentionDays || (*days < 0 && *days != -1) {
		return usagef("settings: --retention-days %d is out of range (0 keeps events forever, else 1 to %d)", *days, usage.MaxRetentionDays)
	}
	if *zone != "" {
		if _, err := usage.LoadLocation(*zone); err != nil {
			return usagef("settings: --timezone: %s", usage.ErrorMessage(err))
		}
	}
	st, ws, err := d.openWorkspace(ctx, *workspace)
	if err != nil {
		return err
	}
	defer st.close()
	before, err := st.meta.Settings(ctx, ws.ID)
	if err != nil {
		return err
	}
	after := before
	if *days >= 0 {
		after.RetentionDays = *days
	}
	if *zone != "" {
		after.Timezone = *zone
	}
	if after != before {
		if err := st.meta.SaveSettings(ctx, ws.ID, after); err != nil {
			return err
		}
		if err := auditLocal(ctx, st.meta, env, ws.ID, usage.AuditSettingsUpdate, "settings", usage.SettingsChanges(before, after)); err != nil {
			return err
		}
	}
	keep := "forever"
	if after.RetentionDays > 0 {
		keep = fmt.Sprintf("%d days", after.RetentionDays)
	}
	fmt.Fprintf(env.Stdout, "workspace\t%s\ntimezone\t%s\nkeep events\t%s\nanonymize users\t%v\nanonymize IPs\t%v\nexport row limit\t%d\n",
		ws.Name, after.Timezone, keep, after.AnonymizeUsers, after.AnonymizeIPs, after.ExportRowLimit)
	return nil
}
