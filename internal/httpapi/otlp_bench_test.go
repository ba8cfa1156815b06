package httpapi_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/usagelog/usagelog/internal/clickhouse"
	"github.com/usagelog/usagelog/internal/httpapi"
	"github.com/usagelog/usagelog/internal/loadgen"
	"github.com/usagelog/usagelog/internal/usage"
)

// BenchmarkOTLP posts the demo generator's calls as OTLP protobuf bodies
// of 1,000 SERVER spans (format=otlp) and, beside them in the same run,
// as NDJSON bodies of the same 1,000 calls (format=ndjson), into SQLite
// and into ClickHouse (USAGELOG_TEST_CLICKHOUSE); spans/s is the figure the
// OpenTelemetry issue sets: 100,000 into SQLite, 200,000 into ClickHouse.
// store=clickhouse-norollups is ClickHouse with the rollup views dropped,
// from eight clients: what the server costs a span without them.
func BenchmarkOTLP(b *testing.B) {
	for _, store := range []string{"sqlite", "clickhouse", "clickhouse-norollups"} {
		for _, clients := range []int{1, 8} {
			for _, format := range []string{"otlp", "ndjson"} {
				if store == "clickhouse-norollups" && (clients != 8 || format != "otlp") {
					continue
				}
				b.Run(fmt.Sprintf("store=%s/clients=%d/format=%s", store, clients, format), func(b *testing.B) {
					benchOTLP(b, store, format, clients)
				})
			}
		}
	}
}

// benchOTLP posts b.N bodies of 1,000 of the demo's calls, as format, into
// store from clients at once.
func benchOTLP(b *testing.B, store, format string, clients int) {
	var h *harness
	var events usage.EventStore
	if strings.HasPrefix(store, "clickhouse") {
		dsn := fmt.Sprintf("clickhouse://%s/usagelog_otlp_%d_%d", clickhouseServer(), os.Getpid(), time.Now().UnixNano())
		ch, err := clickhouse.Open(context.Background(), dsn)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ch.DropDatabase(context.Background()); ch.Close() })
		if store == "clickhouse-norollups" {
			dropRollupViews(b, dsn)
		}
		h, events = newHarness(b, 0, func(c *httpapi.Config) { c.Events = ch }), ch
	} else {
		h = newHarness(b, 0)
		events = h.store
	}
	const n = 1000
	calls := demoCalls(b, b.N*n, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	spans := spanIDs(calls)
	bodies := make([][]byte, b.N)
	size := 0
	for i := range bodies {
		if format == "otlp" {
			bodies[i] = spansOf(b, calls[i*n:(i+1)*n], spans[i*n:(i+1)*n])
		} else {
			bodies[i] = []byte(ndjson(b, calls[i*n:(i+1)*n]))
		}
		size += len(bodies[i])
	}
	b.SetBytes(int64(size / len(bodies)))
	path, ct := "/api/v1/events", "application/x-ndjson"
	if format == "otlp" {
		path, ct = "/v1/traces", "application/x-protobuf"
	}
	token := h.key(h.ws, usage.ScopeEventsWrite)
	cpu, self := loadgen.ReadCPU(), loadgen.ProcessCPU()
	postRaw(b, h, token, path, ct, "", bodies, clients)
	cpu, self = loadgen.ReadCPU().Since(cpu), loadgen.ProcessCPU()-self
	if got, _ := events.Count(context.Background(), h.ws.ID, usage.KindAPIRequest); got != int64(len(calls)) {
		b.Fatalf("stored %d, want %d", got, len(calls))
	}
	b.ReportMetric(float64(len(calls))/b.Elapsed().Seconds(), "spans/s")
	// The machine's CPU while the bodies went in (this process, its
	// client side included, and the ClickHouse server): a figure of
	// spans/s is out of reach where busy-µs/span times it exceeds the
	// cores' microseconds in a second.
	if busy := cpu.Busy(); busy > 0 {
		b.ReportMetric(100*busy.Seconds()/cpu.Elapsed().Seconds(), "busy-%")
		b.ReportMetric(float64(busy.Microseconds())/float64(len(calls)), "busy-µs/span")
		// This process alone (usagelog and its client), and the rest:
		// the ClickHouse server, and little else on an idle machine.
		b.ReportMetric(float64(self.Microseconds())/float64(len(calls)), "process-µs/span")
		b.ReportMetric(float64((busy-self).Microseconds())/float64(len(calls)), "others-µs/span")
	}
}

// spanID is a span's trace and span ids.
type spanID struct {
	trace pcommon.TraceID
	span  pcommon.SpanID
}

// spanIDs gives each call random trace and span ids, as the SDKs make them
// (W3C trace context), and the event id usagelog derives from them
// (otlp's spanEventID): the NDJSON bodies carry the ids their spans map to.
func spanIDs(calls []usage.Event) []spanID {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]spanID, len(calls))
	for i := range calls {
		var id spanID
		binary.BigEndian.PutUint64(id.trace[:8], r.Uint64())
		binary.BigEndian.PutUint64(id.trace[8:], r.Uint64())
		binary.BigEndian.PutUint64(id.span[:], r.Uint64()|1)
		out[i] = id
		calls[i].ID = fmt.Sprintf("otel-%013d-%s-%s", calls[i].Time.UnixMilli(), id.trace, id.span)
	}
	return out
}

// spansOf is an ExportTraceServiceRequest of calls as an otelhttp
// instrumented service would send them: a resource a collection, a
// SERVER span a call with the current semantic conventions' attributes.
func spansOf(b *testing.B, calls []usage.Event, ids []spanID) []byte {
	td := ptrace.NewTraces()
	byCollection := map[string]ptrace.SpanSlice{}
	for i, e := range calls {
		spans, ok := byCollection[e.Collection]
		if !ok {
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr("service.name", e.Collection)
			spans = rs.ScopeSpans().AppendEmpty().Spans()
			byCollection[e.Collection] = spans
		}
		sp := spans.AppendEmpty()
		sp.SetTraceID(ids[i].trace)
		sp.SetSpanID(ids[i].span)
		sp.SetName(e.Method + " " + e.Endpoint)
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(e.Time))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(e.Time.Add(time.Duration(e.TimingMS) * time.Millisecond)))
		a := sp.Attributes()
		a.PutStr("http.request.method", e.Method)
		a.PutStr("url.path", e.URL)
		if e.Endpoint != "" {
			a.PutStr("http.route", e.Endpoint)
		}
		a.PutInt("http.response.status_code", int64(e.Status))
		a.PutStr("user_agent.original", e.UserAgent)
		a.PutStr("client.address", e.IP)
		a.PutStr("usagelog.client", e.Client)
		if e.MemberID != "" {
			a.PutStr("enduser.id", e.MemberID)
		}
	}
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		b.Fatal(err)
	}
	return body
}
