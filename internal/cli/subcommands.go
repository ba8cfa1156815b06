package cli

import (
	"context"
	"strings"

	"github.com/usagelog/usagelog/internal/usage"
)

// subcommand is one verb of a command that works on the local stores
// (workspaces create, keys revoke, …). runSubcommand parses its flags,
// checks its positional arguments, opens the stores and the workspace, and
// closes them after run: each subcommand writes only what it does.
type subcommand struct {
	name string
	// arg names the one positional argument the subcommand takes ("NAME",
	// "ID"); empty: it takes none.
	arg string
	// flags registers the subcommand's own flags (nil: none).
	flags func(fs *flagSet)
	// check validates the flags before any store is opened, so that a
	// usage error never creates a data directory (nil: nothing to check).
	check func() error
	run   func(ctx context.Context, c *local) error
}

// local is what a subcommand's run is given.
type local struct {
	st  *stores
	ws  usage.Workspace
	arg string // the positional argument, when the subcommand takes one
	env Env
}

// subcommandGroup is a command made of subcommands. workspace is the help
// of its --workspace flag; empty for a group that works on every
// workspace (workspaces itself).
type subcommandGroup struct {
	command   string
	workspace string
	subs      []subcommand
}

func (g subcommandGroup) names() string {
	names := make([]string, len(g.subs))
	for i, s := range g.subs {
		names[i] = s.name
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func (g subcommandGroup) run(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		return usagef("%s: want %s", g.command, g.names())
	}
	var sub *subcommand
	for i := range g.subs {
		if g.subs[i].name == args[0] {
			sub = &g.subs[i]
		}
	}
	if sub == nil {
		return usagef("%s: unknown subcommand %q (want %s)", g.command, args[0], g.names())
	}
	name := g.command + " " + sub.name
	fs := newFlagSet(name, env)
	var d dataFlags
	d.register(fs)
	var workspace *string
	if g.workspace != "" {
		workspace = fs.String("workspace", usage.DefaultWorkspace, g.workspace)
	}
	if sub.flags != nil {
		sub.flags(fs)
	}
	pos, err := fs.parse(args[1:])
	if err != nil {
		return err
	}
	c := &local{env: env}
	switch {
	case sub.arg == "" && len(pos) > 0:
		return usagef("%s: unexpected argument %q", name, pos[0])
	case sub.arg != "" && len(pos) != 1:
		return usagef("%s: want one %s", name, sub.arg)
	case sub.arg != "":
		c.arg = pos[0]
	}
	if sub.check != nil {
		if err := sub.check(); err != nil {
			return usagef("%s: %s", name, usage.ErrorMessage(err))
		}
	}
	if workspace == nil {
		c.st, err = d.open(ctx)
	} else {
		c.st, c.ws, err = d.openWorkspace(ctx, *workspace)
	}
	if err != nil {
		return err
	}
	defer c.st.close()
	return sub.run(ctx, c)
}
