package cli

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

func members(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 || args[0] != "create" {
		return usagef("members: want 'create --email E --role admin|analyst [--password-stdin]'")
	}
	fs := newFlagSet("members create", env)
	var d dataFlags
	d.register(fs)
	workspace := fs.String("workspace", usage.DefaultWorkspace, "workspace of the member")
	email := fs.String("email", "", "the member's email, used to sign in")
	role := fs.String("role", "", "admin or analyst")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input (otherwise one is generated and printed)")
	pos, err := fs.parse(args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("members create: unexpected argument %q", pos[0])
	}
	addr, err := usage.NormalizeEmail(*email)
	if err != nil {
		return usagef("members create: --email: %s", usage.ErrorMessage(err))
	}
	r, err := usage.ParseRole(*role)
	if err != nil {
		return usagef("members create: --role: %s", usage.ErrorMessage(err))
	}
	password := ""
	if *fromStdin {
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return usagef("members create: --password-stdin: no password on standard input")
		}
		password = strings.TrimRight(line, "\r\n")
	} else {
		password = usage.RandomToken(18)
	}
	hash, err := usage.HashPassword(password)
	if err != nil {
		return usagef("members create: %s", usage.ErrorMessage(err))
	}
	st, ws, err := d.openWorkspace(ctx, *workspace)
	if err != nil {
		return err
	}
	defer st.close()
	m := usage.Member{ID: usage.RandomID("mem_", 8), WorkspaceID: ws.ID, Email: addr, PasswordHash: hash, Role: r, CreatedAt: usage.TruncateMS(time.Now())}
	shown := password
	if *fromStdin {
		shown = "" // the caller gave it
	}
	return createAudited(ctx, st.meta, env, ws.ID, func(ctx context.Context) error { return st.meta.CreateMember(ctx, m) },
		usage.AuditMemberCreate, m.Email, map[string]any{"role": string(m.Role)},
		shown, fmt.Sprintf("%s %s in workspace %s", r, addr, ws.Name))
}
