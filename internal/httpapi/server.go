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
	"time"

	"github.com/usagelog/usagelog/capture"
	"github.com/usagelog/usagelog/internal/audit"
	"github.com/usagelog/usagelog/internal/buildinfo"
	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/ingest"
	"github.com/usagelog/usagelog/internal/jobs"
	"github.com/usagelog/usagelog/internal/signedurl"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// Config configures a Server.
type Config struct {
	Events EventStore
	Meta   usage.MetaStore
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
	meta      usage.MetaStore
	log       *slog.Logger
	metrics   *Metrics
	maxBody   int64
	maxFuture time.Duration
	// classifiers classify ingested calls by their workspace's rules.
	classifiers *ingest.Classifiers
	auditLog    *audit.Log
	now         func() time.Time
	mux         *http.ServeMux
	rec         *Recorder
	limits      *limiter
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
		maxBody: cfg.MaxBodyBytes, maxFuture: cmp.Or(cfg.MaxFuture, ingest.DefaultMaxFuture), classifiers: &ingest.Classifiers{Rules: cfg.Meta}, auditLog: cfg.Audit, now: cfg.Now, mux: http.NewServeMux(),
		rec: cfg.Recorder, limits: newLimiter(cfg.RateLimits), exportRowLimit: cfg.ExportRowLimit,
		files: cfg.Files, signer: cfg.Signer, links: cfg.Links, secret: cfg.Secret, maxRangeDays: cfg.MaxRangeDays,
		running: &exportSlots{max: cfg.ExportConcurrency, running: map[int64]int{}}, session: cfg.Session,
		jobs: cfg.Jobs,
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
	s.routes()
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

// routes is the API's table: each endpoint with the scope it requires.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.handleHealthz)
	s.mux.HandleFunc("GET /readyz", s.handleReadyz)
	s.mux.HandleFunc("GET /version", s.handleVersion)
	if s.metrics != nil {
		s.mux.Handle("GET /metrics", s.metrics.Handler())
	}
	s.api("POST /api/v1/events", usage.ScopeEventsWrite, groupIngest, s.handleIngest)
	s.api("GET /api/v1/logs", usage.ScopeLogsRead, groupReads, s.handleLogs)
	s.api("GET /api/v1/logs.csv", usage.ScopeLogsRead, groupExports, s.handleLogsCSV)
	s.api("GET /api/v1/logs/facets", usage.ScopeLogsRead, groupReads, s.handleFacets)
	s.api("GET /api/v1/summary", usage.ScopeLogsRead, groupReads, s.handleSummary)
	// Every report of the catalogue, synchronously, with its scope; their
	// exact paths win over {id}.
	for _, rep := range export.Catalogue {
		s.api("GET /api/v1/exports/"+rep.Name, rep.Scope, groupExports, s.handleReportExport)
	}
	// Export jobs need the scope of their report, known from the body or
	// the stored job: the handlers check it.
	s.api("POST /api/v1/exports", anyScope, groupExports, s.handleCreateJob)
	s.api("GET /api/v1/exports", anyScope, groupReads, s.handleJobs)
	s.api("GET /api/v1/exports/{id}", anyScope, groupReads, s.handleExportsItem)
	s.api("DELETE /api/v1/exports/{id}", anyScope, groupExports, s.handleCancelJob)
	s.api("POST /api/v1/schedules", anyScope, groupAdmin, s.handleCreateSchedule)
	s.api("GET /api/v1/schedules", anyScope, groupReads, s.handleSchedules)
	s.api("GET /api/v1/schedules/{id}", anyScope, groupReads, s.handleSchedule)
	s.api("DELETE /api/v1/schedules/{id}", anyScope, groupAdmin, s.handleDeleteSchedule)
	s.mux.HandleFunc("GET /export/usage-reports", s.handleUsageReports)
	s.api("POST /export/{dataType}", usage.ScopeUsageExportAPI, groupExports, s.handleUsageExport)
	s.mux.HandleFunc("GET /files/{path...}", s.handleFile)
	s.api("GET /api/v1/keys", usage.ScopeWorkspaceAdmin, groupAdmin, s.handleKeys)
	s.api("POST /api/v1/keys", usage.ScopeWorkspaceAdmin, groupAdmin, s.handleCreateKey)
	s.api("DELETE /api/v1/keys/{id}", usage.ScopeWorkspaceAdmin, groupAdmin, s.handleRevokeKey)
	s.api("GET /api/v1/collections", usage.ScopeWorkspaceAdmin, groupAdmin, s.handleCollections)
	s.api("POST /api/v1/collections", usage.ScopeWorkspaceAdmin, groupAdmin, s.handleCreateCollection)
	s.api("GET /api/v1/collections/{name}", usage.ScopeWorkspaceAdmin, groupAdmin, s.handleCollection)
	s.api("PATCH /api/v1/collections/{name}", usage.ScopeWorkspaceAdmin, groupAdmin, s.handlePatchCollection)
	s.api("GET /api/v1/clients", usage.ScopeWorkspaceAdmin, groupAdmin, s.handleClients)
	s.api("POST /api/v1/clients", usage.ScopeWorkspaceAdmin, groupAdmin, s.handleCreateClient)
	s.api("DELETE /api/v1/clients/{id}", usage.ScopeWorkspaceAdmin, groupAdmin, s.handleRevokeClient)
	s.api("GET /api/v1/gateway/directory", usage.ScopeEventsWrite, groupReads, s.handleGatewayDirectory)
	s.api("GET /api/v1/workspace/settings", usage.ScopeWorkspaceAdmin, groupAdmin, s.handleSettings)
	s.api("PATCH /api/v1/workspace/settings", usage.ScopeWorkspaceAdmin, groupAdmin, s.handlePatchSettings)
	s.api("GET /api/v1/audit", usage.ScopeWorkspaceAdmin, groupReads, s.handleAudit)
	s.api("GET /api/v1/workspace/classification", usage.ScopeWorkspaceAdmin, groupAdmin, s.handleClassification)
	s.api("PUT /api/v1/workspace/classification", usage.ScopeWorkspaceAdmin, groupAdmin, s.handlePutClassification)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		info(r).api = true
		if allow := s.allowed(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.writeError(w, r, usage.Errorf(usage.EMethodNotAllowed, "%s %s: this endpoint takes %s", r.Method, r.URL.Path, strings.Join(allow, ", ")))
			return
		}
		s.writeError(w, r, usage.Refusal(usage.GatewayEndpointNotFound, ""))
	})
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

// api registers an endpoint that needs a key with scope; its calls count
// against the key's rate limit of group.
func (s *Server) api(pattern string, scope usage.Scope, g group, h apiHandler) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		ri := info(r)
		ri.api = true
		c, err := s.authenticate(r.Context(), r, scope)
		if c != nil {
			ri.caller = c
		}
		if err == nil {
			err = s.limits.allow(w, c.Key.ID, g, s.now())
		}
		if err == nil {
			ri.started = s.now()
			err = h(w, r, c)
		}
		if err != nil {
			s.writeError(w, r, err)
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
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": buildinfo.Read().Version})
}

// handleVersion names the running build: version, commit, build date, Go.
func (s *Server) handleVersion(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, buildinfo.Read())
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"events": "ok", "meta": "ok"}
	status := http.StatusOK
	if err := s.events.Ping(ctx); err != nil {
		checks["events"], status = "unreachable", http.StatusServiceUnavailable
		s.log.Warn("readiness: events store", "err", err)
	}
	if err := s.meta.Ping(ctx); err != nil {
		checks["meta"], status = "unreachable", http.StatusServiceUnavailable
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
