// Package httpapi is usagelog's REST API: routes, authentication by scoped
// keys, and the one place where domain errors become HTTP statuses.
package httpapi

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/usagelog/usagelog/capture"
	"github.com/usagelog/usagelog/internal/alerts"
	"github.com/usagelog/usagelog/internal/audit"
	"github.com/usagelog/usagelog/internal/buildinfo"
	"github.com/usagelog/usagelog/internal/erasure"
	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/ingest"
	"github.com/usagelog/usagelog/internal/jobs"
	"github.com/usagelog/usagelog/internal/signedurl"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
	"github.com/usagelog/usagelog/internal/webhook"
)

// Meta is what the API reads and changes of the metadata store.
type Meta interface {
	usage.KeyStore
	usage.SettingsStore
	usage.CollectionStore
	WorkspaceByID(ctx context.Context, id int64) (usage.Workspace, error)
	EnsureWorkspace(ctx context.Context, name string) (usage.Workspace, error)
	Job(ctx context.Context, workspaceID int64, id string) (usage.ExportJob, error)
	Jobs(ctx context.Context, workspaceID int64, limit int) ([]usage.ExportJob, error)
	CreateSchedule(ctx context.Context, s *usage.Schedule) error
	Schedule(ctx context.Context, workspaceID int64, id string) (usage.Schedule, error)
	Schedules(ctx context.Context, workspaceID int64) ([]usage.Schedule, error)
	DeleteSchedule(ctx context.Context, workspaceID int64, id string) error
	RequestReclassification(ctx context.Context, workspaceID int64, at time.Time) error
	Reclassification(ctx context.Context, workspaceID int64) (usage.Reclassification, error)
	Audit(ctx context.Context, workspaceID int64, q usage.AuditQuery) ([]usage.AuditEntry, error)
	Ping(ctx context.Context) error
}

// Config configures a Server.
type Config struct {
	Events EventStore
	Meta   Meta
	Logger *slog.Logger
	// Metrics, when set, receives request and ingest metrics and is served
	// at /metrics.
	Metrics *Metrics
	// MaxBodyBytes bounds an ingest body; default 10 MiB.
	MaxBodyBytes int64
	// MaxFuture is how far ahead of the clock an event's time may be;
	// default ingest.DefaultMaxFuture.
	MaxFuture time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Recorder, when set, records every API call as an api_request event
	// of its workspace (usagelog's own traffic in its own API log).
	Recorder *Recorder
	// Policies apply the workspaces' classification and redaction rules
	// to what ingest and OTLP take; default: read from Meta. Give the
	// Recorder's, so that a change applies to both at once.
	Policies *ingest.Policies
	// RateLimits per key; zero values take DefaultRateLimits.
	RateLimits RateLimits
	// ExportRowLimit bounds the rows of one export unless a workspace
	// sets its own; default DefaultExportRowLimit.
	ExportRowLimit int64
	// Files keeps the usage exports' files; Signer signs their download
	// links. Without them the usage export endpoints answer 500.
	Files  usage.FileStore
	Signer *signedurl.Signer
	// Links, when set, makes the download links instead of Signer: an S3
	// file store's presigned URLs.
	Links Linker
	// Secret is the server's secret, from which per-workspace pseudonym
	// keys are derived.
	Secret []byte
	// MaxRangeDays bounds a usage export's range; default
	// export.DefaultMaxRangeDays.
	MaxRangeDays int
	// ExportConcurrency bounds the usage exports running at once per
	// workspace; default DefaultExportConcurrency.
	ExportConcurrency int
	// Session, when set, finds the console member signed in on a request:
	// a call without a key then acts with the member's role's scopes
	// (usage.RoleScopes), and unsafe methods need the session's CSRF token
	// in X-CSRF-Token. The console's pages call the API this way.
	Session func(r *http.Request) (usage.SignedIn, bool)
	// Jobs, when set, runs the export jobs and schedules of
	// /api/v1/exports and /api/v1/schedules.
	Jobs *jobs.Runner
	// Audit, when set, records who did what (GET /api/v1/audit reads it
	// from Meta either way).
	Audit *audit.Log
	// Reclassifier, when set, is woken when a workspace's rules change, to
	// classify its stored calls again (reclassify.Runner).
	Reclassifier interface{ Wake() }
	// Alerts keeps the alert rules of /api/v1/alerts: the metadata store.
	// Without it those endpoints answer 503.
	Alerts alerts.Store
	// Erasures keeps the erasures of /api/v1/erasures: the metadata store.
	// Without it those endpoints answer 503. Eraser, when set, is woken
	// when one is requested (erasure.Runner).
	Erasures erasure.Store
	Eraser   interface{ Wake() }
	// Webhooks says where webhooks may go; a rule whose webhook it refuses
	// is refused when it is saved.
	Webhooks webhook.Policy
	// OTLP configures POST /v1/traces.
	OTLP OTLP
}

// DefaultExportRowLimit is the server's export row limit unless configured.
const DefaultExportRowLimit = 5_000_000

