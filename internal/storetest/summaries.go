package storetest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// SummaryStore is an event store that keeps rollups.
type SummaryStore interface {
	usage.EventStore
	usage.LogScanner
	summary.Source
	// Communities lists the communities the workspace's API calls name,
	// in any order (the export form's choices).
	Communities(ctx context.Context, workspaceID int64) ([]string, error)
}

// SummaryNow is the clock of the summaries suite: mid-quarter-hour, so that
// every period's last bucket is in progress.
var SummaryNow = time.Date(2026, 11, 3, 14, 37, 21, 0, time.UTC)

// RandomCalls returns n api_request events at random times of the 100 days
// before now, with random statuses, clients, collections, communities,
// user agents (so usage types) and log-normal timings up to minutes.
func RandomCalls(seed uint64, n int, now time.Time) []usage.Event {
	return randomCalls(seed, n, now, 100*24*time.Hour)
}

// randomCalls is RandomCalls over the span before now.
func randomCalls(seed uint64, n int, now time.Time, within time.Duration) []usage.Event {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	statuses := []int{200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 502, 503}
	clients := []string{"Data Team", "Claude MCP", "Slack integration", "=cmd|'/C calc'!A0", "<b>Partner</b>", ""}
	// usagelog's own calls among them: summaries leave them out unless a
	// filter names their collection.
	collections := []struct{ name, ctype string }{{"Ideas API", "proxy"}, {"Members sync", "recipe"}, {"Reporting", "proxy"}, {"", ""}, {usage.SelfCollection, "proxy"}}
	communities := []string{"Innovation Hub", "Product Ideas", "Employee Voice", ""}
	agents := []struct{ url, ua string }{
		{"/a/rest/v1/ideas", "ideascale-mcp-server/1.0.0"}, {"/a/rest/chat/x", "Java/21"},
		{"/a/rest/v1/members", "PostmanRuntime/7.43.3"}, {"/a/rest/backend/v1/s", "axios/1.7.7"},
	}
	out := make([]usage.Event, n)
	span := int64(within / time.Millisecond)
	for i := range out {
		t := now.Add(-time.Duration(rng.Int64N(span)) * time.Millisecond)
		if i%5 == 0 {
			// Some calls exactly on quarter hours, where buckets meet.
			t = t.Truncate(15 * time.Minute)
		}
		col := collections[rng.IntN(len(collections))]
		ag := agents[rng.IntN(len(agents))]
		e := usage.Event{
			Kind: usage.KindAPIRequest, ID: fmt.Sprintf("sum-%d-%06d", seed, i), Time: usage.TruncateMS(t),
			Method: []string{"GET", "POST", "GET", "DELETE"}[i%4], URL: ag.url, UserAgent: ag.ua, Status: statuses[rng.IntN(len(statuses))],
			Client: clients[rng.IntN(len(clients))], Collection: col.name, CollectionType: col.ctype,
			Community: communities[rng.IntN(len(communities))],
			TimingMS:  int64(math.Exp(3.5 + 1.6*rng.NormFloat64())),
		}
		e.ClientClass, e.UsageType = usage.Classify(e.URL, e.UserAgent)
		out[i] = e
	}
	return out
}

// summaryFilters are the filters the suite checks each window with.
var summaryFilters = []struct{ name, query string }{
	{"None", ""},
	{"Client", "client=Data+Team"},
	{"HostileClient", "client=%3Dcmd%7C%27%2FC+calc%27%21A0"},
	{"TwoClients", "client=Claude+MCP&client=Slack+integration"},
	{"Collection", "collection=Ideas+API"},
	{"CollectionType", "collection_type=recipe"},
	{"Community", "community=Product+Ideas"},
	{"UsageMCP", "usage_type=mcp"},
	{"UsageOther", "usage_type=other"},
	{"Status", "status=404,500"},
	{"StatusClass", "status_class=4xx"},
	{"Combined", "client=Data+Team&collection_type=proxy&community=Innovation+Hub&usage_type=other"},
	{"SelfCollection", "collection=usagelog+API"},
	{"SelfAndOther", "collection=usagelog+API&collection=Reporting"},
	// The rollups keep no method: these are read from the events.
	{"Method", "method=POST"},
	{"MethodAndClient", "method=get,delete&client=Data+Team"},
}

