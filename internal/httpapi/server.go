// Package httpapi is usagelog's REST API: routes, authentication by scoped
// keys, and the one place where domain errors become HTTP statuses.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// Config configures a Server.
type Config struct {
	Events usage.EventStore
	Meta   usage.MetaStore
	Logger *slog.Logger
	// Metrics, when set, receives request and ingest metrics and is served
	// at /metrics.
	Metrics *Metrics
	// MaxBodyBytes bounds an ingest body; default 10 MiB.
	MaxBodyBytes int64
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Validate reports what is missing from c.
func (c *Config) Validate() error {
	var errs []error
	if c.Events == nil {
		errs = append(errs, errors.New("httpapi: events store is required"))
	}
	if c.Meta == nil {
		errs = append(errs, errors.New("httpapi: meta store is required"))
	}
	if c.MaxBodyBytes < 0 {
		errs = append(errs, errors.New("httpapi: max body bytes must not be negative"))
	}
	return errors.Join(errs...)
}

// Server serves the HTTP API.
type Server struct {
	events  usage.EventStore
	meta    usage.MetaStore
	log     *slog.Logger
	metrics *Metrics
	maxBody int64
	now     func() time.Time
	mux     *http.ServeMux
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
		maxBody: cfg.MaxBodyBytes, now: cfg.Now, mux: http.NewServeMux(),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxBody == 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.routes()
	return s, nil
}

// routes is the API's table: each endpoint with the scope it requires.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.handleHealthz)
	s.mux.HandleFunc("GET /readyz", s.handleReadyz)
	if s.metrics != nil {
		s.mux.Handle("GET /metrics", s.metrics.Handler())
	}
	s.api("POST /api/v1/events", usage.ScopeEventsWrite, s.handleIngest)
	s.api("GET /api/v1/logs", usage.ScopeLogsRead, s.handleLogs)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, usage.Refusal(usage.GatewayEndpointNotFound, ""))
	})
}

// caller is who made an authenticated call.
type caller struct {
	Workspace usage.Workspace
	Key       usage.APIKey
}

type apiHandler func(w http.ResponseWriter, r *http.Request, c *caller) error

// api registers an endpoint that needs a key with scope.
func (s *Server) api(pattern string, scope usage.Scope, h apiHandler) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c, err := s.authenticate(r.Context(), r, scope)
		if err == nil {
			err = h(w, r, c)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

// ServeHTTP serves the API, recording the duration of every request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	s.mux.ServeHTTP(sw, r)
	if s.metrics != nil {
		route := r.Pattern
		if route == "" || route == "/" {
			route = "unmatched"
		}
		s.metrics.observeRequest(route, r.Method, sw.status, s.now().Sub(start))
	}
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
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
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
