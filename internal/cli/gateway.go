package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/usagelog/usagelog/capture"
	"github.com/usagelog/usagelog/internal/gateway"
	"github.com/usagelog/usagelog/internal/ingest"
	"github.com/usagelog/usagelog/internal/usage"
)

func collectionsCmd() subcommandGroup {
	var typ, community string
	var endpoints stringList
	toggle := func(sub string) subcommand {
		return subcommand{name: sub, arg: "NAME",
			run: func(ctx context.Context, c *local) error {
				col, err := c.st.meta.CollectionByName(ctx, c.ws.ID, c.arg)
				if err != nil {
					return err
				}
				col.Active = sub == "activate"
				if err := c.st.meta.UpdateCollection(ctx, col); err != nil {
					return err
				}
				if err := auditLocal(ctx, c.st.meta, c.env, c.ws.ID, usage.AuditCollectionUpdate, col.Name, map[string]any{"change": sub, "active": col.Active}); err != nil {
					return err
				}
				fmt.Fprintf(c.env.Stderr, "collection %q %sd; running gateways notice within their --refresh\n", col.Name, sub)
				return nil
			}}
	}
	return subcommandGroup{command: "collections", workspace: "workspace of the collection", subs: []subcommand{
		{name: "create", arg: "NAME",
			flags: func(fs *flagSet) {
				fs.StringVar(&typ, "type", usage.CollectionProxy, "proxy or recipe")
				fs.StringVar(&community, "community", "", "community the collection's calls belong to")
				fs.Var(&endpoints, "endpoint", `an endpoint the collection declares, repeatable ("GET /orders/{id}"); none: every path`)
			},
			run: func(ctx context.Context, c *local) error {
				col, err := usage.NewCollection(c.ws.ID, usage.Collection{Name: c.arg, Type: typ, Community: community, Endpoints: endpoints, Active: true}, time.Now())
				if err != nil {
					return usagef("collections create: %s", usage.ErrorMessage(err))
				}
				if err := c.st.meta.CreateCollection(ctx, col); err != nil {
					return err
				}
				if err := auditLocal(ctx, c.st.meta, c.env, c.ws.ID, usage.AuditCollectionUpdate, col.Name, map[string]any{"change": "create", "type": col.Type, "community": col.Community, "endpoints": col.Endpoints}); err != nil {
					return err
				}
				fmt.Fprintf(c.env.Stdout, "%s\t%s\tactive\n", col.Name, col.Type)
				return nil
			}},
		{name: "list", run: listCollections},
		toggle("activate"),
		toggle("deactivate"),
	}}
}

func listCollections(ctx context.Context, c *local) error {
	cols, err := c.st.meta.Collections(ctx, c.ws.ID)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.env.Stdout, 0, 4, 2, ' ', 0)
	for _, col := range cols {
		state := "active"
		if !col.Active {
			state = "inactive"
		}
		eps := "any endpoint"
		if len(col.Endpoints) > 0 {
			eps = strings.Join(col.Endpoints, ", ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", col.Name, col.Type, state, eps)
	}
	return tw.Flush()
}

