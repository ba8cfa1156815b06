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

func collections(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		return usagef("collections: want create, list, activate or deactivate")
	}
	sub := args[0]
	fs := newFlagSet("collections "+sub, env)
	var d dataFlags
	d.register(fs)
	workspace := fs.String("workspace", usage.DefaultWorkspace, "workspace of the collection")
	var typ, community string
	var endpoints stringList
	if sub == "create" {
		fs.StringVar(&typ, "type", usage.CollectionProxy, "proxy or recipe")
		fs.StringVar(&community, "community", "", "community the collection's calls belong to")
		fs.Var(&endpoints, "endpoint", `an endpoint the collection declares, repeatable ("GET /orders/{id}"); none: every path`)
	}
	pos, err := fs.parse(args[1:])
	if err != nil {
		return err
	}
	switch sub {
	case "create", "activate", "deactivate":
		if len(pos) != 1 {
			return usagef("collections %s: want one NAME", sub)
		}
	case "list":
		if len(pos) != 0 {
			return usagef("collections list: takes no arguments")
		}
	default:
		return usagef("collections: unknown subcommand %q (want create, list, activate or deactivate)", sub)
	}
	st, ws, err := d.openWorkspace(ctx, *workspace)
	if err != nil {
		return err
	}
	defer st.close()
	switch sub {
	case "create":
		col, err := usage.NewCollection(ws.ID, usage.Collection{Name: pos[0], Type: typ, Community: community, Endpoints: endpoints, Active: true}, time.Now())
		if err != nil {
			return usagef("collections create: %s", usage.ErrorMessage(err))
		}
		if err := st.meta.CreateCollection(ctx, col); err != nil {
			return err
		}
		if err := auditLocal(ctx, st.meta, env, ws.ID, usage.AuditCollectionUpdate, col.Name, map[string]any{"change": "create", "type": col.Type, "community": col.Community, "endpoints": col.Endpoints}); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s\t%s\tactive\n", col.Name, col.Type)
		return nil
	case "activate", "deactivate":
		col, err := st.meta.CollectionByName(ctx, ws.ID, pos[0])
		if err != nil {
			return err
		}
		col.Active = sub == "activate"
		if err := st.meta.UpdateCollection(ctx, col); err != nil {
			return err
		}
		if err := auditLocal(ctx, st.meta, env, ws.ID, usage.AuditCollectionUpdate, col.Name, map[string]any{"change": sub, "active": col.Active}); err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "collection %q %sd; running gateways notice within their --refresh\n", col.Name, sub)
		return nil
	}
	cols, err := st.meta.Collections(ctx, ws.ID)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	for _, c := range cols {
		state := "active"
		if !c.Active {
			state = "inactive"
		}
		eps := "any endpoint"
		if len(c.Endpoints) > 0 {
			eps = strings.Join(c.Endpoints, ", ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.Type, state, eps)
	}
	return tw.Flush()
}

func clients(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		return usagef("clients: want create, list or revoke")
	}
	sub := args[0]
	fs := newFlagSet("clients "+sub, env)
	var d dataFlags
	d.register(fs)
	workspace := fs.String("workspace", usage.DefaultWorkspace, "workspace of the client")
	var name, collection, typ string
	switch sub {
	case "create":
		fs.StringVar(&name, "name", "", "name of the client, recorded with each of its calls")
		fs.StringVar(&collection, "collection", "", "collection the client may call (created, active, if missing)")
		fs.StringVar(&typ, "type", usage.CollectionProxy, "type of the collection when it is created: proxy or recipe")
	case "list":
		fs.StringVar(&collection, "collection", "", "only the clients of this collection")
	}
	pos, err := fs.parse(args[1:])
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		if len(pos) != 0 {
			return usagef("clients create: unexpected argument %q", pos[0])
		}
		if strings.TrimSpace(name) == "" || collection == "" {
			return usagef("clients create: --name and --collection are required")
		}
	case "list":
		if len(pos) != 0 {
			return usagef("clients list: takes no arguments")
		}
	case "revoke":
		if len(pos) != 1 {
			return usagef("clients revoke: want one client ID")
		}
	default:
		return usagef("clients: unknown subcommand %q (want create, list or revoke)", sub)
	}
	st, ws, err := d.openWorkspace(ctx, *workspace)
	if err != nil {
		return err
	}
	defer st.close()
	switch sub {
	case "create":
		col, err := ensureCollection(ctx, st.meta, ws, collection, typ, env)
		if err != nil {
			return err
		}
		token, cl, err := usage.NewClient(col, name, time.Now())
		if err != nil {
			return usagef("clients create: %s", usage.ErrorMessage(err))
		}
		return createAudited(ctx, st.meta, env, ws.ID, func(ctx context.Context) error { return st.meta.CreateClient(ctx, cl) },
			usage.AuditClientCreate, cl.ID, map[string]any{"name": cl.Name, "collection": col.Name},
			token, fmt.Sprintf("client %s of collection %q", cl.ID, col.Name))
	case "revoke":
		if err := st.meta.RevokeClient(ctx, ws.ID, pos[0], time.Now()); err != nil {
			return err
		}
		if err := auditLocal(ctx, st.meta, env, ws.ID, usage.AuditClientRevoke, pos[0], nil); err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "revoked client %s; running gateways refuse it within their --refresh\n", pos[0])
		return nil
	}
	var colID string
	if collection != "" {
		col, err := st.meta.CollectionByName(ctx, ws.ID, collection)
		if err != nil {
			return err
		}
		colID = col.ID
	}
	list, err := st.meta.Clients(ctx, ws.ID, colID)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	for _, c := range list {
		state := "active"
		if c.Revoked() {
			state = "revoked " + c.RevokedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, c.Name, c.Collection, state)
	}
	return tw.Flush()
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
		sink = gateway.StoreSink(st.events, ws.ID, &ingest.Classifiers{Rules: st.meta})
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
