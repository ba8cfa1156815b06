package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

func workspacesCmd() subcommandGroup {
	return subcommandGroup{command: "workspaces", subs: []subcommand{
		{name: "create", arg: "NAME",
			run: func(ctx context.Context, c *local) error {
				if err := usage.ValidateWorkspaceName(c.arg); err != nil {
					return usagef("%s", usage.ErrorMessage(err))
				}
				ws, err := c.st.meta.CreateWorkspace(ctx, c.arg)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.env.Stdout, "%d\t%s\n", ws.ID, ws.Name)
				return nil
			}},
		{name: "list",
			run: func(ctx context.Context, c *local) error {
				all, err := c.st.meta.Workspaces(ctx)
				if err != nil {
					return err
				}
				for _, ws := range all {
					fmt.Fprintf(c.env.Stdout, "%d\t%s\t%s\n", ws.ID, ws.Name, ws.CreatedAt.Format(time.RFC3339))
				}
				return nil
			}},
	}}
}

func keysCmd() subcommandGroup {
	var name string
	var scopes stringList
	var parsed []usage.Scope
	return subcommandGroup{command: "keys", workspace: "workspace of the key", subs: []subcommand{
		{name: "create",
			flags: func(fs *flagSet) {
				fs.StringVar(&name, "name", "", "name of the key, shown in the API log as its client")
				fs.Var(&scopes, "scope", "scope of the key, repeatable: "+scopeNames())
			},
			check: func() error {
				if strings.TrimSpace(name) == "" {
					return usage.Errorf(usage.EInvalid, "--name is required")
				}
				if len(scopes) == 0 {
					return usage.Errorf(usage.EInvalid, "at least one --scope is required (%s)", scopeNames())
				}
				for _, s := range scopes {
					for _, part := range strings.Split(s, ",") {
						sc, err := usage.ParseScope(strings.TrimSpace(part))
						if err != nil {
							return err
						}
						parsed = append(parsed, sc)
					}
				}
				return nil
			},
			run: func(ctx context.Context, c *local) error {
				token, key, err := usage.NewKey(c.ws.ID, name, parsed, time.Now())
				if err != nil {
					return usagef("keys create: %s", usage.ErrorMessage(err))
				}
				return createAudited(ctx, c.st.meta, c.env, c.ws.ID, func(ctx context.Context) error { return c.st.meta.CreateKey(ctx, key) },
					usage.AuditKeyCreate, key.ID, map[string]any{"name": key.Name, "scopes": key.Scopes},
					token, fmt.Sprintf("key %s in workspace %s", key.ID, c.ws.Name))
			}},
		{name: "list", run: listKeys},
		{name: "revoke", arg: "key ID (see 'usagelog keys list')",
			run: func(ctx context.Context, c *local) error {
				if err := c.st.meta.RevokeKey(ctx, c.ws.ID, c.arg, time.Now()); err != nil {
					if usage.ErrorCode(err) == usage.ENotFound {
						return fmt.Errorf("key %q not found in workspace %s", c.arg, c.ws.Name)
					}
					return err
				}
				if err := auditLocal(ctx, c.st.meta, c.env, c.ws.ID, usage.AuditKeyRevoke, c.arg, nil); err != nil {
					return err
				}
				fmt.Fprintf(c.env.Stderr, "revoked key %s\n", c.arg)
				return nil
			}},
	}}
}

func listKeys(ctx context.Context, c *local) error {
	all, err := c.st.meta.Keys(ctx, c.ws.ID)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.env.Stdout, 0, 4, 2, ' ', 0)
	for _, k := range all {
		scopes := make([]string, len(k.Scopes))
		for i, s := range k.Scopes {
			scopes[i] = string(s)
		}
		last := "never"
		if !k.LastUsedAt.IsZero() {
			last = k.LastUsedAt.Format(time.RFC3339)
		}
		state := "active"
		if k.Revoked() {
			state = "revoked " + k.RevokedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\tlast used %s\t%s\n", k.ID, k.Name, strings.Join(scopes, ","), last, state)
	}
	return tw.Flush()
}

func scopeNames() string {
	names := make([]string, len(usage.AllScopes))
	for i, s := range usage.AllScopes {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}
