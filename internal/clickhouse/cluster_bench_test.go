package clickhouse_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/clickhouse"
	"github.com/usagelog/usagelog/internal/demo"
	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// clusterDemo opens the cluster's database usagelog_cluster_demo_N and
// fills it, if it is empty, with N API calls shaped as the demo
// generator's (demo.APIShape: its clients, collections, communities,
// members, failures and timings in its proportions), which ClickHouse
// generates itself (demoCallsSQL), fillChunk at a time, into each shard's
// own events table, whose rollup views fill its rollups. The year ends at
// demoEnd, 60% of the calls in its last 30 days as the demo's.
//
// Through the Distributed table, two inserts at a time, 10,000,000 calls
// were filled at 131,675 calls/s; on the shards, 150,607 (same machine).
// The views are most of the cost: on one node, 5,000,000 calls took 13.9 s
// into a plain ReplacingMergeTree, 14.8 s into a replicated one, and about
// 66 s into events_local with its views (rollup_calls keeps about a row a
// call, rollup_values more).
func clusterDemo(b *testing.B, n int64) *clickhouse.Store {
	b.Helper()
	ctx := context.Background()
	dsn := strings.ReplaceAll(clusterDSN(), "{db}", fmt.Sprintf("usagelog_cluster_demo_%d", n))
	s, err := clickhouse.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	var have uint64
	if err := clickhouse.QueryRow(ctx, s, "SELECT count() FROM events", &have); err != nil {
		b.Fatal(err)
	}
	if int64(have) == n {
		return s
	}
	if have > 0 {
		b.Fatalf("%s holds %d calls, not %d: a fill stopped midway; drop the database and fill it again", dsn, have, n)
	}
	// A chunk at a time, generated on one replica of each shard at once,
	// each keeping the calls that the Distributed table would send it (its
	// sharding key, cityHash64(workspace_id, id), modulo the shards): no
	// node forwards another's rows, and each shard's views fill its
	// rollups as an insert through the Distributed table would.
	start := time.Now()
	for off := int64(0); off < n; off += fillChunk {
		size := min(fillChunk, n-off)
		err := clickhouse.ExecOnShards(ctx, s, func(shard, shards int) string {
			keep := fmt.Sprintf("cityHash64(toInt64(1), concat('d', toString(number))) %% %d = %d", shards, shard)
			return "INSERT INTO events_local (" + demoColumns + ") SELECT " + demoColumns + " FROM (" + demoCallsSQL(n, off, size, keep) + ")"
		})
		if err != nil {
			b.Fatalf("fill %d-%d: %v", off, off+size, err)
		}
		b.Logf("%d of %d calls, %.0f calls/s", off+size, n, float64(off+size)/time.Since(start).Seconds())
	}
	return s
}

// fillChunk is how many calls one insert of clusterDemo generates.
const fillChunk = 10_000_000

// demoColumns are the columns of events that demoCallsSQL gives.
const demoColumns = `workspace_id, kind, id, time_ms, method, url, endpoint, status, gateway_code, status_details, community, collection,
	collection_type, client, member_id, member_name, ip, user_agent, timing_ms, delay_ms, job_url, client_class, usage_type`

