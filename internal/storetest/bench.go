package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// LogsFirstPage runs the first-page benchmark cases on a store holding a
// busy day: the page of 101 rows of day, unfiltered, errors only, and one
// MCP client's calls. Every store's benchmark reads the same pages.
func LogsFirstPage(b *testing.B, s usage.EventStore, day time.Time, mcpClient string) {
	to := day.AddDate(0, 0, 1)
	cases := []struct {
		name string
		f    usage.LogFilter
	}{
		{"Unfiltered", usage.LogFilter{From: day, To: to}},
		{"Errors", usage.LogFilter{From: day, To: to, StatusClasses: []int{4, 5}}},
		{"OneClientMCP", usage.LogFilter{From: day, To: to, Clients: []string{mcpClient}, UsageType: usage.TypeMCP}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				page, err := s.Logs(context.Background(), 1, usage.LogQuery{LogFilter: c.f, Limit: 101})
				if err != nil || len(page) != 101 {
					b.Fatalf("%d rows, %v; want a full page of 101", len(page), err)
				}
			}
		})
	}
}

// TimeCalls runs call once, reported apart as first-ms (what a store just
// opened answers), then b.N times, reported as ms/op.
func TimeCalls(b *testing.B, call func()) {
	b.Helper()
	start := time.Now()
	call()
	first := time.Since(start)
	b.ResetTimer()
	for b.Loop() {
		call()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
	b.ReportMetric(float64(first.Microseconds())/1000, "first-ms")
}

// BenchCollection is a collection of the demo's that the benchmarks
// filter on.
const BenchCollection = "Ideas API"

// LogsPeriodsBench reads the first logs page (limit+1 rows, as the API
// asks) of every period up to now, unfiltered and filtered by one client,
// one collection and a status class (5xx), as the console's logs page and
// GET /api/v1/logs do; first-ms is the first call of each case.
func LogsPeriodsBench(b *testing.B, s usage.EventStore, now time.Time, client string) {
	periods := []struct {
		name string
		d    time.Duration
	}{{"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}, {"30d", 30 * 24 * time.Hour}, {"90d", 90 * 24 * time.Hour}}
	for _, p := range periods {
		filters := []struct {
			name string
			f    usage.LogFilter
		}{
			{"", usage.LogFilter{}}, {"/OneClient", usage.LogFilter{Clients: []string{client}}},
			{"/OneCollection", usage.LogFilter{Collections: []string{BenchCollection}}}, {"/5xx", usage.LogFilter{StatusClasses: []int{5}}},
		}
		for _, f := range filters {
			b.Run(p.name+f.name, func(b *testing.B) {
				q := usage.LogQuery{LogFilter: f.f, Limit: 51}
				q.From, q.To = now.Add(-p.d), now
				call := func() {
					page, err := s.Logs(context.Background(), 1, q)
					if err != nil || len(page) == 0 {
						b.Fatalf("%d rows, %v", len(page), err)
					}
				}
				TimeCalls(b, call)
			})
		}
	}
}

// SummariesBench runs the summary benchmark cases on a store whose workspace 1
// holds a busy year of calls up to now, as the console and the summary API
// ask for them: the summary of every period, unfiltered and filtered by one
// client, one collection and a status class (5xx); 90 days in
// Asia/Kathmandu (where days start at a quarter past the hour); and the
// facets of every period, unfiltered and for one client. The first call of
// each case is reported apart as first-ms: the rows' pages not yet in the
// store's cache.
func SummariesBench(b *testing.B, s SummaryStore, now time.Time, client string) {
	svc := &summary.Service{Rollups: s, Events: s}
	type benchCase struct {
		name, query string
		facets      bool
	}
	var cases []benchCase
	filters := []struct{ name, query string }{
		{"", ""}, {"/OneClient", "&client=" + url.QueryEscape(client)},
		{"/OneCollection", "&collection=" + url.QueryEscape(BenchCollection)}, {"/5xx", "&status_class=5xx"},
	}
	for _, p := range []string{"24h", "7d", "30d", "90d"} {
		for _, f := range filters {
			cases = append(cases, benchCase{p + f.name, "period=" + p + f.query, false})
		}
	}
	cases = append(cases, benchCase{"90d/Kathmandu", "period=90d&tz=Asia/Kathmandu", false})
	for _, p := range []string{"24h", "7d", "30d", "90d"} {
		cases = append(cases, benchCase{"Facets" + p, "period=" + p, true},
			benchCase{"Facets" + p + "/OneClient", "period=" + p + "&client=" + url.QueryEscape(client), true})
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			q, _ := url.ParseQuery(c.query)
			parse := summary.ParseRequest
			if c.facets {
				parse = summary.ParseFacetsRequest
			}
			req, err := parse(q, now, time.UTC)
			if err != nil {
				b.Fatal(err)
			}
			call := func() {
				var total int64
				if c.facets {
					f, err := svc.Facets(context.Background(), 1, req)
					if err != nil {
						b.Fatal(err)
					}
					for _, st := range f.Statuses {
						total += st.Calls
					}
				} else {
					sum, err := svc.Summary(context.Background(), 1, req)
					if err != nil {
						b.Fatal(err)
					}
					total = sum.Total
				}
				if total == 0 && !strings.Contains(c.query, "5xx") {
					b.Fatalf("%s: no calls", c.query)
				}
			}
			TimeCalls(b, call)
		})
	}
}

// PurgeUnderIngest times purge on s (the benchmark's timer runs for it
// alone) while a client ingests batches of 500 new calls dated from
// after, and reports the events removed and the client's p99 latency
// during the purge against the 5 seconds before it: how long retention
// holds up ingest. Every store's purge benchmark measures it this way.
func PurgeUnderIngest(b *testing.B, s usage.EventStore, after time.Time, purge func() (int64, error)) {
	ctx := context.Background()
	ingest := func(stop <-chan struct{}, prefix string) []time.Duration {
		var lat []time.Duration
		live := Fixture(500)
		for k := 0; ; k++ {
			select {
			case <-stop:
				return lat
			default:
			}
			for j := range live {
				live[j].ID = fmt.Sprintf("%s%d-%d", prefix, k, j)
				live[j].Time = after.Add(time.Duration(k) * time.Minute)
			}
			t0 := time.Now()
			if _, err := s.Append(ctx, 1, live); err != nil {
				b.Error(err)
				return lat
			}
			lat = append(lat, time.Since(t0))
		}
	}
	p99 := func(lat []time.Duration) float64 {
		if len(lat) == 0 {
			return 0
		}
		slices.Sort(lat)
		return float64(lat[len(lat)*99/100]) / float64(time.Millisecond)
	}
	stop := make(chan struct{})
	go func() { time.Sleep(5 * time.Second); close(stop) }()
	before := ingest(stop, "before")
	stop = make(chan struct{})
	during := make(chan []time.Duration)
	go func() { during <- ingest(stop, "during") }()
	b.StartTimer()
	removed, err := purge()
	b.StopTimer()
	close(stop)
	lat := <-during
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(removed), "events-removed")
	b.ReportMetric(p99(before), "ingest-p99-before-ms")
	b.ReportMetric(p99(lat), "ingest-p99-during-ms")
}