// Validate reports what is missing from c.
func (c *Config) Validate() error {
	var errs []error
	if c.Events == nil {
		errs = append(errs, errors.New("httpapi: events store is required"))
	}
	if c.Meta == nil {
		errs = append(errs, errors.New("httpapi: meta store is required"))
	}
	if c.MaxRangeDays < 0 || c.ExportConcurrency < 0 {
		errs = append(errs, errors.New("httpapi: max range days and export concurrency must not be negative"))
	}
	if c.ExportRowLimit < 0 {
		errs = append(errs, errors.New("httpapi: export row limit must not be negative"))
	}
	if c.MaxBodyBytes < 0 {
		errs = append(errs, errors.New("httpapi: max body bytes must not be negative"))
	}
	return errors.Join(errs...)
}

// Server serves the HTTP API.
type Server struct {
	events    usage.EventStore
	meta      Meta
	log       *slog.Logger
	metrics   *Metrics
	maxBody   int64
	maxFuture time.Duration
	// policies classify and redact what ingest and OTLP take, by their
	// workspace's rules.
	policies *ingest.Policies
	// reclassifier is woken when rules change (Config.Reclassifier).
	reclassifier interface{ Wake() }
	auditLog     *audit.Log
	alerts       alerts.Store
	erasures     erasure.Store
	eraser       interface{ Wake() }
	webhooks     webhook.Policy
	otlp         OTLP
	// knownCollections are the collections ensureCollection has seen
	// (collectionKey).
	knownCollections sync.Map
	// touching are the keys whose last use is being recorded (touchKey).
	touching sync.Map
	now      func() time.Time
	mux      *http.ServeMux
	rec      *Recorder
	limits   *limiter
	// exportRowLimit applies to workspaces that set none.
	exportRowLimit int64
	files          usage.FileStore
	signer         *signedurl.Signer
	links          Linker
	secret         []byte
	maxRangeDays   int
	running        *exportSlots
	session        func(r *http.Request) (usage.SignedIn, bool)
	jobs           *jobs.Runner
	exporter       *jobs.Exporter
	summaries      *summary.Service
	// defaultWorkspace receives calls no token attributes.
	defaultWorkspace int64
	// description is the OpenAPI document of the routes; registered are
	// their patterns, as the mux has them.
	description []byte
	registered  []string
}

// DefaultMaxBodyBytes is the ingest body limit unless configured.
const DefaultMaxBodyBytes = 10 << 20

// New returns a Server with every route registered.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		events: cfg.Events, meta: cfg.Meta, log: cfg.Logger, metrics: cfg.Metrics,
		maxBody: cfg.MaxBodyBytes, maxFuture: cmp.Or(cfg.MaxFuture, ingest.DefaultMaxFuture), policies: cmp.Or(cfg.Policies, &ingest.Policies{Rules: cfg.Meta}), auditLog: cfg.Audit, reclassifier: cfg.Reclassifier, alerts: cfg.Alerts, webhooks: cfg.Webhooks, otlp: cfg.OTLP, now: cfg.Now, mux: http.NewServeMux(),
		rec: cfg.Recorder, limits: newLimiter(cfg.RateLimits), exportRowLimit: cfg.ExportRowLimit,
		files: cfg.Files, signer: cfg.Signer, links: cfg.Links, secret: cfg.Secret, maxRangeDays: cfg.MaxRangeDays,
		running: &exportSlots{max: cfg.ExportConcurrency, running: map[int64]int{}}, session: cfg.Session,
		jobs: cfg.Jobs, erasures: cfg.Erasures, eraser: cfg.Eraser,
	}
	if s.maxRangeDays == 0 {
		s.maxRangeDays = export.DefaultMaxRangeDays
	}
	if s.running.max == 0 {
		s.running.max = DefaultExportConcurrency
	}
	if s.exportRowLimit == 0 {
		s.exportRowLimit = DefaultExportRowLimit
	}
	s.summaries = &summary.Service{Rollups: cfg.Events, Events: cfg.Events}
	s.exporter = &jobs.Exporter{Events: cfg.Events, Meta: cfg.Meta, Files: cfg.Files, Secret: cfg.Secret,
		MaxRangeDays: s.maxRangeDays, RowLimit: s.exportRowLimit}
	ws, err := cfg.Meta.EnsureWorkspace(context.Background(), usage.DefaultWorkspace)
	if err != nil {
		return nil, fmt.Errorf("httpapi: default workspace: %w", err)
	}
	s.defaultWorkspace = ws.ID
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxBody == 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.links == nil && s.signer != nil {
		s.links = s.signer
	}
	if s.now == nil {
		s.now = time.Now
	}
	table := s.table()
	s.routes(table)
	if s.description, err = describe(table); err != nil {
		return nil, err
	}
	return s, nil
}

// EventStore is an event store that keeps the rollups summaries read.
type EventStore interface {
	usage.EventStore
	summary.Source
}

// Linker makes the download link of a stored file.
type Linker interface {
	URL(path string, now time.Time) string
}

