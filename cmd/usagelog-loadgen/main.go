// Command usagelog-loadgen measures the recording gateway's added latency:
// it sends requests at a fixed rate through the gateway and straight to the
// upstream, and prints both latencies and the difference. With -upstream it
// is instead the trivial upstream itself. scripts/gateway-bench.sh runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/usagelog/usagelog/internal/loadgen"
)

func main() {
	serve := flag.String("upstream", "", "serve the trivial upstream on this address instead of sending load")
	via := flag.String("via", "", "URL through the gateway, such as http://127.0.0.1:8081/orders")
	direct := flag.String("direct", "", "the same URL straight at the upstream")
	token := flag.String("token", "", "gateway client token, sent as Authorization: Bearer")
	rate := flag.Int("rate", 5000, "requests a second")
	n := flag.Int("n", 100_000, "requests through the gateway (and at most 100,000 direct)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *serve != "" {
		srv := &http.Server{Addr: *serve, Handler: loadgen.Upstream(), ReadHeaderTimeout: 5 * time.Second}
		go func() { <-ctx.Done(); srv.Close() }()
		if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
			fmt.Fprintln(os.Stderr, "usagelog-loadgen:", err)
			os.Exit(1)
		}
		return
	}
	if *via == "" || *direct == "" {
		fmt.Fprintln(os.Stderr, "usagelog-loadgen: -via and -direct are required (or -upstream ADDR)")
		os.Exit(2)
	}
	h := http.Header{"Authorization": {"Bearer " + *token}}
	gs := loadgen.ReadCPU()
	g, err := loadgen.Run(ctx, loadgen.Config{URL: *via, Header: h, Rate: *rate, Requests: *n})
	gs = loadgen.ReadCPU().Since(gs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "usagelog-loadgen:", err)
		os.Exit(1)
	}
	ds := loadgen.ReadCPU()
	d, err := loadgen.Run(ctx, loadgen.Config{URL: *direct, Rate: *rate, Requests: min(*n, 100_000)})
	ds = loadgen.ReadCPU().Since(ds)
	if err != nil {
		fmt.Fprintln(os.Stderr, "usagelog-loadgen:", err)
		os.Exit(1)
	}
	us := func(t time.Duration) float64 { return float64(t.Microseconds()) }
	fmt.Printf("gateway: %d requests at %d/s in %.1f s, %d failed, %d sent late; p50 %.0f µs, p99 %.0f µs, p99.9 %.0f µs%s\n",
		len(g.Latencies), *rate, g.Elapsed.Seconds(), g.Failed, g.Late, us(g.Percentile(.5)), us(g.Percentile(.99)), us(g.Percentile(.999)), gs)
	fmt.Printf("direct:  %d requests at %d/s in %.1f s, %d failed, %d sent late; p50 %.0f µs, p99 %.0f µs, p99.9 %.0f µs%s\n",
		len(d.Latencies), *rate, d.Elapsed.Seconds(), d.Failed, d.Late, us(d.Percentile(.5)), us(d.Percentile(.99)), us(d.Percentile(.999)), ds)
	fmt.Printf("added by the gateway: p50 %.0f µs, p99 %.0f µs\n", us(g.Percentile(.5)-d.Percentile(.5)), us(g.Percentile(.99)-d.Percentile(.99)))
	if g.Failed > 0 || d.Failed > 0 {
		os.Exit(1)
	}
}
