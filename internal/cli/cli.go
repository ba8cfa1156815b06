// Package cli implements the usagelog command: its subcommands, their flags
// and USAGELOG_* environment variables, and the wiring of stores to servers.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/usagelog/usagelog/internal/buildinfo"
)

// Env is what a command sees of its process, so tests can run the real
// program in-process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// flagSets, when set, is shown each flag set a command makes
	// (completion lists their flags).
	flagSets func(*flag.FlagSet)
}

// OSEnv is the process's own environment.
func OSEnv() Env {
	return Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}

// Exit codes of the CLI contract.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// usageError is bad usage: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// command is one of usagelog's commands: the top-level usage lists them
// in this order, and run dispatches through them.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, env Env) error
	// group makes the command's subcommands, for a command made of them
	// (run is then nil).
	group func() subcommandGroup
	// words are what completion offers after the command when it is not a
	// group.
	words []string
}

func (c command) subcommands() []string {
	if c.group == nil {
		return c.words
	}
	var names []string
	for _, s := range c.group().subs {
		names = append(names, s.name)
	}
	return names
}

func commands() []command {
	return []command{
		{name: "serve", summary: "run the HTTP API", run: serve},
		{name: "workspaces", summary: "create or list workspaces", group: workspacesCmd},
		{name: "keys", summary: "create, list or revoke API keys", group: keysCmd},
		{name: "members", summary: "create console members", group: membersCmd},
		{name: "ingest", summary: "load events from NDJSON, JSON or CSV files", run: ingestCmd},
		{name: "export", summary: "write a report to a file (locally, or as a job of a server)", run: exportCmd},
		{name: "schedules", summary: "create, list or delete a server's scheduled exports", run: schedules, words: []string{"create", "list", "delete"}},
		{name: "collections", summary: "create, list, activate or deactivate the gateway's API collections", group: collectionsCmd},
		{name: "clients", summary: "create, list or revoke gateway clients (the token is printed alone)", group: clientsCmd},
		{name: "alerts", summary: "create, list, delete or test alert rules (test prints what a rule would send now)", group: alertsCmd},
		{name: "gateway", summary: "run the recording API gateway in front of an API", run: gatewayCmd},
		{name: "audit", summary: "print a workspace's audit log (who did what)", run: auditCmd},
		{name: "settings", summary: "print or change a workspace's settings (retention, timezone)", run: settingsCmd},
		{name: "redaction", summary: "print or change what capture removes from a workspace's events (secrets, addresses)", run: redactionCmd},
		{name: "erase", summary: "erase a person's events (a data-subject request) and print the receipt", run: eraseCmd},
		{name: "janitor", summary: "remove events past their workspace's retention now", run: janitorCmd},
		{name: "cluster", summary: "rewrite the SQLite events table in time order now (serve does it too)", run: clusterCmd},
		{name: "version", summary: "print the version, commit, build date and Go version", run: func(_ context.Context, _ []string, env Env) error {
			fmt.Fprintln(env.Stdout, buildinfo.Read())
			return nil
		}},
		{name: "completion", summary: "print a shell completion script: completion bash|zsh|fish", run: func(_ context.Context, args []string, env Env) error {
			return completion(args, env)
		}, words: completionShells},
	}
}

func topUsage() string {
	var b strings.Builder
	b.WriteString("usage: usagelog COMMAND [flags]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-12s %s\n", c.name, c.summary)
	}
	b.WriteString(`
Run 'usagelog COMMAND -h' for a command's flags. Every flag can also be set
with a USAGELOG_* environment variable (--data: USAGELOG_DATA).
`)
	return b.String()
}

// Run runs the command line args (without the program name) and returns the
// exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	err := run(ctx, args, env)
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(env.Stderr, "usagelog: %s\n", ue.msg)
		return ExitUsage
	}
	var ee *exitError
	if errors.As(err, &ee) {
		fmt.Fprintf(env.Stderr, "usagelog: %s\n", ee.msg)
		return ee.code
	}
	fmt.Fprintf(env.Stderr, "usagelog: %s\n", err)
	return ExitFailure
}

// exitError ends a command with a message and a chosen code.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func run(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, topUsage())
		return usagef("a command is required")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "--version", "-version":
		cmd = "version"
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, topUsage())
		return nil
	}
	for _, c := range commands() {
		switch {
		case c.name != cmd:
		case c.group != nil:
			return c.group().run(ctx, rest, env)
		default:
			return c.run(ctx, rest, env)
		}
	}
	return usagef("unknown command %q (run 'usagelog help')", cmd)
}

// flagSet is a flag.FlagSet whose unset flags fall back to USAGELOG_*
// environment variables.
type flagSet struct {
	*flag.FlagSet
	env Env
}

func newFlagSet(name string, env Env) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	if env.flagSets != nil {
		env.flagSets(fs)
	}
	return &flagSet{FlagSet: fs, env: env}
}

// parse parses args, then fills flags not given from the environment, and
// returns the positional arguments. Flags may come after positionals.
func (fs *flagSet) parse(args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			positional = append(positional, args[1:]...)
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		name := "USAGELOG_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := fs.env.Getenv(name); v != "" {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = usagef("%s=%q: %v", name, v, serr)
			}
		}
	})
	return positional, err
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("unknown log level %q (want debug, info, warn or error)", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
