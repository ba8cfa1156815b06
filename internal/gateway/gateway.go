// Package gateway is usagelog's recording API gateway: a reverse proxy that
// authenticates API clients of one collection, forwards their calls and
// records every call — refused ones with the gateway codes of
// docs/reference.md — as an api_request event through a capture.Recorder.
package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/usagelog/usagelog/capture"
	"github.com/usagelog/usagelog/internal/usage"
)

// Directory is where the gateway learns its collection and the clients
// allowed through: the store, or a usagelog server.
type Directory interface {
	Load(ctx context.Context) (usage.Collection, []usage.Client, error)
}

// Config configures a Gateway.
type Config struct {
	Upstream  *url.URL
	Directory Directory
	Recorder  *capture.Recorder
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// RatePerMinute limits each client (token bucket, a tenth of a minute
	// of burst); 0 means no limit.
	RatePerMinute int
	// MemberIDHeader, MemberNameHeader and JobHeader name request headers
	// whose values are recorded as the call's member id, member name and
	// job link (an application behind the gateway that knows them sends
	// them); empty records none. They are forwarded as they came.
	MemberIDHeader, MemberNameHeader, JobHeader string
	// LimitClock tells the time the rate limits count by; default
	// time.Now (tests move it instead of waiting for tokens).
	LimitClock func() time.Time
	// Refresh is how often the directory is read again, so that a revoked
	// client or a deactivated collection takes effect; default 5 s.
	Refresh   time.Duration
	Logger    *slog.Logger
	Transport http.RoundTripper
}

// Gateway is an http.Handler.
type Gateway struct {
	cfg   Config
	log   *slog.Logger
	proxy *httputil.ReverseProxy
	snap  atomic.Pointer[snapshot]

	limitMu  sync.Mutex
	limiters map[string]*rate.Limiter // by client id, kept across refreshes
}

// snapshot is one reading of the directory.
type snapshot struct {
	collection usage.Collection
	endpoints  []usage.Endpoint
	clients    map[[32]byte]*usage.Client // by SHA-256 of the token: no hex string a call
}

// New reads the directory once (an error if it cannot) and returns the
// gateway; Run keeps it fresh.
func New(ctx context.Context, cfg Config) (*Gateway, error) {
	if cfg.Upstream == nil || cfg.Upstream.Scheme == "" || cfg.Upstream.Host == "" {
		return nil, errors.New("gateway: the upstream must be an absolute URL such as http://127.0.0.1:9000")
	}
	if cfg.Directory == nil || cfg.Recorder == nil {
		return nil, errors.New("gateway: a directory and a recorder are required")
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 5 * time.Second
	}
	if cfg.LimitClock == nil {
		cfg.LimitClock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Transport == nil {
		std := &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		}
		cfg.Transport = std
		if cfg.Upstream.Scheme == "http" {
			cfg.Transport = newDirectTransport(hostPort(cfg.Upstream), std, 1024)
		}
	}
	g := &Gateway{cfg: cfg, log: cfg.Logger, limiters: map[string]*rate.Limiter{}}
	g.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(cfg.Upstream)
			pr.SetXForwarded()
			// The client's token is the gateway's business, not the
			// upstream's.
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Del("Api-Token")
			pr.Out.Header.Set("X-Forwarded-For", capture.ClientIP(pr.In, cfg.TrustedProxies))
		},
		Transport: cfg.Transport,
		// Without a pool each answer is copied through a fresh 32 KiB
		// buffer: 160 MB/s of garbage at 5,000 calls/s.
		BufferPool: &bufferPool{},
		// Default flushing: streamed answers (unknown length, event streams)
		// are flushed as they come; others go out in one write.
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if sw, ok := w.(*proxyWriter); ok {
				sw.upstreamDown = true
			}
			g.log.Warn("gateway: upstream", "err", err)
			writeRefusal(w, http.StatusBadGateway)
		},
	}
	if err := g.refresh(ctx); err != nil {
		return nil, err
	}
	return g, nil
}

func (g *Gateway) refresh(ctx context.Context) error {
	col, clients, err := g.cfg.Directory.Load(ctx)
	if err != nil {
		return fmt.Errorf("gateway: directory: %w", err)
	}
	s := &snapshot{collection: col, clients: make(map[[32]byte]*usage.Client, len(clients))}
	for _, e := range col.Endpoints {
		ep, err := usage.ParseEndpoint(e)
		if err != nil {
			return fmt.Errorf("gateway: collection %q: %w", col.Name, err)
		}
		s.endpoints = append(s.endpoints, ep)
	}
	for i := range clients {
		var sum [32]byte
		if n, err := hex.Decode(sum[:], []byte(clients[i].Hash)); err != nil || n != len(sum) {
			return fmt.Errorf("gateway: client %s: malformed token hash", clients[i].ID)
		}
		s.clients[sum] = &clients[i]
	}
	g.snap.Store(s)
	return nil
}

