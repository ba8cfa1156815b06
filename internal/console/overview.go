package console

import (
	"context"
	"fmt"
	"time"

	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// overview is what the overview page shows of one period.
type overview struct {
	Period        string
	From, To      time.Time
	Starts        []time.Time // of the buckets
	Daily         bool
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

// loadOverview is the summary of the period ending with the bucket now is
// in, from the store's rollups: the same as GET /api/v1/summary.
func loadOverview(ctx context.Context, svc *summary.Service, workspaceID int64, period string, now time.Time, loc *time.Location) (*overview, error) {
	w, err := summary.PeriodWindow(period, now, loc)
	if err != nil {
		return nil, err
	}
	f := usage.LogFilter{From: w.From(), To: w.To(), TZ: loc}
	s, err := svc.Summary(ctx, workspaceID, summary.Request{Window: w, Filter: f})
	if err != nil {
		return nil, fmt.Errorf("overview: %w", err)
	}
	o := &overview{Period: period, From: w.From(), To: now, Daily: w.Step == summary.StepDay,
		Total: s.Total, Errors: s.Errors, P95: s.P95MS, MCP: s.MCP, Other: s.Other}
	for _, p := range s.Series {
		o.Starts = append(o.Starts, p.Start)
		o.Success = append(o.Success, p.Success)
		o.Failed = append(o.Failed, p.Failed)
	}
	for _, c := range s.TopClients[:min(len(s.TopClients), topClients)] {
		name := c.Client
		if name == "" {
			name = "(no client)"
		}
		o.Clients = append(o.Clients, clientCount{Name: name, Calls: c.Calls, Errors: c.Errors})
	}
	return o, nil
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
	if o.Daily {
		layout = "Jan 2"
	}
	for i := range n {
		okH := float64(o.Success[i]) * scale
		errH := float64(o.Failed[i]) * scale
		start := o.Starts[i].In(loc)
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