// demoCallsSQL is a SELECT of the size API calls from the off-th of n,
// with the columns an insert into events names, drawn as the demo
// generator draws them (demo.APIShape) from hashes of the call's number:
// a client by weight, a collection and one of its endpoints, a community
// and a member uniformly, 8.5% failures by weight, timings lognormal
// (e^(3.6+0.8·N(0,1)) ms) and the failures' as the demo's. Times grow with
// the number (each insert fills one stretch of time, as a live stream
// does): the first 40% over the year's first 335 days, the rest over its
// last 30.
func demoCallsSQL(n, off, size int64, keep string) string {
	shape := demo.APIShape()
	var (
		weighted, clientNames, agents, prefixes, ips, classes, types []string
		endpoints, paths, methods, ctypes, jobSlugs                  []string
		epStart, epCount, pathTails, hasIDs                          []string
		failIdx, fStatus, fGateway, fDetails                         []string
	)
	q := func(s string) string {
		return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
	}
	for ci, c := range shape.Clients {
		for range c.Weight {
			weighted = append(weighted, fmt.Sprint(ci))
		}
		clientNames, agents, prefixes = append(clientNames, q(c.Name)), append(agents, q(c.UserAgent)), append(prefixes, q(c.URLPrefix))
		var cips []string
		for _, ip := range c.IPs {
			cips = append(cips, q(ip))
		}
		ips = append(ips, "["+strings.Join(cips, ", ")+"]")
	}
	for _, col := range shape.Collections {
		slug := strings.ToLower(strings.ReplaceAll(col.Name, " ", "-"))
		epStart, epCount = append(epStart, fmt.Sprint(len(paths))), append(epCount, fmt.Sprint(len(col.Endpoints)))
		for _, ep := range col.Endpoints {
			method, path, _ := strings.Cut(ep, " ")
			// The path around its {id}: 18.16's replaceAll takes no
			// replacement that varies by row.
			head, tail, hasID := strings.Cut(path, "{id}")
			methods, paths = append(methods, q(method)), append(paths, q(head))
			pathTails, hasIDs = append(pathTails, q(tail)), append(hasIDs, fmt.Sprint(map[bool]int{true: 1}[hasID]))
			endpoints = append(endpoints, q("/"+slug+"/"+path))
			ctypes, jobSlugs = append(ctypes, q(col.Type)), append(jobSlugs, q(slug))
		}
	}
	// The classes by client and endpoint, as usage.Classify gives them.
	for _, c := range shape.Clients {
		var cc, ct []string
		for _, col := range shape.Collections {
			for _, ep := range col.Endpoints {
				_, path, _ := strings.Cut(ep, " ")
				class, typ := usage.Classify(c.URLPrefix+strings.ReplaceAll(path, "{id}", "1000"), c.UserAgent)
				cc, ct = append(cc, q(string(class))), append(ct, q(string(typ)))
			}
		}
		classes, types = append(classes, "["+strings.Join(cc, ", ")+"]"), append(types, "["+strings.Join(ct, ", ")+"]")
	}
	for fi, f := range shape.Failures {
		for range f.Weight {
			failIdx = append(failIdx, fmt.Sprint(fi))
		}
		fStatus, fGateway, fDetails = append(fStatus, fmt.Sprint(f.Status)), append(fGateway, fmt.Sprint(f.Gateway)), append(fDetails, q(f.Details))
	}
	var members, memberIDs, communities []string
	for i, m := range shape.Members {
		members, memberIDs = append(members, q(m)), append(memberIDs, q(fmt.Sprintf("m-%03d", i+1)))
	}
	for _, c := range shape.Communities {
		communities = append(communities, q(c))
	}
	arr := func(xs []string) string { return "[" + strings.Join(xs, ", ") + "]" }
	end := demoEnd.UnixMilli()
	recent := demoEnd.AddDate(0, 0, -30).UnixMilli()
	yearStart := demoEnd.AddDate(-1, 0, 0).UnixMilli()
	// u(k) is a uniform draw in (0, 1) from the call's number.
	u := func(k int) string { return fmt.Sprintf("((cityHash64(number, %d) %% 1000000) + 0.5) / 1000000", k) }
	return fmt.Sprintf(`SELECT 1 AS workspace_id, 1 AS kind, concat('d', toString(number)) AS id,
	toInt64(if(number < %[1]d, %[2]d + number * %[3]f, %[4]d + (number - %[1]d) * %[5]f)) AS time_ms,
	toUInt64(%[6]s[cityHash64(number, 1) %% %[7]d + 1]) AS ci,
	toUInt64(cityHash64(number, 2) %% %[8]d) AS coli,
	toUInt64(%[9]s[coli + 1] + cityHash64(number, 3) %% %[10]s[coli + 1]) AS ei,
	%[11]s[ei + 1] AS method,
	concat(%[12]s[ci + 1], %[13]s[ei + 1], if(%[39]s[ei + 1] = 1, concat(toString(1000 + cityHash64(number, 4) %% 9000), %[40]s[ei + 1]), '')) AS url,
	%[14]s[ei + 1] AS endpoint,
	%[15]s[coli + 1] AS collection, %[16]s[ei + 1] AS collection_type,
	(cityHash64(number, 5) %% 1000) < %[17]d AS failed,
	toUInt64(%[18]s[cityHash64(number, 6) %% %[19]d + 1]) AS fi,
	toInt64(if(failed, %[20]s[fi + 1], if(method = 'POST' AND cityHash64(number, 7) %% 3 = 0, 201, 200))) AS status,
	toInt64(if(failed, %[21]s[fi + 1], 0)) AS gateway_code,
	if(failed, if(gateway_code = 4042 AND collection_type = 'recipe', 'Recipe is inactive', %[22]s[fi + 1]), '') AS status_details,
	%[23]s[cityHash64(number, 8) %% %[24]d + 1] AS community,
	%[25]s[ci + 1] AS client,
	cityHash64(number, 9) %% %[26]d AS mi,
	%[27]s[mi + 1] AS member_id, %[28]s[mi + 1] AS member_name,
	%[29]s[ci + 1][cityHash64(number, 10) %% length(%[29]s[ci + 1]) + 1] AS ip,
	%[30]s[ci + 1] AS user_agent,
	toInt64(exp(3.6 + 0.8 * sqrt(-2 * log(%[31]s)) * cos(2 * pi() * %[32]s))) AS ok_timing,
	toInt64(if(failed AND gateway_code != 0, 1 + cityHash64(number, 13) %% 4, ok_timing)
		+ if(failed AND status >= 500, 2000 + cityHash64(number, 14) %% 28000, 0)) AS timing_ms,
	toInt64(if(failed AND gateway_code != 0, 0, -log(%[33]s) * 4)) AS delay_ms,
	if(collection_type = 'recipe' AND status < 400, concat('https://automation.example.com/recipes/', %[34]s[ei + 1], '/jobs/', toString(500000 + number)), '') AS job_url,
	%[35]s[ci + 1][ei + 1] AS client_class, %[36]s[ci + 1][ei + 1] AS usage_type
FROM (SELECT number FROM (SELECT number + %[37]d AS number FROM numbers(%[38]d)) WHERE %[41]s)`,
		n*4/10, yearStart, float64(recent-yearStart)/float64(n*4/10), recent, float64(end-recent)/float64(n-n*4/10),
		arr(weighted), len(weighted), len(shape.Collections), arr(epStart), arr(epCount),
		arr(methods), arr(prefixes), arr(paths), arr(endpoints),
		arr(func() []string {
			var out []string
			for _, c := range shape.Collections {
				out = append(out, q(c.Name))
			}
			return out
		}()), arr(ctypes),
		int(shape.FailureRate*1000), arr(failIdx), len(failIdx), arr(fStatus), arr(fGateway), arr(fDetails),
		arr(communities), len(communities), arr(clientNames), len(members), arr(memberIDs), arr(members),
		arr(ips), arr(agents), u(11), u(12), u(15), arr(jobSlugs), arr(classes), arr(types), off, size, arr(hasIDs), arr(pathTails), keep)
}

