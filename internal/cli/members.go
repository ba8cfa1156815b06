package cli

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

func membersCmd() subcommandGroup {
	var email, role string
	var fromStdin bool
	var addr string
	var r usage.Role
	return subcommandGroup{command: "members", workspace: "workspace of the member", subs: []subcommand{
		{name: "create",
			flags: func(fs *flagSet) {
				fs.StringVar(&email, "email", "", "the member's email, used to sign in")
				fs.StringVar(&role, "role", "", "admin or analyst")
				fs.BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input (otherwise one is generated and printed)")
			},
			check: func() error {
				var err error
				if addr, err = usage.NormalizeEmail(email); err != nil {
					return usage.Errorf(usage.EInvalid, "--email: %s", usage.ErrorMessage(err))
				}
				if r, err = usage.ParseRole(role); err != nil {
					return usage.Errorf(usage.EInvalid, "--role: %s", usage.ErrorMessage(err))
				}
				return nil
			},
			run: func(ctx context.Context, c *local) error {
				password := ""
				if fromStdin {
					line, err := bufio.NewReader(c.env.Stdin).ReadString('\n')
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
				m := usage.Member{ID: usage.RandomID("mem_", 8), WorkspaceID: c.ws.ID, Email: addr, PasswordHash: hash, Role: r, CreatedAt: usage.TruncateMS(time.Now())}
				shown := password
				if fromStdin {
					shown = "" // the caller gave it
				}
				return createAudited(ctx, c.st.meta, c.env, c.ws.ID, func(ctx context.Context) error { return c.st.meta.CreateMember(ctx, m) },
					usage.AuditMemberCreate, m.Email, map[string]any{"role": string(m.Role)},
					shown, fmt.Sprintf("%s %s in workspace %s", r, addr, c.ws.Name))
			}},
	}}
}
