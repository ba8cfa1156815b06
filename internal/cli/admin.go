package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

func workspaces(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		return usagef("workspaces: want 'create NAME' or 'list'")
	}
	fs := newFlagSet("workspaces "+args[0], env)
	var d dataFlags
	d.register(fs)
	pos, err := fs.parse(args[1:])
	if err != nil {
		return err
	}
	switch args[0] {
	case "create":
		if len(pos) != 1 {
			return usagef("workspaces create: want one NAME")
		}
		if err := usage.ValidateWorkspaceName(pos[0]); err != nil {
			return usagef("%s", usage.ErrorMessage(err))
		}
		st, err := d.open(ctx)
		if err != nil {
			return err
		}
		defer st.close()
		ws, err := st.meta.CreateWorkspace(ctx, pos[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%d\t%s\n", ws.ID, ws.Name)
		return nil
	case "list":
		if len(pos) != 0 {
			return usagef("workspaces list: takes no arguments")
		}
		st, err := d.open(ctx)
		if err != nil {
			return err
		}
		defer st.close()
		all, err := st.meta.Workspaces(ctx)
		if err != nil {
			return err
		}
		for _, ws := range all {
			fmt.Fprintf(env.Stdout, "%d\t%s\t%s\n", ws.ID, ws.Name, ws.CreatedAt.Format(time.RFC3339))
		}
		return nil
	}
	return usagef("workspaces: unknown subcommand %q (want create or list)", args[0])
}

func keys(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		return usagef("keys: want create, list or revoke")
	}
	sub := args[0]
	fs := newFlagSet("keys "+sub, env)
	var d dataFlags
	d.register(fs)
	workspace := fs.String("workspace", usage.DefaultWorkspace, "workspace of the key")
	var name string
	var scopes stringList
	if sub == "create" {
		fs.StringVar(&name, "name", "", "name of the key, shown in the API log as its client")
		fs.Var(&scopes, "scope", "scope of the key, repeatable: "+scopeNames())
	}
	pos, err := fs.parse(args[1:])
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		if len(pos) != 0 {
			return usagef("keys create: unexpected argument %q", pos[0])
		}
		if strings.TrimSpace(name) == "" {
			return usagef("keys create: --name is required")
		}
		if len(scopes) == 0 {
			return usagef("keys create: at least one --scope is required (%s)", scopeNames())
		}
		var parsed []usage.Scope
		for _, s := range scopes {
			for _, part := range strings.Split(s, ",") {
				sc, err := usage.ParseScope(strings.TrimSpace(part))
				if err != nil {
					return usagef("keys create: %s", usage.ErrorMessage(err))
				}
				parsed = append(parsed, sc)
			}
		}
		st, ws, err := d.openWorkspace(ctx, *workspace)
		if err != nil {
			return err
		}
		defer st.close()
		token, key, err := usage.NewKey(ws.ID, name, parsed, time.Now())
		if err != nil {
			return usagef("keys create: %s", usage.ErrorMessage(err))
		}
		return createAudited(ctx, st.meta, env, ws.ID, func(ctx context.Context) error { return st.meta.CreateKey(ctx, key) },
			usage.AuditKeyCreate, key.ID, map[string]any{"name": key.Name, "scopes": key.Scopes},
			token, fmt.Sprintf("key %s in workspace %s", key.ID, ws.Name))
	case "list":
		st, ws, err := d.openWorkspace(ctx, *workspace)
		if err != nil {
			return err
		}
		defer st.close()
		all, err := st.meta.Keys(ctx, ws.ID)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
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
	case "revoke":
		if len(pos) != 1 {
			return usagef("keys revoke: want one key ID (see 'usagelog keys list')")
		}
		st, ws, err := d.openWorkspace(ctx, *workspace)
		if err != nil {
			return err
		}
		defer st.close()
		if err := st.meta.RevokeKey(ctx, ws.ID, pos[0], time.Now()); err != nil {
			if usage.ErrorCode(err) == usage.ENotFound {
				return fmt.Errorf("key %q not found in workspace %s", pos[0], ws.Name)
			}
			return err
		}
		if err := auditLocal(ctx, st.meta, env, ws.ID, usage.AuditKeyRevoke, pos[0], nil); err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "revoked key %s\n", pos[0])
		return nil
	}
	return usagef("keys: unknown subcommand %q (want create, list or revoke)", sub)
}

func scopeNames() string {
	names := make([]string, len(usage.AllScopes))
	for i, s := range usage.AllScopes {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}