// Summaries checks a store's rollups against a full scan of random
// events: every period and from/to windows with times off the quarter-hour
// grid, in UTC, Asia/Kathmandu (+05:45) and America/New_York, with every
// filter. Counts must be equal, p95 within 2% of the exact value.
func Summaries(t *testing.T, open func(t *testing.T) SummaryStore) {
	ctx := context.Background()
	s := open(t)
	events := RandomCalls(7, 6000, SummaryNow)
	// Bursts where the windows below begin and end off the quarter-hour
	// grid, so that the events read at a window's ends are many and of
	// every filter's values (a hundred days of 6,000 calls leave a few
	// minutes empty).
	for i, end := range []time.Time{SummaryNow, SummaryNow.Add(-24 * time.Hour).Add(20 * time.Minute),
		SummaryNow.Add(-7 * 24 * time.Hour).Add(20 * time.Minute), time.Date(2026, 10, 30, 10, 30, 0, 0, time.UTC),
		time.Date(2026, 11, 3, 9, 20, 0, 0, time.UTC)} {
		events = append(events, randomCalls(uint64(20+i), 150, end, 40*time.Minute)...)
	}
	// Re-sent events count once: a batch that overlaps the one before by
	// 525 events (so that one insert statement holds both kinds), an id
	// twice in one batch, and a batch of nothing new.
	second := append(slices.Clone(events[3000:]), events[5990])
	// New events at the times of stored ones add to their rollup rows.
	again := slices.Clone(events[:700])
	for i := range again {
		again[i].ID = "again-" + again[i].ID
	}
	for _, b := range [][]usage.Event{events[:3525], second, events[100:200], again} {
		if _, err := s.Append(ctx, 1, b); err != nil {
			t.Fatal(err)
		}
	}
	events = append(events, again...)
	// Another workspace's calls never show.
	if _, err := s.Append(ctx, 2, RandomCalls(8, 500, SummaryNow)); err != nil {
		t.Fatal(err)
	}
	windows := []string{"period=24h", "period=7d", "period=30d", "period=90d",
		"from=2026-08-01&to=2026-10-15", "from=2026-10-30T10:07:13Z&to=2026-11-02T23:59:59.999Z",
		"from=2026-11-03T09:01:00Z&to=2026-11-03T09:11:00Z", "from=2026-07-01"}
	CompareSummaries(t, s, 1, events, windows, "UTC", "Asia/Kathmandu", "America/New_York")
	svc := &summary.Service{Rollups: s, Events: s}
	t.Run("Communities", func(t *testing.T) {
		// Every community of the workspace's calls, however old, but
		// none of usagelog's own calls' or another workspace's.
		const ws = 4 // 3 is the empty one
		calls := append(RandomCalls(9, 300, SummaryNow),
			usage.Event{Kind: usage.KindAPIRequest, ID: "old-community", Time: SummaryNow.AddDate(-1, 0, 1), Method: "GET", URL: "/x", Status: 200, Community: "Archived <b>community</b>"},
			usage.Event{Kind: usage.KindAPIRequest, ID: "self-community", Time: SummaryNow.Add(-time.Hour), Method: "GET", URL: "/api/v1/logs", Status: 200, Community: "Only in self", Collection: usage.SelfCollection})
		if _, err := s.Append(ctx, ws, calls); err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, e := range calls {
			if e.Community != "" && e.Collection != usage.SelfCollection && !slices.Contains(want, e.Community) {
				want = append(want, e.Community)
			}
		}
		got, err := s.Communities(ctx, ws)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) || len(want) < 3 {
			t.Errorf("communities %q, want %q", got, want)
		}
	})
	t.Run("Reclassify", func(t *testing.T) {
		// New rules for the stored calls: the logs, the summaries and
		// the facets follow them, as if the calls had been stored under
		// them.
		rules := usage.Classifier{
			{UserAgentPrefix: "java/", System: "Chat <b>bot</b>", UsageType: usage.TypeMCP},
			{URLPrefix: "/a/rest/v1/", System: "REST 'tool'", UsageType: usage.TypeOther},
		}
		var steps [][2]int64
		changed, err := s.Reclassify(ctx, 1, rules, false, func(done, total int64) { steps = append(steps, [2]int64{done, total}) })
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for i := range events {
			e := &events[i]
			c, u := rules.Classify(e.URL, e.UserAgent)
			if c != e.ClientClass || u != e.UsageType {
				want++
			}
			e.ClientClass, e.UsageType = c, u
		}
		if changed != int64(want) || want == 0 {
			t.Errorf("reclassified %d calls, want %d", changed, want)
		}
		if len(steps) < 2 || steps[len(steps)-1][0] != steps[len(steps)-1][1] {
			t.Errorf("progress %v does not end done", steps)
		}
		CompareSummaries(t, s, 1, events, []string{"period=24h", "period=90d", "from=2026-10-30T10:07:13Z&to=2026-11-02T23:59:59.999Z"}, "UTC", "Asia/Kathmandu")
		checkClasses(t, s, 1, rules)
		if again, err := s.Reclassify(ctx, 1, rules, false, nil); err != nil || again != 0 {
			t.Errorf("a second run changed %d calls (%v), want none", again, err)
		}
		// The other workspace's calls keep the defaults.
		checkClasses(t, s, 2, usage.Classifier(usage.DefaultRules))
	})
	t.Run("ReclassifyAsIngestDoes", func(t *testing.T) {
		// Whatever the store classifies with (SQL or Go), a call gets
		// what ingest would give it: URLs with a host, agents in another
		// case or among white space, shorter than a prefix, not ASCII.
		const ws = 5
		urls := []string{"/a/rest/v1/ideas", "https://x.example/a/rest/v1/ideas?q=1", "https://x.example", "http://h/a/rest/v", "/a/rest/v1", "/ä/rest/v1/", "",
			"ftp://a://b/a/rest/v1/x", "/A/REST/V1/x"}
		agents := []string{"Java/21", "  \tJAVA/8 ", "java", "Jäva/1", "", "PostmanRuntime/7", "\u00a0Java/1", "ideascale-MCP-server/2"}
		var calls []usage.Event
		for i, u := range urls {
			for j, a := range agents {
				calls = append(calls, usage.Event{Kind: usage.KindAPIRequest, ID: fmt.Sprintf("odd-%d-%d", i, j), Time: SummaryNow.Add(-time.Duration(i*len(agents)+j) * time.Minute),
					Method: "GET", URL: u, UserAgent: a, Status: 200, ClientClass: "old", UsageType: usage.TypeOther})
			}
		}
		if _, err := s.Append(ctx, ws, calls); err != nil {
			t.Fatal(err)
		}
		rules := usage.Classifier{
			{URLPrefix: "/a/rest/v1/", UserAgentPrefix: "JAVA/", System: "both", UsageType: usage.TypeMCP},
			{UserAgentPrefix: "Ideascale-mcp-server/", System: "mcp", UsageType: usage.TypeMCP},
			{URLPrefix: "/", System: "any path", UsageType: usage.TypeOther},
			{UserAgentPrefix: "j", System: "j agent", UsageType: usage.TypeOther},
		}
		if _, err := s.Reclassify(ctx, ws, rules, false, nil); err != nil {
			t.Fatal(err)
		}
		checkClasses(t, s, ws, rules)
		if _, err := s.Reclassify(ctx, ws, usage.Classifier{}, false, nil); err != nil {
			t.Fatal(err)
		}
		checkClasses(t, s, ws, usage.Classifier{})
	})
	t.Run("ReclassifyWhileIngesting", func(t *testing.T) {
		// Calls stored into the same days while a reclassification runs
		// count once, by the rules in force (ingest classifies them so).
		const ws = 6
		old := RandomCalls(11, 3000, SummaryNow)
		if _, err := s.Append(ctx, ws, old); err != nil {
			t.Fatal(err)
		}
		rules := ReclassifyRules
		fresh := RandomCalls(12, 3000, SummaryNow)
		for i := range fresh {
			fresh[i].ClientClass, fresh[i].UsageType = rules.Classify(fresh[i].URL, fresh[i].UserAgent)
		}
		errc := make(chan error, 1)
		go func() {
			for i := 0; i < len(fresh); i += 100 {
				if _, err := s.Append(ctx, ws, fresh[i:i+100]); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
		if _, err := s.Reclassify(ctx, ws, rules, false, nil); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		all := append(old, fresh...)
		for i := range all {
			all[i].ClientClass, all[i].UsageType = rules.Classify(all[i].URL, all[i].UserAgent)
		}
		CompareSummaries(t, s, ws, all, []string{"period=90d", "period=24h"}, "UTC")
		checkClasses(t, s, ws, rules)
	})
	t.Run("AfterPurge", func(t *testing.T) {
		// Retention removes the rollups with the events: the summaries
		// then agree with a scan of what is left.
		cutoff := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
		n, err := s.PurgeEvents(ctx, 1, cutoff)
		if err != nil {
			t.Fatal(err)
		}
		var kept []usage.Event
		for _, e := range events {
			if !e.Time.Before(cutoff) {
				kept = append(kept, e)
			}
		}
		if n != int64(len(events)-len(kept)) {
			t.Errorf("purged %d events, want %d", n, len(events)-len(kept))
		}
		CompareSummaries(t, s, 1, kept, []string{"period=90d", "from=2026-08-01&to=2026-10-15"}, "UTC", "Asia/Kathmandu")
	})
	t.Run("EmptyWorkspace", func(t *testing.T) {
		req, err := summary.ParseRequest(url.Values{"period": {"7d"}}, SummaryNow, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		got, err := svc.Summary(ctx, 3, req)
		if err != nil {
			t.Fatal(err)
		}
		if got.Total != 0 || len(got.Series) != 28 || len(got.TopClients) != 0 || got.P95MS != 0 {
			t.Errorf("empty workspace: %+v", got)
		}
	})
}

// CompareSummaries checks the store's summaries and facets of workspaceID,
// which holds events, against a full scan of them: each window (query
// parameters) in each zone with every filter.
func CompareSummaries(t *testing.T, s SummaryStore, workspaceID int64, events []usage.Event, windows []string, zones ...string) {
	t.Helper()
	ctx := context.Background()
	svc := &summary.Service{Rollups: s, Events: s}
	// Every window ends at SummaryNow, as an alert pass's do: one pass
	// shares the events at their ends across them all.
	pass := svc.Pass()
	for _, zone := range zones {
		for _, win := range windows {
			for i, f := range summaryFilters {
				name := fmt.Sprintf("%s/%s/%s", zone, win, f.name)
				raw := win + "&tz=" + zone
				if f.query != "" {
					raw += "&" + f.query
				}
				q, err := url.ParseQuery(raw)
				if err != nil {
					t.Fatal(err)
				}
				req, err := summary.ParseRequest(q, SummaryNow, time.UTC)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				got, err := svc.Summary(ctx, workspaceID, req)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				want, wantFacets, _ := summary.Reference(events, req)
				compareSummary(t, name, got, want)
				// An alert's measure: the same totals, series and p95
				// without the dimensions, in a pass; every other filter
				// without the timings too.
				totalsReq := req
				totalsReq.TotalsOnly, totalsReq.NoTiming = true, i%2 == 1
				totals, err := pass.Summary(ctx, workspaceID, totalsReq)
				if err != nil {
					t.Fatalf("%s: totals only: %v", name, err)
				}
				wantTotals := *want
				wantTotals.TopClients, wantTotals.MCP, wantTotals.Other = nil, 0, 0
				if totalsReq.NoTiming {
					wantTotals.P95MS = 0
				}
				compareSummary(t, name+" (totals only)", totals, &wantTotals)
				gotFacets, err := svc.Facets(ctx, workspaceID, req)
				if err != nil {
					t.Fatalf("%s: facets: %v", name, err)
				}
				if !reflect.DeepEqual(gotFacets, wantFacets) {
					t.Errorf("%s: facets\n got %+v\nwant %+v", name, gotFacets, wantFacets)
				}
			}
		}
	}
}

func compareSummary(t *testing.T, name string, got, want *summary.Summary) {
	t.Helper()
	if got.Total != want.Total || got.Errors != want.Errors || got.MCP != want.MCP || got.Other != want.Other {
		t.Errorf("%s: total/errors/mcp/other = %d/%d/%d/%d, want %d/%d/%d/%d", name,
			got.Total, got.Errors, got.MCP, got.Other, want.Total, want.Errors, want.MCP, want.Other)
	}
	if !reflect.DeepEqual(got.Series, want.Series) {
		t.Errorf("%s: series\n got %v\nwant %v", name, got.Series, want.Series)
	}
	if !reflect.DeepEqual(got.TopClients, want.TopClients) {
		t.Errorf("%s: top clients\n got %v\nwant %v", name, got.TopClients, want.TopClients)
	}
	if d := math.Abs(float64(got.P95MS - want.P95MS)); d > 0.02*float64(want.P95MS) {
		t.Errorf("%s: p95 = %d ms, exact %d ms: more than 2%% off", name, got.P95MS, want.P95MS)
	}
}

// checkClasses checks that every stored call of the workspace has the
// class and type rules give it.
func checkClasses(t *testing.T, s SummaryStore, workspaceID int64, rules usage.Classifier) {
	t.Helper()
	n := 0
	for e, err := range s.ScanLogs(context.Background(), workspaceID, usage.LogFilter{}, "id", "url", "user_agent", "client_class", "usage_type") {
		if err != nil {
			t.Fatal(err)
		}
		n++
		c, u := rules.Classify(e.URL, e.UserAgent)
		if e.ClientClass != c || e.UsageType != u {
			t.Errorf("call %s (%q, %q): %q %q, want %q %q", e.ID, e.URL, e.UserAgent, e.ClientClass, e.UsageType, c, u)
		}
	}
	if n == 0 {
		t.Errorf("workspace %d holds no calls", workspaceID)
	}
}

// ReclassifyRules change the system of nearly every call of the demo data
// and the usage type of most (the reclassification benchmarks).
var ReclassifyRules = usage.Classifier{
	{UserAgentPrefix: "ideascale-mcp-server/", System: "Assistant", UsageType: usage.TypeOther},
	{URLPrefix: "/a/rest/", System: "IdeaScale API", UsageType: usage.TypeMCP},
}

// BenchReclassify times s classifying workspace 1's calls by
// ReclassifyRules and back by the defaults, which it is left with; an op
// is both runs, ms/run and calls/s are of one.
func BenchReclassify(b *testing.B, s interface {
	Reclassify(ctx context.Context, workspaceID int64, rules usage.Classifier, resumed bool, progress func(done, total int64)) (int64, error)
	Count(ctx context.Context, workspaceID int64, kind usage.Kind) (int64, error)
}) {
	ctx := context.Background()
	calls, err := s.Count(ctx, 1, usage.KindAPIRequest)
	if err != nil {
		b.Fatal(err)
	}
	var changed int64
	for b.Loop() {
		for _, rules := range []usage.Classifier{ReclassifyRules, usage.DefaultRules} {
			n, err := s.Reclassify(ctx, 1, rules, false, nil)
			if err != nil {
				b.Fatal(err)
			}
			changed += n
		}
	}
	run := b.Elapsed().Seconds() / float64(2*b.N)
	b.ReportMetric(run*1000, "ms/run")
	b.ReportMetric(float64(calls)/run, "calls/s")
	b.ReportMetric(float64(changed)/float64(2*b.N), "changed/run")
}