// allowed lists the methods another route takes at r's path: the mux
// answers a wrong method with 405 itself only where no catch-all route
// matches, and "/" matches everything.
func (s *Server) allowed(r *http.Request) []string {
	var allow []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if slices.Contains(allow, "GET") {
		allow = append(allow, "HEAD")
	}
	return allow
}

// Handle mounts another handler (the console) on the server's mux, so that
// it shares its metrics and its not-found answer.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// caller is who made an authenticated call.
type caller struct {
	Workspace usage.Workspace
	Key       usage.APIKey
}

type apiHandler func(w http.ResponseWriter, r *http.Request, c *caller) error

// api registers an endpoint that needs a key with rt's scope; its calls
// count against the key's rate limit of rt's group, and its errors are
// written as rt says.
func (s *Server) api(rt route) {
	s.registered = append(s.registered, rt.pattern)
	writeError := s.writeError
	if rt.statusErrors {
		writeError = s.writeStatusError
	}
	s.mux.HandleFunc(rt.pattern, func(w http.ResponseWriter, r *http.Request) {
		ri := info(r)
		ri.api = true
		c, err := s.authenticate(r.Context(), r, rt.scope)
		if c != nil {
			ri.caller = c
		}
		if err == nil {
			err = s.limits.allow(w, c.Key.ID, rt.group, s.now())
		}
		if err == nil {
			ri.started = s.now()
			err = rt.api(w, r, c)
		}
		if err != nil {
			writeError(w, r, err)
		}
	})
}

// requestInfo is what a request's handlers learn that the self-log needs.
type requestInfo struct {
	api     bool      // an API call (not a page or a probe)
	session bool      // made by the console's pages for a signed-in member
	caller  *caller   // who, once the token is known
	started time.Time // when the handler began, after auth
	refusal *usage.Error
}

type infoKey struct{}

func info(r *http.Request) *requestInfo {
	if ri, ok := r.Context().Value(infoKey{}).(*requestInfo); ok {
		return ri
	}
	return &requestInfo{}
}

// ServeHTTP serves the API, recording the duration of every request and,
// for API calls, the call itself.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	ri := &requestInfo{}
	r = r.WithContext(context.WithValue(r.Context(), infoKey{}, ri))
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	s.mux.ServeHTTP(sw, r)
	end := s.now()
	route := r.Pattern
	if route == "" || route == "/" {
		route = "unmatched"
	}
	if s.metrics != nil {
		s.metrics.observeRequest(route, r.Method, sw.status, end.Sub(start))
	}
	// The console's own calls are not its member's API traffic; calls
	// no valid token attributes are bounded per address, so that anyone
	// cannot grow a workspace's log.
	switch {
	case s.rec == nil || !ri.api || ri.session:
	case ri.caller == nil:
		ws, c := s.selfCall(r, ri, sw.status, start, end)
		s.rec.RecordUnattributed(ws, c)
	default:
		s.rec.Record(s.selfCall(r, ri, sw.status, start, end))
	}
}

// selfCall describes an API call for its workspace's log; calls no token
// attributes go to the default workspace. The recorder makes its fields
// what ingest accepts.
func (s *Server) selfCall(r *http.Request, ri *requestInfo, status int, start, end time.Time) (int64, capture.Call) {
	ws := s.defaultWorkspace
	c := capture.Call{
		Time: start, Method: r.Method, URL: r.URL.Path, Endpoint: routePath(r.Pattern), Status: status,
		Collection: SelfCollection, CollectionType: usage.CollectionProxy, IP: capture.ClientIP(r, nil), UserAgent: r.UserAgent(),
		TimingMS: end.Sub(start).Milliseconds(),
	}
	if c.Endpoint == "" {
		c.Endpoint = r.URL.Path
	}
	if ri.caller != nil {
		ws, c.Client = ri.caller.Workspace.ID, ri.caller.Key.Name
	}
	if !ri.started.IsZero() {
		c.DelayMS = ri.started.Sub(start).Milliseconds()
	}
	if ri.refusal != nil {
		c.GatewayCode, c.StatusDetails = ri.refusal.Gateway, ri.refusal.Message
	}
	return ws, c
}

// routePath is the path of a route pattern: "GET /api/v1/keys/{id}" gives
// "/api/v1/keys/{id}".
func routePath(pattern string) string {
	if _, p, ok := strings.Cut(pattern, " "); ok {
		return p
	}
	if pattern == "/" {
		return ""
	}
	return pattern
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, health{Status: "ok", Version: buildinfo.Read().Version})
}

// handleVersion names the running build: version, commit, build date, Go.
func (s *Server) handleVersion(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, buildinfo.Read())
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := readiness{Events: "ok", Meta: "ok"}
	status := http.StatusOK
	if err := s.events.Ping(ctx); err != nil {
		checks.Events, status = "unreachable", http.StatusServiceUnavailable
		s.log.Warn("readiness: events store", "err", err)
	}
	if err := s.meta.Ping(ctx); err != nil {
		checks.Meta, status = "unreachable", http.StatusServiceUnavailable
		s.log.Warn("readiness: meta store", "err", err)
	}
	writeJSON(w, status, checks)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}
