package cli

import (
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
	"time"

	"github.com/usagelog/usagelog/internal/alerts"
	"github.com/usagelog/usagelog/internal/audit"
	"github.com/usagelog/usagelog/internal/buildinfo"
	"github.com/usagelog/usagelog/internal/console"
	"github.com/usagelog/usagelog/internal/demo"
	"github.com/usagelog/usagelog/internal/erasure"
	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/httpapi"
	"github.com/usagelog/usagelog/internal/ingest"
	"github.com/usagelog/usagelog/internal/jobs"
	"github.com/usagelog/usagelog/internal/localfs"
	"github.com/usagelog/usagelog/internal/reclassify"
	"github.com/usagelog/usagelog/internal/retention"
	"github.com/usagelog/usagelog/internal/s3files"
	"github.com/usagelog/usagelog/internal/signedurl"
	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
	"github.com/usagelog/usagelog/internal/webhook"
)

func serve(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("serve", env)
	var d dataFlags
	d.register(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	demoFill := fs.Bool("demo", false, "fill an empty store with a year of demo data")
	demoSeed := fs.Uint64("demo-seed", 1, "seed of the demo data: the same seed gives the same data")
	demoScale := fs.Float64("demo-scale", 1, "volume of the demo data (1: about 240,000 events)")
	maxBody := fs.Int64("max-body", httpapi.DefaultMaxBodyBytes, "largest ingest body in bytes")
	maxFuture := fs.Duration("max-future", ingest.DefaultMaxFuture, "how far ahead of this server's clock an event's time may be")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	var limits httpapi.RateLimits
	fs.IntVar(&limits.Ingest, "rate-ingest", httpapi.DefaultRateLimits.Ingest, "ingest calls a minute per key")
	fs.IntVar(&limits.Reads, "rate-reads", httpapi.DefaultRateLimits.Reads, "read calls a minute per key")
	fs.IntVar(&limits.Exports, "rate-exports", httpapi.DefaultRateLimits.Exports, "export calls a minute per key")
	rowLimit := fs.Int64("export-row-limit", httpapi.DefaultExportRowLimit, "most rows one export may hold, unless a workspace sets its own")
	publicURL := fs.String("public-url", "", "absolute URL clients reach this server at, for download links (default: http://ADDR)")
	secret := fs.String("secret", "", "server secret for download links and pseudonyms, shared by replicas (default: created once in DATA/secret)")
	downloadTTL := fs.Duration("download-ttl", signedurl.DefaultTTL, "how long a download link works")
	fileRetention := fs.Duration("file-retention", 7*24*time.Hour, "how long export files are kept")
	filesDSN := fs.String("files", "", "export files in an S3-compatible bucket, s3://ACCESS:SECRET@host:port/bucket[?secure=false] (default: DATA/exports)")
	maxRangeDays := fs.Int("max-range-days", export.DefaultMaxRangeDays, "longest range of a usage export, in days")
	concurrency := fs.Int("export-concurrency", httpapi.DefaultExportConcurrency, "exports running at once per workspace (synchronous, and jobs across replicas)")
	workers := fs.Int("job-workers", 2, "export jobs this process runs at once")
	scheduleTick := fs.Duration("schedule-tick", 30*time.Second, "how often due export schedules are looked for")
	secureCookies := fs.Bool("secure-cookies", false, "mark console cookies Secure (when served over HTTPS)")
	var webhookAllow stringList
	fs.Var(&webhookAllow, "webhook-allow", "network (CIDR) or address webhooks may go to although it is not public, repeatable")
	var sso console.OIDC
	fs.StringVar(&sso.Issuer, "oidc-issuer", "", "OpenID Connect provider URL: members may sign in through it (its discovery document is read at the first sign-in)")
	fs.StringVar(&sso.ClientID, "oidc-client-id", "", "this server's client id at the provider")
	fs.StringVar(&sso.ClientSecret, "oidc-client-secret", "", "this server's client secret at the provider")
	oidcRole := fs.String("oidc-default-role", "", "admin or analyst: a verified email no member has becomes a member of default with this role (default: refused)")
	fs.BoolVar(&sso.Only, "oidc-only", false, "turn password sign-in off (needs --oidc-issuer)")
	auditDays := fs.Int("audit-retention-days", 400, "how long audit log entries are kept, whatever the events' retention")
	janitorEvery := fs.Duration("janitor-every", time.Hour, "how often events past their workspace's retention_days, old audit entries and export files are removed")
	alertEvery := fs.Duration("alert-every", time.Minute, "how often each alert rule is measured (across replicas)")
	smtpURL := fs.String("smtp", "", "mail server for alert email, smtp://[user[:password]@]host[:port] (STARTTLS when offered)")
	smtpFrom := fs.String("smtp-from", "", "sender address of alert email, with --smtp")
	var otlpClient stringList
	fs.Var(&otlpClient, "otlp-client-attribute", "span attribute a call's client is read from (on the span, then its resource), repeatable, first found first (default usagelog.client, then enduser.id)")
	otlpQuery := fs.Bool("otlp-keep-query", false, "record the URLs of OpenTelemetry spans with their query strings (by default the path alone: queries often carry tokens)")
	shutdownGrace := fs.Duration("shutdown-grace", 30*time.Second, "how long in-flight requests may take to finish on SIGTERM")
	if _, err := fs.parse(args); err != nil {
		return err
	}
	log, err := newLogger(env.Stderr, *logLevel)
	if err != nil {
		return err
	}
	if *demoScale <= 0 || *demoScale > 100 {
		return usagef("--demo-scale must be above 0 and at most 100")
	}
	if limits.Ingest <= 0 || limits.Reads <= 0 || limits.Exports <= 0 {
		return usagef("--rate-ingest, --rate-reads and --rate-exports must be positive")
	}
	if *downloadTTL <= 0 || *fileRetention <= 0 || *maxRangeDays <= 0 || *concurrency <= 0 || *workers <= 0 || *scheduleTick <= 0 {
		return usagef("--download-ttl, --file-retention, --max-range-days, --export-concurrency, --job-workers and --schedule-tick must be positive")
	}
	if *publicURL != "" {
		if u, err := url.Parse(*publicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usagef("--public-url %q: want an absolute http(s) URL such as https://usage.example.com", *publicURL)
		}
	}
	if *rowLimit <= 0 {
		return usagef("--export-row-limit must be positive")
	}
	if *maxBody <= 0 {
		return usagef("--max-body must be positive")
	}
	if sso.Issuer == "" && (sso.Only || sso.ClientID != "" || *oidcRole != "") {
		return usagef("--oidc-only, --oidc-client-id and --oidc-default-role need --oidc-issuer")
	}
	if sso.Issuer != "" {
		sso.DefaultRole = usage.Role(*oidcRole)
		if err := sso.Validate(); err != nil {
			return usagef("%v", err)
		}
	}
	if *auditDays < 1 || *janitorEvery <= 0 {
		return usagef("--audit-retention-days and --janitor-every must be positive")
	}
	if *maxFuture <= 0 {
		return usagef("--max-future must be positive")
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	metrics := httpapi.NewMetrics()
	st, err := openStores(ctx, storeConfig{Data: d.data, Events: d.events, Meta: d.meta, Observe: metrics.ObserveStore, Durability: d.durability})
	if err != nil {
		return err
	}
	defer st.close()

	if *demoFill {
		if err := fillDemo(ctx, st, demo.Config{Seed: *demoSeed, Scale: *demoScale, End: time.Now()}, env); err != nil {
			return err
		}
	}

	key, err := st.serverSecret(ctx, d.data, *secret)
	if err != nil {
		return err
	}
	var files usage.FileStore
	var links httpapi.Linker // nil: links signed by this server, served by /files/
	if *filesDSN != "" {
		cfg, err := s3files.ParseDSN(*filesDSN)
		if err != nil {
			return usagef("--files: %v", err)
		}
		cfg.LinkTTL = *downloadTTL
		bucket, err := s3files.Open(ctx, cfg)
		if err != nil {
			return err
		}
		files, links = bucket, bucket
	} else {
		dir, err := localfs.Open(filepath.Join(d.data, "exports"))
		if err != nil {
			return err
		}
		defer dir.Close()
		files = dir
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	base := *publicURL
	if base == "" {
		base = "http://" + ln.Addr().String()
	}

	policies := &ingest.Policies{Rules: st.meta}
	rec, err := httpapi.NewRecorder(httpapi.RecorderConfig{Events: st.events, SpoolDir: filepath.Join(d.data, "spool", "self"), Logger: log, Registry: metrics.Registry(), Policies: policies})
	if err != nil {
		ln.Close()
		return err
	}
	// Runs after the server has shut down, before the store closes: the
	// last calls' events are flushed.
	defer rec.Close()
	auditLog, err := audit.New(audit.Config{Store: st.meta, Logger: log})
	if err != nil {
		ln.Close()
		return err
	}
	// Closed after the server and the jobs stop, before the store closes:
	// the last entries are written.
	defer auditLog.Close()
	var oidcCfg *console.OIDC
	if sso.Issuer != "" {
		sso.DefaultRole = usage.Role(*oidcRole)
		sso.RedirectURL = strings.TrimSuffix(base, "/") + "/login/oidc/callback"
		oidcCfg = &sso
	}
	var api *httpapi.Server
	// Classifies the stored calls of a workspace again when its rules
	// change, in the background.
	reclass, err := reclassify.New(reclassify.Config{Events: st.events, Meta: st.meta, Log: log})
	if err != nil {
		ln.Close()
		return err
	}
	// Erases the people whose erasure was requested, in the background.
	eraser, err := erasure.New(erasure.Config{Events: st.eraser, Meta: st.erasures, Jobs: st.meta, Files: files, Audit: auditLog, Log: log})
	if err != nil {
		ln.Close()
		return err
	}
	allow, err := webhook.ParseAllow(webhookAllow)
	if err != nil {
		ln.Close()
		return usagef("%v", err)
	}
	webhooks := webhook.Policy{Allow: allow}
	con, err := console.New(console.Config{Meta: st.meta, Events: st.events, Secret: key, Logger: log, SecureCookies: *secureCookies, OIDC: oidcCfg, Audit: auditLog,
		MaxRangeDays: *maxRangeDays, APIDescription: func() []byte { return api.Description() }, Reclassifier: reclass,
		Alerts: st.alerts, Webhooks: func(ctx context.Context, raw string) error { return webhooks.CheckField(ctx, "notify.webhook", raw) },
		Erasures: st.erasures, Eraser: eraser})
	if err != nil {
		ln.Close()
		return err
	}
	signer := signedurl.New(key, base, *downloadTTL)
	if links == nil {
		links = signer
	} else {
		// A presigned link is used at the bucket, where usagelog does not
		// see it: the audit log records each link when it is made.
		links = audit.Linker{Links: links, Log: auditLog}
	}
	hook := &jobs.Webhook{Meta: st.meta, Policy: webhooks, Log: log, Now: time.Now, Links: links}
	runner, err := jobs.NewRunner(jobs.RunnerConfig{
		Meta: st.meta, Workers: *workers, PerWorkspace: *concurrency, Log: log, Finished: hook.Deliver, Webhooks: webhooks, Audit: auditLog,
		Exporter: &jobs.Exporter{Events: st.events, Meta: st.meta, Files: files, Secret: key, MaxRangeDays: *maxRangeDays, RowLimit: *rowLimit},
	})
	if err != nil {
		ln.Close()
		return err
	}
	api, err = httpapi.New(httpapi.Config{
		Policies: policies,
		Events:   st.events, Meta: st.meta, Logger: log, Metrics: metrics, MaxBodyBytes: *maxBody, MaxFuture: *maxFuture,
		Recorder: rec, RateLimits: limits, ExportRowLimit: *rowLimit,
		Files: files, Signer: signer, Links: links, Secret: key,
		MaxRangeDays: *maxRangeDays, ExportConcurrency: *concurrency, Session: con.Session, Jobs: runner, Audit: auditLog,
		Reclassifier: reclass, Alerts: st.alerts, Webhooks: webhooks, Erasures: st.erasures, Eraser: eraser,
		OTLP: httpapi.OTLP{ClientAttributes: otlpClient, KeepQuery: *otlpQuery},
	})
	if err != nil {
		ln.Close()
		return err
	}
	if c, ok := st.events.(clusterer); ok {
		go clusterLoop(ctx, c, time.Minute, log)
	}
	go reclass.Loop(ctx)
	go eraser.Loop(ctx)
	delivery := &alerts.Delivery{Client: webhooks.Client(30 * time.Second)}
	if *smtpURL != "" {
		if delivery.SMTP, err = alerts.ParseSMTP(*smtpURL, *smtpFrom); err != nil {
			ln.Close()
			return usagef("%v", err)
		}
	}
	alertRunner := &alerts.Runner{Store: st.alerts, Summaries: &summary.Service{Rollups: st.events, Events: st.events}, Sender: delivery,
		Every: *alertEvery, BaseURL: base, Log: log}
	alertRunner.Start(ctx)
	defer alertRunner.Wait()
	go janitor(ctx, janitorConfig{files: files, fileRetention: *fileRetention, every: *janitorEvery, log: log,
		retention: &retention.Janitor{Events: st.events, Meta: st.meta, Audit: auditLog, AuditRetention: time.Duration(*auditDays) * 24 * time.Hour, Log: log}})
	// Jobs stop with ctx (SIGTERM): a running job is failed with a reason;
	// queued jobs wait for the next start.
	jobsCtx, stopJobs := context.WithCancel(ctx)
	runner.Start(jobsCtx)
	runner.Schedule(jobsCtx, *scheduleTick)
	defer runner.Wait()
	defer stopJobs()
	for _, p := range console.Patterns {
		api.Handle(p, con)
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(env.Stdout, "usagelog listening on http://%s (data in %s)\n", ln.Addr(), d.data)
	fmt.Fprintf(env.Stdout, "get a key: usagelog keys create --data %s --name me --scope LOGS_READ --scope EVENTS_WRITE\n", d.data)
	fmt.Fprintf(env.Stdout, "console: http://%s/ (add a member: usagelog members create --data %s --email you@example.com --role admin)\n", ln.Addr(), d.data)
	bi := buildinfo.Read()
	log.Info("serving", "addr", ln.Addr().String(), "data", d.data, "sqlite", sqlite.Driver, "version", bi.Version, "commit", bi.Commit)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), *shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

// fillDemo fills the default workspace with demo data when it holds no
// events, so that restarting with --demo never doubles the data.
func fillDemo(ctx context.Context, st *stores, cfg demo.Config, env Env) error {
	ws, err := st.meta.WorkspaceByName(ctx, usage.DefaultWorkspace)
	if err != nil {
		return err
	}
	for _, k := range usage.Kinds {
		n, err := st.events.Count(ctx, ws.ID, k)
		if err != nil {
			return err
		}
		if n > 0 {
			fmt.Fprintf(env.Stdout, "demo: the default workspace already holds events; not adding demo data\n")
			return nil
		}
	}
	start := time.Now()
	n, err := demo.Generate(ctx, cfg, func(ctx context.Context, batch []usage.Event) error {
		_, err := st.events.Append(ctx, ws.ID, batch)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "demo: generated %d events in %s (seed %d)\n", n, time.Since(start).Round(time.Millisecond), cfg.Seed)
	return nil
}
