package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/usagelog/usagelog/internal/usage"
)

const redactionUsage = `usage: usagelog redaction [--workspace NAME] [--query-param NAME …] [--no-query-params]
                          [--path-pattern RE …] [--no-path-patterns] [--ip full|truncated|none] [--defaults]

Prints what capture removes from the workspace's events before any store
sees them; a flag changes it first. --query-param and --path-pattern, each
repeatable, replace their list; --defaults goes back to the defaults. A
running server applies a change within 10 seconds, to the events captured
after it.

`

func redactionCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("redaction", env)
	fs.Usage = func() { fmt.Fprint(env.Stderr, redactionUsage); fs.PrintDefaults() }
	var d dataFlags
	d.register(fs)
	workspace := fs.String("workspace", usage.DefaultWorkspace, "workspace whose redaction rules to print or change")
	var params, patterns stringList
	fs.Var(&params, "query-param", "a query parameter whose values are redacted, repeatable (replaces the list)")
	fs.Var(&patterns, "path-pattern", "a regular expression (RE2): path segments and query values it matches are redacted, repeatable (replaces the list)")
	noParams := fs.Bool("no-query-params", false, "redact no query parameters by name")
	noPatterns := fs.Bool("no-path-patterns", false, "redact no path segments by pattern")
	ip := fs.String("ip", "", "callers' addresses: full, truncated (/24, /48) or none")
	defaults := fs.Bool("defaults", false, "go back to the default rules")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("redaction: unexpected argument %q", pos[0])
	}
	changing := len(params) > 0 || len(patterns) > 0 || *noParams || *noPatterns || *ip != ""
	switch {
	case *defaults && changing:
		return usagef("redaction: --defaults goes with no other change")
	case *noParams && len(params) > 0:
		return usagef("redaction: --no-query-params and --query-param contradict each other")
	case *noPatterns && len(patterns) > 0:
		return usagef("redaction: --no-path-patterns and --path-pattern contradict each other")
	}
	st, ws, err := d.openWorkspace(ctx, *workspace)
	if err != nil {
		return err
	}
	defer st.close()
	red, set, err := st.meta.Redaction(ctx, ws.ID)
	if err != nil {
		return err
	}
	if changing || *defaults {
		switch {
		case len(params) > 0:
			red.QueryParams = params
		case *noParams:
			red.QueryParams = []string{}
		}
		switch {
		case len(patterns) > 0:
			red.PathPatterns = patterns
		case *noPatterns:
			red.PathPatterns = []string{}
		}
		if *ip != "" {
			red.IP = usage.IPMode(*ip)
		}
		save := &red
		if *defaults {
			save, red = nil, usage.DefaultRedaction()
		} else if err := red.Validate(); err != nil {
			return usagef("redaction: %s", usage.ErrorMessage(err))
		}
		if err := st.meta.SaveRedaction(ctx, ws.ID, save); err != nil {
			return err
		}
		set = save != nil
		if err := auditLocal(ctx, st.meta, env, ws.ID, usage.AuditRedactionUpdate, "redaction",
			red.AuditDetails(!set)); err != nil {
			return err
		}
	}
	source := "set by the workspace"
	if !set {
		source = "the defaults"
	}
	fmt.Fprintf(env.Stdout, "workspace\t%s\nrules\t%s\nquery parameters\t%s\npath patterns\t%s\nip\t%s\n",
		ws.Name, source, strings.Join(red.QueryParams, " "), strings.Join(red.PathPatterns, " "), red.IP)
	return nil
}
