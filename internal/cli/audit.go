package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/usagelog/usagelog/internal/audit"
	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/usage"
)

// cliActor is the CLI on a local store, as the audit log names it: the
// operating system's user, where it says one.
func cliActor(env Env) usage.Actor {
	name := "usagelog CLI"
	if u := env.Getenv("USER"); u != "" {
		name += " (" + u + ")"
	}
	return usage.Actor{Type: usage.ActorSystem, ID: "cli", Name: name}
}

// auditLocal records what a CLI command did to the local store, at once:
// the command is short-lived and already needs the store.
func auditLocal(ctx context.Context, meta usage.AuditStore, env Env, ws int64, action, target string, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	err := meta.AppendAudit(ctx, []usage.AuditEntry{{ID: usage.RandomID("aud_", 10), WorkspaceID: ws, Time: usage.TruncateMS(time.Now()),
		Actor: cliActor(env), Action: action, Target: target, Details: details}})
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// createAudited stores something made by a command (a key, a client, a
// member) with store, records action on target in the audit log, and
// prints secret, when there is one, on standard output: the only time it
// is shown. made says on standard error what was made.
func createAudited(ctx context.Context, meta usage.AuditStore, env Env, ws int64, store func(context.Context) error,
	action, target string, details map[string]any, secret, made string) error {
	if err := store(ctx); err != nil {
		return err
	}
	if err := auditLocal(ctx, meta, env, ws, action, target, details); err != nil {
		return err
	}
	if secret == "" {
		fmt.Fprintf(env.Stderr, "created %s\n", made)
		return nil
	}
	fmt.Fprintln(env.Stdout, secret)
	fmt.Fprintf(env.Stderr, "created %s; the %s above is shown once\n", made, secretName(action))
	return nil
}

// secretName is what the secret of a made thing is called.
func secretName(action string) string {
	if action == usage.AuditMemberCreate {
		return "password"
	}
	return "token"
}

const auditUsage = `usage: usagelog audit [--workspace NAME] [--action A] [--from D] [--to D] [--format csv|json]

Prints the workspace's audit log, newest first: who (a key, a member or
usagelog itself) did what, to what, from which address, with the details.
--from and --to take RFC 3339 times or dates (UTC; --to's whole day).
--format csv (the default) has the console's download columns; json
prints one entry a line.

`

func auditCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("audit", env)
	fs.Usage = func() { fmt.Fprint(env.Stderr, auditUsage); fs.PrintDefaults() }
	var d dataFlags
	d.register(fs)
	workspace := fs.String("workspace", usage.DefaultWorkspace, "workspace whose log to print")
	action := fs.String("action", "", "only this action (key.create, export.create, …)")
	from := fs.String("from", "", "entries from this time or date")
	to := fs.String("to", "", "entries before this time, or up to this date")
	format := fs.String("format", "csv", "csv or json")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("audit: unexpected argument %q", pos[0])
	}
	if *format != "csv" && *format != "json" {
		return usagef("audit: unknown --format %q (want csv or json)", *format)
	}
	v := url.Values{}
	for k, s := range map[string]string{"action": *action, "from": *from, "to": *to} {
		if s != "" {
			v.Set(k, s)
		}
	}
	q, err := usage.ParseAuditQuery(v)
	if err != nil {
		return usagef("audit: --%s", usage.ErrorMessage(err))
	}
	q.Limit = 1000
	st, ws, err := d.openWorkspace(ctx, *workspace)
	if err != nil {
		return err
	}
	defer st.close()
	cw := export.NewCSV(env.Stdout)
	enc := json.NewEncoder(env.Stdout)
	if *format == "csv" {
		if err := cw.WriteHeader(audit.Fields); err != nil {
			return err
		}
	}
	for {
		entries, err := st.meta.Audit(ctx, ws.ID, q)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if *format == "csv" {
				err = cw.WriteRow(audit.Values(e))
			} else {
				err = enc.Encode(e)
			}
			if err != nil {
				return err
			}
		}
		if len(entries) < q.Limit {
			break
		}
		last := entries[len(entries)-1]
		q.After = &usage.Cursor{TimeMS: last.Time.UnixMilli(), ID: last.ID}
	}
	if *format == "csv" {
		return cw.Close()
	}
	return nil
}
