package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// directTransport forwards body-less GET, HEAD and OPTIONS calls to a
// plain-HTTP upstream over pooled HTTP/1.1 connections, in the calling
// goroutine: it writes the request and reads the answer itself. net/http's
// Transport hands every call to two goroutines per connection, and on a
// small machine those hand-offs are most of the gateway's tail latency
// (BenchmarkTransport; scripts/gateway-bench.sh). Everything else — bodies,
// upgrades, other methods, https — goes to the fallback, which also keeps
// net/http's retry rules for calls that are not safe to send twice.
type directTransport struct {
	addr        string // host:port of the upstream
	fallback    http.RoundTripper
	dialer      net.Dialer
	idleTimeout time.Duration

	mu   sync.Mutex
	idle []*upstreamConn // most recently used last
	max  int
}

// upstreamConn is one pooled connection to the upstream.
type upstreamConn struct {
	c        net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	lastUsed time.Time
}

func newDirectTransport(addr string, fallback http.RoundTripper, maxIdle int) *directTransport {
	return &directTransport{
		addr:        addr,
		fallback:    fallback,
		dialer:      net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second},
		idleTimeout: 30 * time.Second,
		max:         maxIdle,
	}
}

// direct reports whether a call can take the fast path: sending it again on
// a fresh connection, after a pooled one turned out closed, is harmless.
func direct(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		return false
	}
	return req.URL.Scheme == "http" && (req.Body == nil || req.Body == http.NoBody) &&
		req.Header.Get("Upgrade") == "" && !req.Close
}

func (t *directTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !direct(req) {
		return t.fallback.RoundTrip(req)
	}
	ctx := req.Context()
	for {
		uc, reused, err := t.get(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := t.exchange(ctx, uc, req)
		if err == nil {
			return resp, nil
		}
		uc.c.Close()
		// A pooled connection the upstream had already closed fails before
		// any answer: send again on a new one, as net/http does for these
		// methods.
		if reused && ctx.Err() == nil && errors.Is(err, errNoAnswer) {
			continue
		}
		return nil, err
	}
}

var errNoAnswer = errors.New("connection closed before an answer")

// exchange writes req on uc and reads the answer's head; the body is read
// by the caller, and uc goes back to the pool when it has been read to the
// end.
func (t *directTransport) exchange(ctx context.Context, uc *upstreamConn, req *http.Request) (*http.Response, error) {
	// A call given up by its client must not wait on the upstream.
	stop := context.AfterFunc(ctx, func() { uc.c.SetDeadline(time.Unix(1, 0)) })
	if err := req.Write(uc.bw); err != nil {
		stop()
		return nil, fmt.Errorf("write to upstream: %w: %w", errNoAnswer, err)
	}
	if err := uc.bw.Flush(); err != nil {
		stop()
		return nil, fmt.Errorf("write to upstream: %w: %w", errNoAnswer, err)
	}
	for {
		if _, err := uc.br.Peek(1); err != nil {
			stop()
			return nil, fmt.Errorf("read from upstream: %w: %w", errNoAnswer, err)
		}
		resp, err := http.ReadResponse(uc.br, req)
		if err != nil {
			stop()
			return nil, fmt.Errorf("read from upstream: %w", err)
		}
		switch {
		case resp.StatusCode == http.StatusSwitchingProtocols:
			stop()
			return nil, errors.New("read from upstream: 101 Switching Protocols to a call that asked for no upgrade")
		case resp.StatusCode >= 100 && resp.StatusCode < 200:
			continue // informational (103 Early Hints): the final answer follows
		}
		resp.Body = &pooledBody{t: t, uc: uc, body: resp.Body, stop: stop, keep: !resp.Close}
		return resp, nil
	}
}

// get takes the most recently used idle connection, or dials one.
func (t *directTransport) get(ctx context.Context) (*upstreamConn, bool, error) {
	now := time.Now()
	t.mu.Lock()
	for n := len(t.idle); n > 0; n = len(t.idle) {
		uc := t.idle[n-1]
		t.idle = t.idle[:n-1]
		if now.Sub(uc.lastUsed) < t.idleTimeout {
			t.mu.Unlock()
			return uc, true, nil
		}
		uc.c.Close()
	}
	t.mu.Unlock()
	c, err := t.dialer.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, false, fmt.Errorf("dial upstream: %w", err)
	}
	return &upstreamConn{c: c, br: bufio.NewReaderSize(c, 4<<10), bw: bufio.NewWriterSize(c, 4<<10)}, false, nil
}

func (t *directTransport) put(uc *upstreamConn) {
	uc.lastUsed = time.Now()
	t.mu.Lock()
	if len(t.idle) < t.max {
		t.idle = append(t.idle, uc)
		uc = nil
	}
	t.mu.Unlock()
	if uc != nil {
		uc.c.Close()
	}
}

// CloseIdleConnections closes the pooled connections and the fallback's.
func (t *directTransport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, uc := range idle {
		uc.c.Close()
	}
	if c, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// pooledBody is an answer's body; read to its end, it returns the
// connection to the pool.
type pooledBody struct {
	t    *directTransport
	uc   *upstreamConn
	body io.ReadCloser
	stop func() bool
	keep bool // the upstream did not ask to close
	done bool
}

func (b *pooledBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.finish(true)
	}
	return n, err
}

func (b *pooledBody) Close() error {
	b.finish(false)
	return nil
}

// finish releases the connection once: back to the pool when the body was
// read to the end and no cancellation touched its deadline, closed
// otherwise.
func (b *pooledBody) finish(atEOF bool) {
	if b.done {
		return
	}
	b.done = true
	if b.stop() && atEOF && b.keep {
		b.t.put(b.uc)
		return
	}
	b.uc.c.Close()
}
