package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/ingest"
	"github.com/usagelog/usagelog/internal/usage"
)

// ingestBatch is how many events go to a server in one request, and
// localBatch how many the local store takes in one transaction: a large
// transaction writes each index page a batch touches once, which is most
// of what events that arrive out of time order cost (BenchmarkArrivalOrder).
const (
	ingestBatch = 5000
	localBatch  = 50_000
)

// maxRejectedPrinted bounds the rejected lines printed per file.
const maxRejectedPrinted = 100

func ingestCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("ingest", env)
	var d dataFlags
	d.register(fs)
	workspace := fs.String("workspace", usage.DefaultWorkspace, "workspace to ingest into (local store only; a server takes the token's)")
	server := fs.String("server", "", "URL of a running usagelog to send the events to, instead of the local store")
	token := fs.String("token", "", "key with the EVENTS_WRITE scope, with --server")
	format := fs.String("format", "", "ndjson, json or csv (default: from the file name, else from its first bytes)")
	batchSize := fs.Int("batch", 0, fmt.Sprintf("events a transaction of the local store takes (default %d), or a request to --server carries (default %d)", localBatch, ingestBatch))
	maxFuture := fs.Duration("max-future", ingest.DefaultMaxFuture, "how far ahead of this machine's clock an event's time may be (local store only; a server applies its own)")
	files, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("ingest: name at least one FILE (use - for standard input)")
	}
	if *server != "" && *token == "" {
		return usagef("ingest: --server needs --token")
	}
	forced, err := parseFormat(*format)
	if err != nil {
		return err
	}
	if *batchSize < 0 {
		return usagef("ingest: --batch must be positive")
	}
	if *maxFuture <= 0 {
		return usagef("ingest: --max-future must be positive")
	}

	var send ingest.AppendFunc
	var order clusterer // the local SQLite store, to say when it wants a rewrite
	ahead := *maxFuture
	batch := localBatch
	if *server != "" {
		ahead, batch = 0, ingestBatch
		client := &ingest.Client{BaseURL: *server, Token: *token}
		send = func(ctx context.Context, batch []usage.Event) (usage.AppendResult, error) {
			res, err := client.Send(ctx, batch)
			if err != nil {
				return usage.AppendResult{}, err
			}
			if len(res.Rejected) > 0 {
				return usage.AppendResult{}, fmt.Errorf("server rejected %d events that passed local validation: line %d: %s", len(res.Rejected), res.Rejected[0].Line, res.Rejected[0].Error)
			}
			return usage.AppendResult{Inserted: res.Accepted, Duplicates: res.Duplicates}, nil
		}
	} else {
		st, ws, err := d.openWorkspace(ctx, *workspace)
		if err != nil {
			return err
		}
		defer st.close()
		order, _ = st.events.(clusterer)
		classify := &ingest.Policies{Rules: st.meta}
		send = func(ctx context.Context, batch []usage.Event) (usage.AppendResult, error) {
			if err := classify.Apply(ctx, ws.ID, batch); err != nil {
				return usage.AppendResult{}, err
			}
			return st.events.Append(ctx, ws.ID, batch)
		}
	}

	if *batchSize > 0 {
		batch = *batchSize
	}
	var total usage.AppendResult
	rejected := 0
	start := time.Now()
	for _, name := range files {
		res, rej, err := ingestFile(ctx, name, forced, ahead, batch, send, env)
		total.Inserted += res.Inserted
		total.Duplicates += res.Duplicates
		rejected += rej
		if err != nil {
			fmt.Fprintf(env.Stdout, "accepted %d, duplicates %d, rejected %d\n", total.Inserted, total.Duplicates, rejected)
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	fmt.Fprintf(env.Stdout, "accepted %d, duplicates %d, rejected %d\n", total.Inserted, total.Duplicates, rejected)
	fmt.Fprintf(env.Stderr, "ingested in %s\n", time.Since(start).Round(time.Millisecond))
	if order != nil {
		if st, err := order.ClusterStatus(ctx); err == nil {
			if st.Waiting > 0 {
				fmt.Fprintf(env.Stderr, "%d events wait to be merged into the events table: they read as stored already, and whatever opens the store next (serve, as it runs) merges them\n", st.Waiting)
			}
			if st.Due && !st.Copying {
				fmt.Fprintf(env.Stderr, "%d events arrived out of time order: exports read them faster after `usagelog cluster` (serve runs it by itself)\n", st.Disordered)
			}
		}
	}
	if rejected > 0 {
		return &exitError{code: ExitFailure, msg: fmt.Sprintf("%d lines rejected; the valid ones were stored", rejected)}
	}
	return nil
}

func parseFormat(s string) (*ingest.Format, error) {
	var f ingest.Format
	switch strings.ToLower(s) {
	case "":
		return nil, nil
	case "ndjson", "jsonl":
		f = ingest.NDJSON
	case "json":
		f = ingest.JSONArray
	case "csv":
		f = ingest.CSV
	default:
		return nil, usagef("ingest: unknown --format %q (want ndjson, json or csv)", s)
	}
	return &f, nil
}

// ingestFile loads one file; events dated more than ahead after now are
// rejected (0: the server judges).
func ingestFile(ctx context.Context, name string, forced *ingest.Format, ahead time.Duration, batch int, send ingest.AppendFunc, env Env) (usage.AppendResult, int, error) {
	var r io.Reader
	if name == "-" {
		r = env.Stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return usage.AppendResult{}, 0, err
		}
		defer f.Close()
		r = f
	}
	br := bufio.NewReaderSize(r, 256<<10)
	printed := 0
	var format ingest.Format
	switch {
	case forced != nil:
		format = *forced
	case strings.EqualFold(filepath.Ext(name), ".csv"):
		format = ingest.CSV
	default:
		format = ingest.Sniff(br)
	}
	dec := ingest.NewDecoder(br, format)
	if ahead > 0 {
		dec.RefuseFuture(time.Now(), ahead)
	}
	sum, err := ingest.Load(ctx, dec, batch, send, func(rec ingest.Record) {
		switch n := rec.Line; {
		case n > 0 && printed < maxRejectedPrinted:
			fmt.Fprintf(env.Stderr, "%s:%d: %s\n", name, rec.Line, rec.Err)
		case printed == maxRejectedPrinted:
			fmt.Fprintf(env.Stderr, "%s: more rejected lines not shown\n", name)
		}
		printed++
	})
	return usage.AppendResult{Inserted: sum.Accepted, Duplicates: sum.Duplicates}, sum.Rejected, err
}
