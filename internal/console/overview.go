package console

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// overviewPeriods are the overview's period switch: its span and buckets.
var overviewPeriods = []struct {
	Name    string
	Span    time.Duration
	Buckets int
}{
	{"24h", 24 * time.Hour, 24},
	{"7d", 7 * 24 * time.Hour, 28},
	{"30d", 30 * 24 * time.Hour, 30},
	{"90d", 90 * 24 * time.Hour, 45},
}

// overview is what the overview page shows of one period.
type overview struct {
	Period        string
	From, To      time.Time
	Bucket        time.Duration
	Total, Errors int64
	P95           int64 // ms
	MCP, Other    int64
	Success       []int64 // by bucket
	Failed        []int64
	Clients       []clientCount // most calls first, at most topClients
}

type clientCount struct {
	Name          string
	Calls, Errors int64
}

const topClients = 8

// ErrorRate is the share of calls answered 4xx or 5xx, in percent.
func (o *overview) ErrorRate() float64 {
	if o.Total == 0 {
		return 0
	}
	return 100 * float64(o.Errors) / float64(o.Total)
}

// MCPShare is the share of MCP calls, in percent.
func (o *overview) MCPShare() float64 {
	if o.Total == 0 {
		return 0
	}
	return 100 * float64(o.MCP) / float64(o.Total)
}

// loadOverview aggregates the api_request events of the period before now
// in one streamed pass, reading only the fields it needs.
func loadOverview(ctx context.Context, logs usage.LogScanner, workspaceID int64, period string, now time.Time, loc *time.Location) (*overview, error) {
	i := slices.IndexFunc(overviewPeriods, func(p struct {
		Name    string
		Span    time.Duration
		Buckets int
	}) bool {
		return p.Name == period
	})
	if i < 0 {
		return nil, usage.Errorf(usage.EInvalid, "unknown period %q (want 24h, 7d, 30d or 90d)", period)
	}
	p := overviewPeriods[i]
	bucket := p.Span / time.Duration(p.Buckets)
	end := alignEnd(now, bucket, loc)
	o := &overview{Period: p.Name, To: now, From: end.Add(-p.Span), Bucket: bucket,
		Success: make([]int64, p.Buckets), Failed: make([]int64, p.Buckets)}
	clients := map[string]*clientCount{}
	var timings []int64
	f := usage.LogFilter{From: o.From, To: end}
	for e, err := range logs.ScanLogs(ctx, workspaceID, f, "time", "status", "client", "timing_ms", "usage_type") {
		if err != nil {
			return nil, fmt.Errorf("overview: %w", err)
		}
		b := int(e.Time.Sub(o.From) / o.Bucket)
		if b < 0 || b >= p.Buckets {
			continue
		}
		o.Total++
		failed := e.Status >= 400
		if failed {
			o.Errors++
			o.Failed[b]++
		} else {
			o.Success[b]++
		}
		if e.UsageType == usage.UsageMCP {
			o.MCP++
		} else {
			o.Other++
		}
		timings = append(timings, e.TimingMS)
		name := e.Client
		if name == "" {
			name = "(no client)"
		}
		c := clients[name]
		if c == nil {
			c = &clientCount{Name: name}
			clients[name] = c
		}
		c.Calls++
		if failed {
			c.Errors++
		}
	}
	if len(timings) > 0 {
		slices.Sort(timings)
		o.P95 = timings[(len(timings)*95+99)/100-1]
	}
	all := slices.Collect(maps.Values(clients))
	slices.SortFunc(all, func(a, b *clientCount) int { return cmp.Or(cmp.Compare(b.Calls, a.Calls), cmp.Compare(a.Name, b.Name)) })
	for _, c := range all[:min(len(all), topClients)] {
		o.Clients = append(o.Clients, *c)
	}
	return o, nil
}

// alignEnd is the end of the bucket now falls in, counting buckets from
// local midnight, so that columns start on whole hours or days of the
// workspace's timezone; the last column is the one in progress.
func alignEnd(now time.Time, bucket time.Duration, loc *time.Location) time.Time {
	t := now.In(loc)
	midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	if bucket >= 24*time.Hour {
		return midnight.AddDate(0, 0, 1)
	}
	return midnight.Add((t.Sub(midnight)/bucket + 1) * bucket)
}

// Chart geometry, in SVG user units.
const (
	chartW, chartH   = 720.0, 220.0
	chartLeft        = 48.0
	chartBottom      = 24.0
	clientBarW       = 420.0
	clientRowH       = 26.0
	clientLabelWidth = 180.0
)

// bar is one stacked column of the requests chart.
type bar struct {
	X, W                 float64
	OkY, OkH, ErrY, ErrH float64
	Title                string
}

type tick struct {
	X, Y  float64
	Label string
}

// requestsChart lays out the stacked columns: successes below, errors on
// top, scaled to the tallest column.
func (o *overview) requestsChart(loc *time.Location) (bars []bar, yMax int64, xTicks []tick) {
	n := len(o.Success)
	for i := range n {
		yMax = max(yMax, o.Success[i]+o.Failed[i])
	}
	plotW, plotH := chartW-chartLeft, chartH-chartBottom
	step := plotW / float64(n)
	scale := 0.0
	if yMax > 0 {
		scale = plotH / float64(yMax)
	}
	layout := "Jan 2, 15:04"
	if o.Bucket >= 24*time.Hour {
		layout = "Jan 2"
	}
	for i := range n {
		okH := float64(o.Success[i]) * scale
		errH := float64(o.Failed[i]) * scale
		start := o.From.Add(time.Duration(i) * o.Bucket).In(loc)
		bars = append(bars, bar{
			X: chartLeft + float64(i)*step + 1, W: max(step-2, 1),
			OkY: plotH - okH, OkH: okH, ErrY: plotH - okH - errH, ErrH: errH,
			Title: fmt.Sprintf("%s: %d successful, %d errors", start.Format(layout), o.Success[i], o.Failed[i]),
		})
		if i%max(n/6, 1) == 0 {
			xTicks = append(xTicks, tick{X: chartLeft + float64(i)*step, Y: chartH - 6, Label: start.Format(layout)})
		}
	}
	return bars, yMax, xTicks
}

// clientBar is one row of the top-clients chart.
type clientBar struct {
	Y, OkW, ErrW float64
	Name         string
	Calls        int64
	Errors       int64
}

func (o *overview) clientsChart() []clientBar {
	var top int64
	for _, c := range o.Clients {
		top = max(top, c.Calls)
	}
	var out []clientBar
	for i, c := range o.Clients {
		scale := 0.0
		if top > 0 {
			scale = clientBarW / float64(top)
		}
		out = append(out, clientBar{Y: float64(i) * clientRowH, OkW: float64(c.Calls-c.Errors) * scale, ErrW: float64(c.Errors) * scale, Name: c.Name, Calls: c.Calls, Errors: c.Errors})
	}
	return out
}