// BenchmarkClusterDemo fills the cluster's demo store of
// USAGELOG_BENCH_CLUSTER_EVENTS calls (default 300,000,000) if it holds
// fewer (clusterDemo; scripts/bench-cluster.sh), says its bytes a call on
// disk, and times what the console reads from it: every period's
// summary and facets, unfiltered and filtered by a client, a collection and
// 5xx (storetest.SummariesBench), and every period's first logs page the
// same ways (storetest.LogsPeriodsBench), then a full day's api-usage CSV.
func BenchmarkClusterDemo(b *testing.B) {
	n := int64(storetest.EnvInt(b, "USAGELOG_BENCH_CLUSTER_EVENTS", 300_000_000))
	s := clusterDemo(b, n)
	ctx := context.Background()
	var bytes uint64
	q := "SELECT sum(bytes_on_disk) FROM remote('127.0.0.1:9201,127.0.0.1:9202,127.0.0.1:9203,127.0.0.1:9204', system.parts) WHERE active AND database = currentDatabase()"
	if err := clickhouse.QueryRow(ctx, s, q, &bytes); err != nil {
		b.Logf("bytes on disk: %v", err)
	} else {
		b.Logf("%d calls, %.1f GB on the four nodes' disks (two replicas of each shard): %.1f bytes a call, %.1f a copy",
			n, float64(bytes)/1e9, float64(bytes)/float64(n), float64(bytes)/float64(n)/2)
	}
	b.Run("summaries", func(b *testing.B) { storetest.SummariesBench(b, s, demoEnd, "Data Team") })
	b.Run("logs", func(b *testing.B) { storetest.LogsPeriodsBench(b, s, demoEnd, "Data Team") })
	b.Run("export-day", func(b *testing.B) {
		day := demoEnd.Truncate(24 * time.Hour).Add(-24 * time.Hour)
		f := usage.LogFilter{From: day, To: day.Add(24 * time.Hour)}
		var out byteCounter
		var rows int
		for b.Loop() {
			var err error
			rows, err = export.Write(ctx, export.APIUsage, s.ScanLogs(ctx, 1, f, export.APIUsage.Reads...), time.UTC, export.NewWriter(export.CSVFormat, &out, "api-usage"), nil)
			if err != nil || rows == 0 {
				b.Fatalf("%d rows, %v", rows, err)
			}
		}
		b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
		b.ReportMetric(float64(rows), "rows")
	})
}
