// Package loadgen sends HTTP requests at a fixed rate and measures their
// latency: the load behind the gateway's latency figures. It is open loop —
// request i is sent at start + i/rate whether or not earlier ones have
// answered — so a slow server cannot slow the load down and hide its tail.
package loadgen

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes one run.
type Config struct {
	// URL is requested with "/" and the request's number appended.
	URL      string
	Header   http.Header
	Rate     int // requests a second
	Requests int
	// Workers bounds requests in flight; default 64.
	Workers int
}

// Result is what a run measured.
type Result struct {
	Latencies []time.Duration // by request, from send to the answer read
	Failed    int             // transport errors and non-2xx answers
	Late      int             // requests sent over 1 ms after they were due
	Elapsed   time.Duration
}

// Percentile returns the latency below which a share p of requests fall.
func (r Result) Percentile(p float64) time.Duration {
	s := slices.Clone(r.Latencies)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[int(float64(len(s)-1)*p)]
}

// Run sends cfg.Requests requests and waits for every answer.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Rate <= 0 || cfg.Requests <= 0 {
		return Result{}, fmt.Errorf("loadgen: rate and requests must be positive")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 64
	}
	tr := &http.Transport{MaxIdleConns: cfg.Workers, MaxIdleConnsPerHost: cfg.Workers}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	res := Result{Latencies: make([]time.Duration, cfg.Requests)}
	var next, failed, late atomic.Int64
	interval := time.Second / time.Duration(cfg.Rate)
	start := time.Now().Add(10 * time.Millisecond)
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= cfg.Requests {
					return
				}
				due := start.Add(time.Duration(i) * interval)
				time.Sleep(time.Until(due))
				sent := time.Now()
				if sent.Sub(due) > time.Millisecond {
					late.Add(1)
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.URL+"/"+strconv.Itoa(i), nil)
				if err != nil {
					failed.Add(1)
					continue
				}
				for k, v := range cfg.Header {
					req.Header[k] = v
				}
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				res.Latencies[i] = time.Since(sent)
				if resp.StatusCode/100 != 2 {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Failed, res.Late = int(failed.Load()), int(late.Load())
	return res, ctx.Err()
}

// Upstream is the trivial API behind the gateway in the measurements: it
// answers every request with 200 and "ok".
func Upstream() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
	})
}

// CPU is the machine's CPU time so far, from /proc/stat (Linux), in clock
// ticks: on a virtual machine the host may take some of it (steal), which
// shows in latency and is worth printing beside it.
type CPU struct{ total, idle, steal uint64 }

// ReadCPU reads /proc/stat; the zero CPU where there is none.
func ReadCPU() CPU {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return CPU{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return CPU{}
	}
	var c CPU
	for i, s := range f[1:9] { // user nice system idle iowait irq softirq steal
		n, _ := strconv.ParseUint(s, 10, 64)
		c.total += n
		switch i {
		case 3, 4: // a core waiting for I/O is idle too
			c.idle += n
		case 7:
			c.steal = n
		}
	}
	return c
}

// Since is the CPU time between earlier and c.
func (c CPU) Since(earlier CPU) CPU {
	return CPU{c.total - earlier.total, c.idle - earlier.idle, c.steal - earlier.steal}
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/stat: 100 on
// every Linux architecture Go builds for.
const clockTicks = 100

// Busy is the CPU time of an interval (c, from Since) that the machine's
// processes used, on every core together; 0 when unknown.
func (c CPU) Busy() time.Duration {
	return time.Duration(c.total-c.idle-c.steal) * time.Second / clockTicks
}

// Elapsed is the interval's CPU time on every core together, busy or not.
func (c CPU) Elapsed() time.Duration {
	return time.Duration(c.total) * time.Second / clockTicks
}

// ProcessCPU is this process's CPU time so far, user and system, from
// /proc/self/stat (Linux); 0 where there is none. Beside the machine's
// (ReadCPU), it tells this process's share from the others', such as a
// database server's on the same machine.
func ProcessCPU() time.Duration {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: the fields
	// counted here start after it, with the state (the stat's third).
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	var ticks uint64
	for _, s := range f[11:13] { // utime, stime: the stat's 14th and 15th
		n, _ := strconv.ParseUint(s, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// String is ", machine busy B%, host took S%" of the interval, or "" when
// unknown.
func (c CPU) String() string {
	if c.total == 0 {
		return ""
	}
	pct := func(n uint64) float64 { return 100 * float64(n) / float64(c.total) }
	return fmt.Sprintf("; machine busy %.0f%%, taken by the host %.0f%%", pct(c.total-c.idle-c.steal), pct(c.steal))
}
