package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingTransport counts the calls it passes on.
type countingTransport struct {
	http.RoundTripper
	n atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.RoundTripper.RoundTrip(r)
}

// upstreamWithConns serves h and counts the connections it accepted.
func upstreamWithConns(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func newTestTransport(t *testing.T, srv *httptest.Server) (*directTransport, *countingTransport) {
	t.Helper()
	u, _ := url.Parse(srv.URL)
	fb := &countingTransport{RoundTripper: &http.Transport{}}
	tr := newDirectTransport(hostPort(u), fb, 8)
	t.Cleanup(tr.CloseIdleConnections)
	return tr, fb
}

func call(t *testing.T, tr http.RoundTripper, ctx context.Context, method, target, body string) (*http.Response, string, error) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

func TestDirectTransport(t *testing.T) {
	tests := []struct {
		name     string
		handler  http.HandlerFunc
		method   string
		body     string
		want     string
		wantCode int
		// conns is how many connections the upstream sees over three calls.
		conns    int64
		fallback int64
	}{
		{
			name:    "get reuses one connection",
			handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok "+r.URL.Path) },
			method:  http.MethodGet, want: "ok /orders/1", wantCode: 200, conns: 1,
		},
		{
			name: "chunked answer arrives whole",
			handler: func(w http.ResponseWriter, r *http.Request) {
				for _, part := range []string{"a", "b", "c"} {
					io.WriteString(w, part)
					w.(http.Flusher).Flush()
				}
			},
			method: http.MethodGet, want: "abc", wantCode: 200, conns: 1,
		},
		{
			name:    "head has no body",
			handler: func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Content-Length", "10") },
			method:  http.MethodHead, want: "", wantCode: 200, conns: 1,
		},
		{
			name: "early hints come before the answer",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Link", "</app.css>; rel=preload")
				w.WriteHeader(http.StatusEarlyHints)
				w.WriteHeader(http.StatusCreated)
				io.WriteString(w, "made")
			},
			method: http.MethodGet, want: "made", wantCode: 201, conns: 1,
		},
		{
			name: "upstream asks to close",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Connection", "close")
				io.WriteString(w, "bye")
			},
			method: http.MethodGet, want: "bye", wantCode: 200, conns: 3,
		},
		{
			name: "a body goes through net/http",
			handler: func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				io.WriteString(w, "got "+string(b))
			},
			method: http.MethodPost, body: "payload", want: "got payload", wantCode: 200, conns: 1, fallback: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, conns := upstreamWithConns(t, tt.handler)
			tr, fb := newTestTransport(t, srv)
			for range 3 {
				resp, got, err := call(t, tr, context.Background(), tt.method, srv.URL+"/orders/1", tt.body)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tt.wantCode || got != tt.want {
					t.Fatalf("got %d %q, want %d %q", resp.StatusCode, got, tt.wantCode, tt.want)
				}
			}
			if n := conns.Load(); n != tt.conns {
				t.Errorf("upstream saw %d connections, want %d", n, tt.conns)
			}
			if n := fb.n.Load(); n != tt.fallback {
				t.Errorf("%d calls went through net/http, want %d", n, tt.fallback)
			}
		})
	}
}

// A pooled connection the upstream closed while it was idle is replaced
// without the caller seeing an error.
func TestDirectTransportRetriesClosedIdleConnection(t *testing.T) {
	srv, conns := upstreamWithConns(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	tr, _ := newTestTransport(t, srv)
	for i := range 3 {
		if _, got, err := call(t, tr, context.Background(), http.MethodGet, srv.URL+"/x", ""); err != nil || got != "ok" {
			t.Fatalf("call %d: %q, %v", i, got, err)
		}
		srv.CloseClientConnections()
		waitPooledClosed(t, tr)
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("upstream saw %d connections, want 3", n)
	}
}

// waitPooledClosed waits until the pooled connection reads the
// upstream's close, so that the next call takes a connection closed
// while idle.
func waitPooledClosed(t *testing.T, tr *directTransport) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		tr.mu.Lock()
		if len(tr.idle) == 0 {
			tr.mu.Unlock()
			t.Fatal("no pooled connection")
		}
		uc := tr.idle[len(tr.idle)-1]
		uc.c.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
		_, err := uc.br.Peek(1)
		uc.c.SetReadDeadline(time.Time{})
		tr.mu.Unlock()
		if errors.Is(err, io.EOF) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pooled connection did not see the close in 10 s: %v", err)
		}
	}
}

// A call its client gave up on stops waiting for the upstream, and its
// connection is not pooled with a stale answer still to come.
func TestDirectTransportCancel(t *testing.T) {
	release := make(chan struct{})
	srv, conns := upstreamWithConns(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "answer "+r.URL.Path)
	}))
	defer close(release)
	tr, _ := newTestTransport(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, _, err := call(t, tr, ctx, http.MethodGet, srv.URL+"/slow", ""); err == nil {
		t.Fatal("a cancelled call returned no error")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("a cancelled call took %v", d)
	}
	_, got, err := call(t, tr, context.Background(), http.MethodGet, srv.URL+"/fast", "")
	if err != nil || got != "answer /fast" {
		t.Fatalf("next call: %q, %v", got, err)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("upstream saw %d connections, want 2 (the cancelled one dropped)", n)
	}
}

// An upstream that is down is an error, not a hang.
func TestDirectTransportUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	tr := newDirectTransport(addr, &http.Transport{}, 8)
	_, _, err = call(t, tr, context.Background(), http.MethodGet, "http://"+addr+"/", "")
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Fatalf("got %v, want a dial error", err)
	}
}

// BenchmarkTransport is why the gateway has its own transport: the cost of
// one forwarded GET through net/http's Transport and through the direct
// one, against a trivial upstream on loopback.
func BenchmarkTransport(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	for _, bt := range []struct {
		name string
		tr   http.RoundTripper
	}{
		{"net-http", &http.Transport{MaxIdleConnsPerHost: 64}},
		{"direct", newDirectTransport(hostPort(u), http.DefaultTransport, 64)},
	} {
		b.Run(bt.name, func(b *testing.B) {
			b.ReportAllocs()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/orders/1", nil)
			for b.Loop() {
				resp, err := bt.tr.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
