package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/usagelog/usagelog/internal/erasure"
	"github.com/usagelog/usagelog/internal/localfs"
	"github.com/usagelog/usagelog/internal/s3files"
	"github.com/usagelog/usagelog/internal/usage"
)

const eraseUsage = `usage: usagelog erase [--workspace NAME] (--member-id ID | --email EMAIL | --user-id ID | --ip ADDRESS)
                     [--reason TEXT] [--delete-files] [--files s3://…] [--no-wait]

Erases a person: every event of the workspace that names them (API calls by
member id or address, activity by user id or email, user observations by
email) is deleted with what the summaries hold of it, their ids are kept so
that a client's retry is refused as a duplicate, and the export files
written before that may hold them are listed (deleted with --delete-files).
It runs here with a progress bar, unless a server beside it takes it up
first (then this shows that run's progress), and prints the receipt. The
audit log records erasure.create and erasure.done with a keyed hash of the
value, never the value.

`

func eraseCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("erase", env)
	fs.Usage = func() { fmt.Fprint(env.Stderr, eraseUsage); fs.PrintDefaults() }
	var d dataFlags
	d.register(fs)
	workspace := fs.String("workspace", usage.DefaultWorkspace, "workspace to erase the person from")
	var in erasure.Input
	fs.StringVar(&in.Match.MemberID, "member-id", "", "erase the API calls of this member id")
	fs.StringVar(&in.Match.UserEmail, "email", "", "erase the activity and user observations of this email (ASCII letters in either case)")
	fs.StringVar(&in.Match.UserID, "user-id", "", "erase the activity of this user id")
	fs.StringVar(&in.Match.IP, "ip", "", "erase the API calls from this address, as stored")
	fs.StringVar(&in.Reason, "reason", "", "why (kept with the erasure and in the audit log)")
	fs.BoolVar(&in.DeleteFiles, "delete-files", false, "delete the export files that may hold the person (their links then find nothing)")
	filesDSN := fs.String("files", "", "export files in an S3-compatible bucket, as usagelog serve --files (default: DATA/exports)")
	noWait := fs.Bool("no-wait", false, "queue the erasure for a running server and print its id")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("erase: unexpected argument %q", pos[0])
	}
	if _, err := in.Matched(); err != nil {
		return usagef("erase: %s (--member-id, --email, --user-id, --ip)", usage.ErrorMessage(err))
	}
	st, ws, err := d.openWorkspace(ctx, *workspace)
	if err != nil {
		return err
	}
	defer st.close()
	secret, err := st.serverSecret(ctx, d.data, env.Getenv("USAGELOG_SECRET"))
	if err != nil {
		return err
	}
	var files usage.FileStore
	if *filesDSN != "" {
		cfg, err := s3files.ParseDSN(*filesDSN)
		if err != nil {
			return usagef("--files: %v", err)
		}
		if files, err = s3files.Open(ctx, cfg); err != nil {
			return err
		}
	} else {
		dir, err := localfs.Open(filepath.Join(d.data, "exports"))
		if err != nil {
			return err
		}
		defer dir.Close()
		files = dir
	}
	e, err := erasure.Request(ctx, st.erasures, secret, ws.ID, in, cliActor(env), time.Now())
	if err != nil {
		return err
	}
	if err := auditLocal(ctx, st.meta, env, ws.ID, usage.AuditErasureCreate, e.ID, erasure.AuditDetails(&e)); err != nil {
		return err
	}
	if *noWait {
		fmt.Fprintln(env.Stdout, e.ID)
		return nil
	}
	runner, err := erasure.New(erasure.Config{Events: st.eraser, Meta: st.erasures, Jobs: st.meta, Files: files,
		Audit: localAuditor{meta: st.meta}, Heartbeat: 250 * time.Millisecond})
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	go func() {
		_, err := runner.RunDue(runCtx)
		ran <- err
	}()
	bar := newProgressBar(env, "erasing "+e.ID, -1, "steps")
	show := rowProgress(bar)
	for {
		got, err := st.erasures.Erasure(ctx, ws.ID, e.ID)
		if err != nil {
			return err
		}
		if got.Total > 0 {
			show(got.Done, got.Total)
		}
		if got.Status == usage.ErasureDone || got.Status == usage.ErasureFailed {
			bar.Finish()
			printReceipt(env, &got)
			if got.Status == usage.ErasureFailed {
				return fmt.Errorf("erase: %s", got.Error)
			}
			return nil
		}
		select {
		case err := <-ran:
			// This process's runner ended (nothing else due): the erasure
			// is another's to finish, or it just finished.
			if err != nil {
				return fmt.Errorf("erase: %w", err)
			}
			ran = nil
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// printReceipt prints what an erasure did.
func printReceipt(env Env, e *usage.Erasure) {
	w := env.Stdout
	fmt.Fprintf(w, "erasure\t%s\nstatus\t%s\nmatched\t%s %s\n", e.ID, e.Status, e.Field, e.Hash)
	for _, k := range usage.Kinds {
		if n, ok := e.Removed[k]; ok {
			fmt.Fprintf(w, "removed\t%d %s\n", n, k)
		}
	}
	if len(e.Removed) == 0 {
		fmt.Fprintln(w, "removed\tnothing")
	}
	files := slices.Clone(e.Files)
	fmt.Fprintf(w, "files\t%d\n", len(files))
	for _, f := range files {
		state := "kept"
		if f.Deleted {
			state = "deleted"
		}
		fmt.Fprintf(w, "file\t%s\t%s\t%s\t%s\n", f.Report, f.Path, f.Written.UTC().Format(time.RFC3339), state)
	}
	if e.Error != "" {
		fmt.Fprintf(w, "error\t%s\n", e.Error)
	}
}

// localAuditor records a runner's audit entries straight into the
// metadata store (a command has no audit log buffering them).
type localAuditor struct{ meta usage.AuditStore }

func (a localAuditor) Record(e usage.AuditEntry) error {
	if e.ID == "" {
		e.ID = usage.RandomID("aud_", 10)
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = usage.TruncateMS(e.Time)
	return a.meta.AppendAudit(context.Background(), []usage.AuditEntry{e})
}
