package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/usagelog/usagelog/internal/sqlite"
)

const clusterUsage = `usage: usagelog cluster [--data DIR] [--force] [--status]

Rewrites the SQLite store's events table in time order, as PostgreSQL's
CLUSTER does. Events that arrive out of time order (backfills, retries,
several senders) are stored in arrival order, and an export then reads a
table page for each row: after a rewrite it reads the pages in turn,
several times faster. serve rewrites by itself once a tenth of the events
(and at least 100,000) arrived out of order and a minute passes without
more; this command does it now, with progress. It can run beside a
server: ingest waits for one step of 50,000 events at a time, and for
the final swap (1.5-1.8 s a million events). An interrupted run
carries on where it stopped. ClickHouse orders events by itself.

`

// clusterer is the SQLite store's rewrite in time order.
type clusterer interface {
	ClusterStatus(ctx context.Context) (sqlite.ClusterStatus, error)
	Cluster(ctx context.Context, force bool, progress func(done, total int64)) (sqlite.ClusterResult, error)
}

func clusterCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("cluster", env)
	fs.Usage = func() { fmt.Fprint(env.Stderr, clusterUsage); fs.PrintDefaults() }
	var d dataFlags
	d.register(fs)
	force := fs.Bool("force", false, "rewrite even when few events are out of order")
	status := fs.Bool("status", false, "only print how many events are out of order")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("cluster: unexpected argument %q", pos[0])
	}
	st, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer st.close()
	c, ok := st.events.(clusterer)
	if !ok {
		fmt.Fprintln(env.Stdout, "the events store keeps its own order (ClickHouse sorts its parts by time): nothing to do")
		return nil
	}
	before, err := c.ClusterStatus(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%d of about %d events stored out of time order since the last rewrite%s\n", before.Disordered, before.Events, map[bool]string{true: "; a rewrite is under way"}[before.Copying])
	if before.Waiting > 0 {
		fmt.Fprintf(env.Stdout, "%d events wait to be merged into the events table (the merge counts those out of order as it goes)\n", before.Waiting)
	}
	if *status {
		return nil
	}
	if !before.Due && !*force {
		fmt.Fprintln(env.Stdout, "no rewrite needed (--force rewrites anyway)")
		return nil
	}
	bar := newProgressBar(env, "cluster", before.Events, "events")
	res, err := c.Cluster(ctx, *force, rowProgress(bar))
	if err != nil {
		return err
	}
	bar.Finish()
	if res.Done {
		fmt.Fprintf(env.Stdout, "rewrote the events table in time order: copied in %s, swapped in %s (writers waited), old table removed in %s\n",
			res.Copy.Round(time.Millisecond), res.Swap.Round(time.Millisecond), res.Retire.Round(time.Millisecond))
	}
	return nil
}

// clusterLoop rewrites the events in time order (clusterer) when it is
// due and no more events came out of order for a while (a backfill is
// rewritten once, when it is over), checking every interval until ctx
// ends. A rewrite under way carries on at once.
func clusterLoop(ctx context.Context, c clusterer, every time.Duration, log *slog.Logger) {
	last := int64(-1)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		st, err := c.ClusterStatus(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("cluster: status", "err", err)
			}
			continue
		}
		settled := st.Disordered == last
		last = st.Disordered
		if !st.Copying && !st.Retiring && !(st.Due && settled) {
			continue
		}
		log.Info("cluster: rewriting the events table in time order", "events", st.Events, "disordered", st.Disordered, "resumed", st.Copying)
		next := int64(0)
		res, err := c.Cluster(ctx, false, func(copied, total int64) {
			if copied >= next {
				log.Info("cluster: copying", "copied", copied, "of", total)
				next = copied + max(total/10, 1)
			}
		})
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("cluster", "err", err)
		case res.Done:
			log.Info("cluster: done", "copy", res.Copy.Round(time.Millisecond), "swap", res.Swap.Round(time.Millisecond),
				"retire", res.Retire.Round(time.Millisecond), "late", res.Late)
			last = -1
		}
	}
}
