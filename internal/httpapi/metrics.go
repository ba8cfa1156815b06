package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the Prometheus metrics of a usagelog process.
type Metrics struct {
	reg      *prometheus.Registry
	ingest   *prometheus.CounterVec
	requests *prometheus.HistogramVec
	store    *prometheus.HistogramVec
}

// NewMetrics registers usagelog's metrics, with the Go and process
// collectors, on a registry of their own.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		ingest: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "usagelog_ingest_events_total",
			Help: "Events received by ingest, by result: accepted, duplicate or rejected.",
		}, []string{"result"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "usagelog_http_request_duration_seconds",
			Help:    "HTTP request durations by route pattern, method and status code.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}, []string{"route", "method", "code"}),
		store: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "usagelog_store_operation_duration_seconds",
			Help:    "Store operation durations by operation.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12),
		}, []string{"op"}),
	}
	m.reg.MustRegister(m.ingest, m.requests, m.store,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry lets other parts of the process register their metrics.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ObserveStore records a store operation's duration; stores take it as
// their observer.
func (m *Metrics) ObserveStore(op string, d time.Duration) {
	m.store.WithLabelValues(op).Observe(d.Seconds())
}

func (m *Metrics) observeRequest(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Observe(d.Seconds())
}

// countIngest is safe on a nil *Metrics, so handlers need not check.
func (m *Metrics) countIngest(accepted, duplicates, rejected int) {
	if m == nil {
		return
	}
	if accepted > 0 {
		m.ingest.WithLabelValues("accepted").Add(float64(accepted))
	}
	if duplicates > 0 {
		m.ingest.WithLabelValues("duplicate").Add(float64(duplicates))
	}
	if rejected > 0 {
		m.ingest.WithLabelValues("rejected").Add(float64(rejected))
	}
}