// Arrival stores n api_request events through Append in batches of 10,000,
// as ingest stores them, in time order or in random time order, then
// exports every row with export (the api-usage CSV: the export package's
// tests use this package), reads the first logs page and, when s is a
// usage.LogScanner, counts the rows. Metrics: ingest events/s, export
// rows/s, first-page ms and count ms. The events are ArrivalEvent's.
func Arrival(b *testing.B, s usage.EventStore, n int, random bool, export func(context.Context) (int, error)) {
	ctx := context.Background()
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	idx := ArrivalOrder(n, random)
	const batch = 10_000
	events := make([]usage.Event, 0, batch)
	start := time.Now()
	for i := 0; i < n; i += batch {
		events = events[:0]
		for _, j := range idx[i:min(i+batch, n)] {
			events = append(events, ArrivalEvent(int(j), n, end))
		}
		if _, err := s.Append(ctx, 1, events); err != nil {
			b.Fatal(err)
		}
	}
	ingest := time.Since(start)
	b.ReportMetric(float64(n)/ingest.Seconds(), "ingest-events/s")

	start = time.Now()
	rows, err := export(ctx)
	if err != nil || rows != n {
		b.Fatalf("%d rows, %v", rows, err)
	}
	b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "export-rows/s")

	const pages = 20
	start = time.Now()
	for range pages {
		if _, err := s.Logs(ctx, 1, usage.LogQuery{Limit: 100}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/pages/1000, "first-page-ms")

	// The count an export checks its row limit against and sizes its
	// progress with.
	if ls, ok := s.(usage.LogScanner); ok {
		start = time.Now()
		if got, err := ls.CountLogs(ctx, 1, usage.LogFilter{}); err != nil || got != int64(n) {
			b.Fatalf("count: %d, %v; want %d", got, err, n)
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "count-ms")
	}
}

// ArrivalOrder is the order Arrival's events arrive in: 0 to n-1, or
// the same shuffled (always alike).
func ArrivalOrder(n int, random bool) []int32 {
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	if random {
		rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	}
	return idx
}

// ArrivalEvent is the i-th of n calls spread evenly over the year before
// end.
func ArrivalEvent(i, n int, end time.Time) usage.Event {
	step := 365 * 24 * time.Hour / time.Duration(n)
	clients := []string{"Slack integration", "Claude MCP", "Data Team", "Cursor IDE"}
	statuses := []int{200, 200, 200, 201, 401, 404, 500, 429}
	return usage.Event{Kind: usage.KindAPIRequest, ID: "e" + strconv.Itoa(i), Time: end.Add(-365 * 24 * time.Hour).Add(time.Duration(i) * step),
		Method: "GET", URL: "/a/rest/v1/ideas/" + strconv.Itoa(i%5000), Endpoint: "/a/rest/v1/ideas/{id}", Status: statuses[i%8],
		Community: []string{"Product Ideas", "Support", "Research"}[i%3], Collection: []string{"AI assistant", "Ideas API"}[i%2],
		CollectionType: []string{"recipe", "proxy"}[i%2], Client: clients[i%4], MemberID: "m-" + strconv.Itoa(i%300),
		MemberName: "Member " + strconv.Itoa(i%300), IP: "198.51.100." + strconv.Itoa(i%250),
		UserAgent: []string{"PostmanRuntime/7.43.3", "ideascale-mcp-server/1.0.0"}[i%2], TimingMS: int64(i % 900),
		ClientClass: []usage.ClientClass{"rest_client", "mcp"}[i%2], UsageType: []usage.Type{"other", "mcp"}[i%2]}
}

// EnvInt is the benchmark size in environment variable name, def when it
// is unset.
func EnvInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return n
}

// Leaky puts secrets where services leak them into calls, as the
// redaction benchmarks send them: one call in ten gets a token in its
// query, one in fifty an email in its path and one in fifty a key in its
// user agent.
func Leaky(calls []usage.Event) {
	for i := range calls {
		switch e := &calls[i]; {
		case i%10 == 0:
			e.URL += "?access_token=" + fmt.Sprintf("%032x", i)
		case i%50 == 1:
			e.URL += "/members/user" + strconv.Itoa(i) + "@example.com"
		case i%50 == 2:
			e.UserAgent += " key=" + strconv.Itoa(i)
		}
	}
}