// Run reads the directory every Refresh until ctx ends. While it cannot be
// read, the last reading stands.
func (g *Gateway) Run(ctx context.Context) {
	t := time.NewTicker(g.cfg.Refresh)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := g.refresh(ctx)
		switch {
		case err != nil && !failing:
			g.log.Warn("gateway: keeping the last directory", "err", err)
		case err == nil && failing:
			g.log.Info("gateway: directory readable again")
		}
		failing = err != nil
	}
}

// ServeHTTP authenticates, checks, forwards and records one call.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	s := g.snap.Load()
	col := &s.collection
	c := capture.Call{
		Time: start, Method: r.Method, URL: r.URL.Path, Endpoint: r.URL.Path,
		Community: col.Community, Collection: col.Name, CollectionType: col.Type,
		IP: capture.ClientIP(r, g.cfg.TrustedProxies), UserAgent: r.Header.Get("User-Agent"),
	}
	for _, h := range []struct {
		name string
		to   *string
	}{{g.cfg.MemberIDHeader, &c.MemberID}, {g.cfg.MemberNameHeader, &c.MemberName}, {g.cfg.JobHeader, &c.JobURL}} {
		if h.name != "" {
			*h.to = r.Header.Get(h.name)
		}
	}
	defer func() {
		c.TimingMS = max(time.Since(start).Milliseconds()-c.DelayMS, 0)
		g.cfg.Recorder.Record(c)
	}()
	refuse := func(gw int, details string, extra func(http.Header)) {
		e := usage.Refusal(gw, details)
		c.GatewayCode, c.StatusDetails = gw, e.Message
		c.Status = usage.HTTPStatus(e)
		if extra != nil {
			extra(w.Header())
		}
		writeRefusal(w, c.Status)
	}
	// The endpoint a call is for is recorded whether or not it passes.
	endpointFound := len(s.endpoints) == 0
	for i := range s.endpoints {
		if s.endpoints[i].Match(r.Method, r.URL.Path) {
			c.Endpoint = endpointPath(s.endpoints[i].Pattern)
			endpointFound = true
			break
		}
	}

	token := bearer(r)
	if token == "" {
		refuse(usage.GatewayMissingToken, "", nil)
		return
	}
	cl := s.clients[sha256.Sum256([]byte(token))]
	switch {
	case cl == nil:
		refuse(usage.GatewayUnrecognizedToken, "", nil)
		return
	case cl.Revoked():
		c.Client = cl.Name
		refuse(usage.GatewayRevokedToken, "", nil)
		return
	}
	c.Client = cl.Name
	if !col.Active {
		refuse(usage.GatewayCollectionInactive, col.InactiveDetails(), nil)
		return
	}
	if !endpointFound {
		refuse(usage.GatewayEndpointNotFound, "", nil)
		return
	}
	if wait, ok := g.allow(cl.ID, g.cfg.LimitClock()); !ok {
		refuse(usage.GatewayRateLimited, "", func(h http.Header) {
			h.Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		})
		return
	}

	sw := &proxyWriter{StatusWriter: capture.StatusWriter{ResponseWriter: w}}
	c.DelayMS = time.Since(start).Milliseconds()
	g.proxy.ServeHTTP(sw, r)
	c.Status = sw.Status
	if sw.upstreamDown {
		c.StatusDetails = "Upstream unavailable"
	}
	if c.Status == 0 {
		c.Status = http.StatusBadGateway // the client went away before an answer
	}
}

// allow takes a token from the client's bucket, or says how long to wait.
func (g *Gateway) allow(clientID string, now time.Time) (time.Duration, bool) {
	if g.cfg.RatePerMinute <= 0 {
		return 0, true
	}
	g.limitMu.Lock()
	lim := g.limiters[clientID]
	if lim == nil {
		lim = rate.NewLimiter(rate.Limit(float64(g.cfg.RatePerMinute)/60), max(g.cfg.RatePerMinute/10, 1))
		g.limiters[clientID] = lim
	}
	g.limitMu.Unlock()
	res := lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

// bearer is the client's token from "Authorization: Bearer …" or an
// api-token header.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
		return ""
	}
	return strings.TrimSpace(r.Header.Get("Api-Token"))
}

// hostPort is the address to dial for an http URL.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// endpointPath drops a declared endpoint's method: the event records the
// method apart.
func endpointPath(pattern string) string {
	if _, path, ok := strings.Cut(pattern, " "); ok {
		return path
	}
	return pattern
}

// writeRefusal answers a refused caller with the status and its standard
// text only: the gateway code and status details are diagnostics for the
// logs and downloads, not for the caller.
func writeRefusal(w http.ResponseWriter, status int) {
	type detail struct {
		Status  int    `json:"status"`
		Message string `json:"message"`
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]detail{"error": {status, http.StatusText(status)}})
}

// bufferPool lends the proxy its copy buffers.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if buf, ok := b.p.Get().(*[]byte); ok {
		return *buf
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// proxyWriter is the status writer of a forwarded call, which the proxy's
// error handler marks when the upstream could not be reached.
type proxyWriter struct {
	capture.StatusWriter
	upstreamDown bool
}
