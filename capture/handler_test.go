package capture

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestHandlerRecordsCalls(t *testing.T) {
	sink := newMemSink()
	rec := newRecorder(t, sink, t.TempDir(), nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "short and stout")
	})
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok") // no WriteHeader: 200
	})
	trusted, err := ParseTrustedProxies([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	h := Handler(mux, Options{
		Recorder: rec, Collection: "Orders", Community: "Shop", CollectionType: "proxy",
		Client:         func(r *http.Request) string { return r.Header.Get("X-App") },
		Member:         func(r *http.Request) (string, string) { return r.Header.Get("X-Member-Id"), r.Header.Get("X-Member") },
		Job:            func(r *http.Request) string { return r.URL.Query().Get("job") },
		TrustedProxies: trusted,
	})
	srv := httptest.NewServer(h)
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/orders/42?x=1", nil)
	req.Header.Set("X-App", "Mobile <app>")
	req.Header.Set("User-Agent", "PostmanRuntime/7.43.3")
	req.Header.Set("X-Forwarded-For", "198.51.100.7")
	req.Header.Set("X-Member-Id", "m-7")
	req.Header.Set("X-Member", "Ann <Admin>")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot || string(body) != "short and stout" {
		t.Fatalf("the handler's answer changed: %d %q", resp.StatusCode, body)
	}
	resp, err = http.Post(srv.URL+"/orders?job=https://jobs.example.com/9", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, _ = http.Get(srv.URL + "/nowhere")
	resp.Body.Close()
	if err := rec.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(sink.batches) == 0 {
		t.Fatal("nothing delivered")
	}
	got := map[string]struct {
		endpoint, client, ip, ua, member, job string
		status                                int
	}{}
	for _, e := range sink.byID {
		got[e.Method+" "+e.URL] = struct {
			endpoint, client, ip, ua, member, job string
			status                                int
		}{e.Endpoint, e.Client, e.IP, e.UserAgent, e.MemberID + "/" + e.MemberName, e.JobURL, e.Status}
		if e.Collection != "Orders" || e.Community != "Shop" || e.CollectionType != "proxy" || time.Since(e.Time) > time.Minute {
			t.Errorf("labels of %s = %+v", e.URL, e)
		}
	}
	if g := got["GET /orders/42"]; g.endpoint != "/orders/{id}" || g.status != 418 || g.client != "Mobile <app>" || g.ip != "198.51.100.7" || g.ua != "PostmanRuntime/7.43.3" ||
		g.member != "m-7/Ann <Admin>" || g.job != "" {
		t.Errorf("GET /orders/42 recorded as %+v", g)
	}
	if g := got["POST /orders"]; g.endpoint != "/orders" || g.status != 200 || g.ip != "127.0.0.1" || g.member != "/" || g.job != "https://jobs.example.com/9" {
		t.Errorf("POST /orders recorded as %+v", g)
	}
	if g := got["GET /nowhere"]; g.endpoint != "/nowhere" || g.status != 404 {
		t.Errorf("GET /nowhere recorded as %+v", g)
	}
}

func TestClientIP(t *testing.T) {
	trusted, err := ParseTrustedProxies([]string{"10.0.0.0/8, 192.0.2.1", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"untrusted peer's header is ignored", "203.0.113.5:4000", []string{"1.2.3.4"}, "203.0.113.5"},
		{"trusted peer, one hop", "10.1.2.3:80", []string{"198.51.100.7"}, "198.51.100.7"},
		{"chain of trusted proxies", "10.1.2.3:80", []string{"6.6.6.6, 198.51.100.7, 10.9.9.9", "192.0.2.1"}, "198.51.100.7"},
		{"spoofed left entry is not used", "192.0.2.1:80", []string{"1.1.1.1, 198.51.100.8"}, "198.51.100.8"},
		{"garbage header", "10.1.2.3:80", []string{"<script>"}, "10.1.2.3"},
		{"only trusted hops", "10.1.2.3:80", []string{"10.0.0.9"}, "10.1.2.3"},
		{"no header", "10.1.2.3:80", nil, "10.1.2.3"},
		{"IPv6 loopback proxy", "[::1]:80", []string{"2001:db8::1"}, "2001:db8::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.peer
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ClientIP(r, trusted); got != tt.want {
				t.Errorf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := ParseTrustedProxies([]string{"10.0.0.0/33"}); err == nil {
		t.Error("a bad CIDR was accepted")
	}
}

func FuzzParseTrustedProxies(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "::1", "192.0.2.1, 10.0.0.0/8", "x", "1.2.3.4/99", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := ParseTrustedProxies([]string{s})
		if err != nil {
			return
		}
		for _, p := range ps {
			if !p.IsValid() {
				t.Fatalf("%q gave invalid prefix %v", s, p)
			}
		}
	})
}

// discardWriter is a ResponseWriter that costs nothing, so that the
// benchmark measures the middleware alone.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkHandler is the middleware's cost on the hot path: a request
// through Handler to a handler that does nothing, against the same handler
// called directly. The capture issue sets ≤ 1 µs and ≤ 2 allocations.
func BenchmarkHandler(b *testing.B) {
	noop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	req := httptest.NewRequest("GET", "/orders/42", nil)
	req.RemoteAddr = "198.51.100.7:51234"
	req.Header.Set("User-Agent", "bench")
	w := &discardWriter{h: http.Header{}}
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			noop.ServeHTTP(w, req)
		}
	})
	b.Run("captured", func(b *testing.B) {
		rec, err := New(Config{Sink: discardSink{}, SpoolDir: b.TempDir(), Buffer: 1 << 16})
		if err != nil {
			b.Fatal(err)
		}
		h := Handler(noop, Options{Recorder: rec, Collection: "Orders", CollectionType: "proxy", TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, req)
		}
		b.StopTimer()
		rec.Close(context.Background())
		if s := rec.Stats(); s.Dropped > 0 {
			b.ReportMetric(float64(s.Dropped), "dropped")
		}
	})
}