func clientsCmd() subcommandGroup {
	var name, collection, typ string
	return subcommandGroup{command: "clients", workspace: "workspace of the client", subs: []subcommand{
		{name: "create",
			flags: func(fs *flagSet) {
				fs.StringVar(&name, "name", "", "name of the client, recorded with each of its calls")
				fs.StringVar(&collection, "collection", "", "collection the client may call (created, active, if missing)")
				fs.StringVar(&typ, "type", usage.CollectionProxy, "type of the collection when it is created: proxy or recipe")
			},
			check: func() error {
				if strings.TrimSpace(name) == "" || collection == "" {
					return usage.Errorf(usage.EInvalid, "--name and --collection are required")
				}
				return nil
			},
			run: func(ctx context.Context, c *local) error {
				col, err := ensureCollection(ctx, c.st.meta, c.ws, collection, typ, c.env)
				if err != nil {
					return err
				}
				token, cl, err := usage.NewClient(col, name, time.Now())
				if err != nil {
					return usagef("clients create: %s", usage.ErrorMessage(err))
				}
				return createAudited(ctx, c.st.meta, c.env, c.ws.ID, func(ctx context.Context) error { return c.st.meta.CreateClient(ctx, cl) },
					usage.AuditClientCreate, cl.ID, map[string]any{"name": cl.Name, "collection": col.Name},
					token, fmt.Sprintf("client %s of collection %q", cl.ID, col.Name))
			}},
		{name: "list",
			flags: func(fs *flagSet) {
				fs.StringVar(&collection, "collection", "", "only the clients of this collection")
			},
			run: func(ctx context.Context, c *local) error {
				var colID string
				if collection != "" {
					col, err := c.st.meta.CollectionByName(ctx, c.ws.ID, collection)
					if err != nil {
						return err
					}
					colID = col.ID
				}
				list, err := c.st.meta.Clients(ctx, c.ws.ID, colID)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(c.env.Stdout, 0, 4, 2, ' ', 0)
				for _, cl := range list {
					state := "active"
					if cl.Revoked() {
						state = "revoked " + cl.RevokedAt.Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", cl.ID, cl.Name, cl.Collection, state)
				}
				return tw.Flush()
			}},
		{name: "revoke", arg: "client ID",
			run: func(ctx context.Context, c *local) error {
				if err := c.st.meta.RevokeClient(ctx, c.ws.ID, c.arg, time.Now()); err != nil {
					return err
				}
				if err := auditLocal(ctx, c.st.meta, c.env, c.ws.ID, usage.AuditClientRevoke, c.arg, nil); err != nil {
					return err
				}
				fmt.Fprintf(c.env.Stderr, "revoked client %s; running gateways refuse it within their --refresh\n", c.arg)
				return nil
			}},
	}}
}

// ensureCollection returns the named collection, creating it (active) with
// typ when the workspace has none of that name.
func ensureCollection(ctx context.Context, meta usage.MetaStore, ws usage.Workspace, name, typ string, env Env) (usage.Collection, error) {
	col, err := meta.CollectionByName(ctx, ws.ID, name)
	if usage.ErrorCode(err) != usage.ENotFound {
		return col, err
	}
	col, err = usage.NewCollection(ws.ID, usage.Collection{Name: name, Type: typ, Active: true}, time.Now())
	if err != nil {
		return col, usagef("%s", usage.ErrorMessage(err))
	}
	if err := meta.CreateCollection(ctx, col); err != nil {
		return col, err
	}
	if err := auditLocal(ctx, meta, env, ws.ID, usage.AuditCollectionUpdate, col.Name, map[string]any{"change": "create", "type": col.Type}); err != nil {
		return col, err
	}
	fmt.Fprintf(env.Stderr, "created %s collection %q\n", col.Type, col.Name)
	return col, nil
}

func gatewayCmd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("gateway", env)
	var d dataFlags
	d.register(fs)
	listen := fs.String("listen", "127.0.0.1:8081", "address the gateway listens on")
	upstream := fs.String("upstream", "", "URL of the API the gateway forwards to")
	collection := fs.String("collection", "", "collection the gateway serves")
	typ := fs.String("type", "", "proxy or recipe: the type of the collection if the gateway creates it (--data only)")
	workspace := fs.String("workspace", usage.DefaultWorkspace, "workspace the calls are recorded in (--data only)")
	server := fs.String("server", "", "record to this usagelog server instead of the local store")
	token := fs.String("token", "", "with --server: a key with the EVENTS_WRITE scope")
	spoolDir := fs.String("spool", "", "directory of calls waiting for the store or server (default: DATA/spool/gateway-LISTEN)")
	spoolMax := fs.Int64("spool-max-bytes", 256<<20, "largest the spool may grow; beyond it calls are dropped and counted")
	var trusted stringList
	fs.Var(&trusted, "trusted-proxy", "CIDR or address whose X-Forwarded-For is believed, repeatable")
	ratePerMin := fs.Int("rate-limit", 6000, "calls a minute per client (0: no limit)")
	memberIDHeader := fs.String("member-id-header", "", "request header whose value is recorded as the call's member id")
	memberNameHeader := fs.String("member-name-header", "", "request header whose value is recorded as the call's member name")
	jobHeader := fs.String("job-header", "", "request header whose value is recorded as the link of the job that made the call")
	refresh := fs.Duration("refresh", 5*time.Second, "how often clients and the collection are read again")
	metricsAddr := fs.String("metrics-addr", "", "address to serve /metrics on (default: none)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if _, err := fs.parse(args); err != nil {
		return err
	}
	log, err := newLogger(env.Stderr, *logLevel)
	if err != nil {
		return err
	}
	up, err := url.Parse(*upstream)
	if err != nil || (up.Scheme != "http" && up.Scheme != "https") || up.Host == "" {
		return usagef("gateway: --upstream %q: want an absolute http(s) URL such as http://127.0.0.1:9000", *upstream)
	}
	if *collection == "" {
		return usagef("gateway: --collection is required")
	}
	if *typ != "" && *typ != usage.CollectionProxy && *typ != usage.CollectionRecipe {
		return usagef("gateway: --type %q: want proxy or recipe", *typ)
	}
	if (*server == "") != (*token == "") {
		return usagef("gateway: --server and --token go together")
	}
	if *refresh <= 0 || *ratePerMin < 0 || *spoolMax <= 0 {
		return usagef("gateway: --refresh and --spool-max-bytes must be positive, --rate-limit not negative")
	}
	proxies, err := capture.ParseTrustedProxies(trusted)
	if err != nil {
		return usagef("gateway: --trusted-proxy: %v", err)
	}
	if *spoolDir == "" {
		*spoolDir = filepath.Join(d.data, "spool", "gateway-"+strings.NewReplacer(":", "_", "/", "_", "[", "", "]", "").Replace(*listen))
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var sink capture.Sink
	var dir gateway.Directory
	if *server != "" {
		if *typ != "" {
			return usagef("gateway: --type applies to a collection the gateway creates in --data; create it on the server with POST /api/v1/collections")
		}
		sink = capture.Server(*server, *token, &http.Client{Timeout: 30 * time.Second})
		dir = gateway.ServerDirectory{BaseURL: *server, Token: *token, Collection: *collection}
	} else {
		st, ws, err := d.openWorkspace(ctx, *workspace)
		if err != nil {
			return err
		}
		defer st.close()
		col, err := st.meta.CollectionByName(ctx, ws.ID, *collection)
		switch {
		case usage.ErrorCode(err) == usage.ENotFound:
			if _, err := ensureCollection(ctx, st.meta, ws, *collection, cmp.Or(*typ, usage.CollectionProxy), env); err != nil {
				return err
			}
		case err != nil:
			return err
		case *typ != "" && col.Type != *typ:
			return usagef("gateway: collection %q is a %s collection, not %s", col.Name, col.Type, *typ)
		}
		sink = gateway.StoreSink(st.events, ws.ID, &ingest.Policies{Rules: st.meta})
		dir = gateway.StoreDirectory{Meta: st.meta, WorkspaceID: ws.ID, Collection: *collection}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	rec, err := capture.New(capture.Config{Sink: sink, SpoolDir: *spoolDir, SpoolMaxBytes: *spoolMax, Logger: log, Registerer: reg})
	if err != nil {
		return err
	}
	gw, err := gateway.New(ctx, gateway.Config{Upstream: up, Directory: dir, Recorder: rec, TrustedProxies: proxies, RatePerMinute: *ratePerMin, Refresh: *refresh, Logger: log,
		MemberIDHeader: *memberIDHeader, MemberNameHeader: *memberNameHeader, JobHeader: *jobHeader})
	if err != nil {
		rec.Close(context.Background())
		return err
	}
	go gw.Run(ctx)

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		rec.Close(context.Background())
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	if *metricsAddr != "" {
		mln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			ln.Close()
			rec.Close(context.Background())
			return fmt.Errorf("listen (metrics): %w", err)
		}
		msrv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 10 * time.Second}
		go msrv.Serve(mln)
		defer msrv.Close()
	}
	fmt.Fprintf(env.Stdout, "usagelog gateway listening on http://%s, forwarding to %s (collection %q)\n", ln.Addr(), up, *collection)
	log.Info("gateway", "addr", ln.Addr().String(), "upstream", up.String(), "collection", *collection, "spool", *spoolDir)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		serveErr = srv.Shutdown(sctx)
		cancel()
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) && serveErr == nil {
			serveErr = err
		}
	}
	// Every recorded call is delivered or spooled before the process ends.
	cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	closeErr := rec.Close(cctx)
	s := rec.Stats()
	log.Info("gateway stopped", "delivered", s.Delivered, "spooled", s.Spooled, "dropped", s.Dropped)
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("gateway: %w", serveErr)
	}
	return closeErr
}
