// Package storetest is the conformance suite every store implementation
// passes: the same calls, the same answers, on every engine.
package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// base is a fixed instant so that expectations never depend on the clock.
var base = time.Date(2026, 3, 8, 6, 0, 0, 0, time.UTC) // the day New York springs forward

// Fixture returns api_request events of known shape: n events a minute
// apart, cycling through statuses, clients, collections and communities,
// with every fourth pair sharing a timestamp so that ties are exercised.
func Fixture(n int) []usage.Event {
	statuses := []int{200, 201, 401, 404, 500, 200, 429}
	clients := []string{"Customer Success Team", "Data Team", "=cmd|'/C calc'!A0"}
	collections := []string{"HR recipes", "Sales proxy"}
	uas := []string{"Java/21.0.5", "axios/1.7.7", "ideascale-mcp-server/1.0.0", "PostmanRuntime/7.43.3"}
	urls := []string{"/a/rest/chat/ideas", "/a/rest/backend/v1/summary", "/a/rest/v1/ideas", "/a/rest/v1/members"}
	out := make([]usage.Event, n)
	for i := range out {
		t := base.Add(time.Duration(i) * time.Minute)
		if i%4 == 1 {
			t = base.Add(time.Duration(i-1) * time.Minute) // a tie with the previous event
		}
		ctype := "recipe"
		if i%2 == 1 {
			ctype = "proxy"
		}
		e := usage.Event{
			Kind: usage.KindAPIRequest, ID: fmt.Sprintf("req-%05d", i), Time: t,
			Method: "GET", URL: urls[i%len(urls)], Endpoint: "/ideas/{id}", Status: statuses[i%len(statuses)],
			Community: fmt.Sprintf("Community %d", i%3), Collection: collections[i%2], CollectionType: ctype,
			Client: clients[i%len(clients)], MemberID: fmt.Sprint(i % 5), MemberName: fmt.Sprintf("Member %d", i%5),
			IP: fmt.Sprintf("203.0.113.%d", i%250), UserAgent: uas[i%len(uas)], TimingMS: int64(10 + i%90), DelayMS: int64(i % 7),
		}
		if e.Status >= 400 {
			e.GatewayCode = e.Status*10 + 1
			e.StatusDetails = "Unrecognized token"
		}
		if i%10 == 0 {
			e.JobURL = fmt.Sprintf("https://jobs.example.com/%d", i)
		}
		e.ClientClass, e.UsageType = usage.Classify(e.URL, e.UserAgent)
		out[i] = e
	}
	return out
}

// EventStore runs the conformance suite against stores made by open; each
// subtest gets a new, empty store.
func EventStore(t *testing.T, open func(t *testing.T) usage.EventStore) {
	ctx := context.Background()

	t.Run("RoundTripEveryKind", func(t *testing.T) {
		s := open(t)
		events := everyKind()
		res, err := s.Append(ctx, 1, events)
		if err != nil {
			t.Fatal(err)
		}
		if res.Inserted != len(events) || res.Duplicates != 0 {
			t.Fatalf("append = %+v, want %d inserted", res, len(events))
		}
		for _, k := range usage.Kinds {
			n, err := s.Count(ctx, 1, k)
			if err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Errorf("count(%s) = %d, want 1", k, n)
			}
		}
		got, err := s.Logs(ctx, 1, usage.LogQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !reflect.DeepEqual(got[0], events[0]) {
			t.Errorf("logs = %+v\nwant %+v", got, events[:1])
		}
	})

	t.Run("Duplicates", func(t *testing.T) {
		s := open(t)
		ev := Fixture(3)
		batch := []usage.Event{ev[0], ev[1], ev[0]} // a duplicate inside one batch
		res, err := s.Append(ctx, 1, batch)
		if err != nil {
			t.Fatal(err)
		}
		if res != (usage.AppendResult{Inserted: 2, Duplicates: 1}) {
			t.Errorf("first batch = %+v, want 2 inserted 1 duplicate", res)
		}
		changed := ev[1]
		changed.Status = 503 // a re-sent id is a duplicate even when its fields differ
		res, err = s.Append(ctx, 1, []usage.Event{changed, ev[2]})
		if err != nil {
			t.Fatal(err)
		}
		if res != (usage.AppendResult{Inserted: 1, Duplicates: 1}) {
			t.Errorf("second batch = %+v, want 1 inserted 1 duplicate", res)
		}
		// The same id in another workspace is another event.
		res, err = s.Append(ctx, 2, []usage.Event{ev[0]})
		if err != nil {
			t.Fatal(err)
		}
		if res.Inserted != 1 {
			t.Errorf("other workspace = %+v, want 1 inserted", res)
		}
		n, _ := s.Count(ctx, 1, usage.KindAPIRequest)
		if n != 3 {
			t.Errorf("count = %d, want 3", n)
		}
		got, _ := s.Logs(ctx, 1, usage.LogQuery{Limit: 10})
		for _, e := range got {
			if e.ID == ev[1].ID && e.Status != ev[1].Status {
				t.Errorf("re-sent id overwrote the stored event: status %d", e.Status)
			}
		}
	})

	t.Run("DuplicatesSentAtOnce", func(t *testing.T) {
		// Eight senders at once, of overlapping batches of two workspaces
		// (an exporter's retry racing its first try): each event is
		// stored once, and the answers add up to what was sent.
		s := open(t)
		ev := Fixture(400)
		var inserted, duplicates atomic.Int64
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				ws := int64(1 + i%2)
				batch := ev[(i/2)*50 : (i/2)*50+200]
				res, err := s.Append(ctx, ws, batch)
				if err != nil {
					t.Error(err)
					return
				}
				inserted.Add(int64(res.Inserted))
				duplicates.Add(int64(res.Duplicates))
			})
		}
		wg.Wait()
		// Each workspace got the batches starting at 0, 50, 100 and 150:
		// events 0 to 349.
		if inserted.Load() != 700 || duplicates.Load() != 8*200-700 {
			t.Errorf("inserted %d, duplicates %d; want 700 and %d", inserted.Load(), duplicates.Load(), 8*200-700)
		}
		for ws := int64(1); ws <= 2; ws++ {
			if n, _ := s.Count(ctx, ws, usage.KindAPIRequest); n != 350 {
				t.Errorf("workspace %d holds %d calls, want 350", ws, n)
			}
		}
	})

	t.Run("Purge", func(t *testing.T) {
		// Events of every kind over ten days in two workspaces; the first
		// loses the five days before the cutoff, the second nothing.
		s := open(t)
		day0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		cutoff := day0.AddDate(0, 0, 5)
		var ev []usage.Event
		for i, e := range append(Fixture(240), everyKind()...) {
			e.ID = fmt.Sprintf("p%04d", i)
			e.Time = day0.Add(time.Duration(i) * time.Hour)
			ev = append(ev, e)
		}
		for _, ws := range []int64{1, 2} {
			if _, err := s.Append(ctx, ws, ev); err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.PurgeEvents(ctx, 1, cutoff)
		if err != nil {
			t.Fatal(err)
		}
		if n != 120 {
			t.Errorf("purged %d events, want the 120 of the first five days", n)
		}
		for _, ws := range []int64{1, 2} {
			var total int64
			for _, k := range usage.Kinds {
				c, _ := s.Count(ctx, ws, k)
				total += c
			}
			if want := map[int64]int64{1: 124, 2: 244}[ws]; total != want {
				t.Errorf("workspace %d holds %d events, want %d", ws, total, want)
			}
		}
		got, _ := s.Logs(ctx, 1, usage.LogQuery{Limit: 1000})
		if len(got) == 0 || got[len(got)-1].Time.Before(cutoff) {
			t.Errorf("the oldest call left is from %v, before the cutoff %v", got[len(got)-1].Time, cutoff)
		}
		if n, err := s.PurgeEvents(ctx, 1, cutoff); err != nil || n != 0 {
			t.Errorf("a second purge: %d %v", n, err)
		}
	})

	t.Run("PurgeWhileIngesting", func(t *testing.T) {
		// Calls arriving while the janitor removes old ones are all kept.
		s := open(t)
		old := Fixture(5000)
		for i := range old {
			old[i].ID = fmt.Sprintf("old%05d", i)
			old[i].Time = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
		}
		if _, err := s.Append(ctx, 1, old); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		var sent int64
		go func() {
			for b := range 20 {
				batch := Fixture(200)
				for i := range batch {
					batch[i].ID = fmt.Sprintf("new%02d-%03d", b, i)
				}
				res, err := s.Append(ctx, 1, batch)
				if err != nil {
					done <- err
					return
				}
				sent += int64(res.Inserted)
			}
			done <- nil
		}()
		n, err := s.PurgeEvents(ctx, 1, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		left, _ := s.Count(ctx, 1, usage.KindAPIRequest)
		if n != 5000 || sent != 4000 || left != 4000 {
			t.Errorf("purged %d (want 5000), ingested %d (want 4000), left %d", n, sent, left)
		}
	})

	t.Run("FirstSentWinsAcrossKinds", func(t *testing.T) {
		// An api_request then an activity with one id, in one batch: the
		// first sent is kept, though a store groups a batch by kind.
		s := open(t)
		call := Fixture(1)[0]
		call.ID = "same-id"
		act := usage.Event{Kind: usage.KindActivity, ID: "same-id", Time: call.Time, UserID: "u1", Feature: "chat"}
		res, err := s.Append(ctx, 1, []usage.Event{call, act})
		if err != nil {
			t.Fatal(err)
		}
		if res != (usage.AppendResult{Inserted: 1, Duplicates: 1}) {
			t.Errorf("batch = %+v, want 1 inserted 1 duplicate", res)
		}
		calls, _ := s.Count(ctx, 1, usage.KindAPIRequest)
		acts, _ := s.Count(ctx, 1, usage.KindActivity)
		if calls != 1 || acts != 0 {
			t.Errorf("stored %d api_request and %d activity, want the api_request sent first alone", calls, acts)
		}
	})

	t.Run("PagesNewestFirst", func(t *testing.T) {
		s := open(t)
		ev := Fixture(250)
		if _, err := s.Append(ctx, 1, ev); err != nil {
			t.Fatal(err)
		}
		want := sortedNewestFirst(ev)
		got := allPages(t, s, usage.LogQuery{Limit: 37})
		if !reflect.DeepEqual(ids(got), ids(want)) {
			t.Fatalf("pages gave %d events in order %v…, want %v…", len(got), head(ids(got)), head(ids(want)))
		}
		// Another workspace sees none of them.
		other, err := s.Logs(ctx, 2, usage.LogQuery{Limit: 10})
		if err != nil || len(other) != 0 {
			t.Errorf("workspace 2 sees %d events (err %v)", len(other), err)
		}
	})

	// Pages of calls spread from the future back over 200 days before
	// now, dense in the last hour and sparse before: stores that read a
	// page from the newest time window holding it (ClickHouse) give the
	// same pages as a read of the whole period, filtered or not.
	t.Run("PagesAcrossRecentWindows", func(t *testing.T) {
		s := open(t)
		now := time.Now().UTC().Truncate(time.Millisecond)
		ev := Fixture(160)
		for i := range ev {
			switch {
			case i < 3:
				ev[i].Time = now.Add(time.Duration(i+1) * 10 * time.Minute) // clocks ahead
			case i < 40:
				ev[i].Time = now.Add(-time.Duration(i) * time.Minute)
			default:
				ev[i].Time = now.Add(-time.Duration(i-39) * 30 * time.Hour)
			}
		}
		if _, err := s.Append(ctx, 1, ev); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			f    usage.LogFilter
		}{
			{"All", usage.LogFilter{}},
			{"Last90Days", usage.LogFilter{From: now.AddDate(0, 0, -90), To: now}},
			{"Errors", usage.LogFilter{StatusClasses: []int{4, 5}}},
			{"OneClientSince", usage.LogFilter{Clients: []string{ev[100].Client}, From: now.AddDate(0, 0, -150)}},
		} {
			t.Run(c.name, func(t *testing.T) {
				want := matching(ev, c.f)
				got := allPages(t, s, usage.LogQuery{LogFilter: c.f, Limit: 7})
				if len(want) < 8 || !reflect.DeepEqual(ids(got), ids(want)) {
					t.Fatalf("pages gave %d events %v…, want %d %v… (at least 8)", len(got), head(ids(got)), len(want), head(ids(want)))
				}
			})
		}
	})

	t.Run("UsageReportAggregates", func(t *testing.T) {
		s := open(t)
		if _, err := s.Append(ctx, 1, ReportsFixture()); err != nil {
			t.Fatal(err)
		}
		now := ReportsNow
		groups, err := s.SyncGroups(ctx, 1, now.AddDate(-1, 0, 0), now.AddDate(0, -6, 0), now)
		if err != nil {
			t.Fatal(err)
		}
		var synced, recent int64
		for _, g := range groups {
			synced += g.Synced
			if g.Recent {
				recent += g.Synced
			}
		}
		if synced != 4 || recent != 3 || len(groups) != 4 {
			t.Errorf("sync groups: %d groups, %d synced, %d recent; want 4, 4, 3", len(groups), synced, recent)
		}
		seen, err := s.SeenGroups(ctx, 1, now.AddDate(-1, 0, 0), now)
		if err != nil {
			t.Fatal(err)
		}
		service := 0
		for _, g := range seen {
			if g.ServiceAccount {
				service++
				if len(g.Interactions) != 2 {
					t.Errorf("svc-sync's interactions %q, want both", g.Interactions)
				}
			}
		}
		// 13 observations in the year; Carol's two spellings and
		// svc-sync's two sightings are one group each.
		if len(seen) != 12 || service != 1 {
			t.Errorf("%d seen groups (%d service accounts), want 12 (1)", len(seen), service)
		}
		// olduser was seen 9½ months before now: only in the year.
		if recent, err := s.SeenGroups(ctx, 1, now.AddDate(0, -6, 0), now); err != nil || len(recent) != 11 {
			t.Errorf("%d seen groups in 6 months (%v), want 11", len(recent), err)
		}
		status, err := s.IntegrationStatus(ctx, 1)
		if err != nil || !reflect.DeepEqual(status, map[string]string{"Jira-SN": "active", "ADO-Jira": "inactive", "Old": "active"}) {
			t.Errorf("status %v (%v)", status, err)
		}
		if other, _ := s.SyncGroups(ctx, 2, now.AddDate(-1, 0, 0), now.AddDate(0, -6, 0), now); len(other) != 0 {
			t.Errorf("workspace 2 sees %d sync groups", len(other))
		}
		// Later the same day: a sync and an observation an hour before
		// now count, ones stamped an hour after now do not.
		later := []usage.Event{
			{Kind: usage.KindSync, ID: "sync-before-now", Time: now.Add(-time.Hour), Integration: "Jira-SN", Outcome: "synced", IntegrationStatus: "active"},
			{Kind: usage.KindSync, ID: "sync-after-now", Time: now.Add(time.Hour), Integration: "Future", Outcome: "synced", IntegrationStatus: "active"},
			{Kind: usage.KindUserSeen, ID: "seen-before-now", Time: now.Add(-time.Hour), System: "Jira", Email: "new-today@x.example", Interaction: "comment_author"},
			{Kind: usage.KindUserSeen, ID: "seen-after-now", Time: now.Add(time.Hour), System: "Jira", Email: "tomorrow@x.example", Interaction: "comment_author"},
		}
		if _, err := s.Append(ctx, 1, later); err != nil {
			t.Fatal(err)
		}
		groups, err = s.SyncGroups(ctx, 1, now.AddDate(-1, 0, 0), now.AddDate(0, -6, 0), now)
		synced, recent = 0, 0
		for _, g := range groups {
			synced += g.Synced
			if g.Recent {
				recent += g.Synced
			}
		}
		if err != nil || synced != 5 || recent != 4 {
			t.Errorf("sync groups with syncs either side of now: %d synced, %d recent (%v); want 5, 4", synced, recent, err)
		}
		seen, err = s.SeenGroups(ctx, 1, now.AddDate(-1, 0, 0), now)
		if err != nil || len(seen) != 13 || slices.ContainsFunc(seen, func(g usage.SeenGroup) bool { return g.Email == "tomorrow@x.example" }) {
			t.Errorf("%d seen groups with observations either side of now (%v), want 13 without tomorrow's", len(seen), err)
		}
	})

	t.Run("ScanFieldsAndEarlyStop", func(t *testing.T) {
		s := open(t)
		ev := Fixture(2000)
		if _, err := s.Append(ctx, 1, ev); err != nil {
			t.Fatal(err)
		}
		byID := map[string]*usage.Event{}
		for i := range ev {
			byID[ev[i].ID] = &ev[i]
		}
		n := 0
		for e, err := range s.ScanLogs(ctx, 1, usage.LogFilter{}, "id", "time", "community", "client_class") {
			if err != nil {
				t.Fatal(err)
			}
			want := byID[e.ID]
			if want == nil || !e.Time.Equal(want.Time) || e.Community != want.Community || e.ClientClass != want.ClientClass {
				t.Fatalf("projected scan gave %+v, want %+v", e, want)
			}
			n++
		}
		if n != len(ev) {
			t.Errorf("projected scan gave %d events, want %d", n, len(ev))
		}
		for _, err := range s.ScanLogs(ctx, 1, usage.LogFilter{}, "no_such_field") {
			if err == nil || !strings.Contains(err.Error(), "no_such_field") {
				t.Errorf("unknown field: %v", err)
			}
			break
		}
		// Stopping early releases the scan: the store keeps serving.
		stopEarly(t, s, 20, 700)
	})

	// Scans over several months: stores may read a long range in pieces
	// (ClickHouse reads a month at a time), and the order, the bounds and
	// re-sent events must come out as from one query.
	t.Run("ScanAcrossMonths", func(t *testing.T) {
		s := open(t)
		ev := Fixture(400)
		start := time.Date(2026, 1, 30, 22, 0, 0, 0, time.UTC)
		for i := range ev {
			ev[i].Time = start.Add(time.Duration(i/2) * 13 * time.Hour) // pairs tie on time
		}
		if _, err := s.Append(ctx, 1, ev); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, 1, ev[100:150]); err != nil { // re-sent
			t.Fatal(err)
		}
		from, to := time.Date(2026, 2, 14, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
		var want []usage.Event
		for i := range ev {
			if !ev[i].Time.Before(from) && ev[i].Time.Before(to) {
				want = append(want, ev[i])
			}
		}
		for _, tc := range []struct {
			name     string
			from, to time.Time
			want     []usage.Event
		}{
			{"all", time.Time{}, time.Time{}, ev},
			{"bounded", from, to, want},
			{"empty", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				newest := ids(sortedNewestFirst(tc.want))
				var got []string
				for e, err := range s.ScanLogs(ctx, 1, usage.LogFilter{From: tc.from, To: tc.to}, "id", "time") {
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, e.ID)
				}
				if !slices.Equal(got, newest) {
					t.Errorf("scan logs: %d events %v…, want %d %v…", len(got), head(got), len(newest), head(newest))
				}
				got = got[:0]
				for e, err := range s.ScanEvents(ctx, 1, usage.KindAPIRequest, tc.from, tc.to, "id", "time") {
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, e.ID)
				}
				slices.Reverse(newest)
				if !slices.Equal(got, newest) {
					t.Errorf("scan events: %d events %v…, want %d %v… (oldest first)", len(got), head(got), len(newest), head(newest))
				}
			})
		}
		// Stopping in the middle releases whatever the scan holds.
		stopEarly(t, s, 30, 150)
	})

	// Events decades apart: a store that scans in pieces of time must not
	// make one per empty month between them.
	t.Run("ScanFarApart", func(t *testing.T) {
		s := open(t)
		ev := Fixture(3)
		ev[0].Time = time.Date(1970, 1, 1, 0, 0, 1, 0, time.UTC)
		ev[1].Time = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
		ev[2].Time = time.Date(9999, 12, 31, 23, 59, 0, 0, time.UTC)
		if _, err := s.Append(ctx, 1, ev); err != nil {
			t.Fatal(err)
		}
		var got []string
		for e, err := range s.ScanLogs(ctx, 1, usage.LogFilter{}, "id") {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, e.ID)
		}
		if want := []string{ev[2].ID, ev[1].ID, ev[0].ID}; !slices.Equal(got, want) {
			t.Errorf("scan logs: %v, want %v", got, want)
		}
		got = got[:0]
		for e, err := range s.ScanEvents(ctx, 1, usage.KindAPIRequest, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}, "id") {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, e.ID)
		}
		if want := []string{ev[1].ID, ev[2].ID}; !slices.Equal(got, want) {
			t.Errorf("scan events from 2000: %v, want %v", got, want)
		}
	})

	t.Run("Filters", func(t *testing.T) {
		s := open(t)
		ev := append(Fixture(300), SelfCalls(20)...)
		if _, err := s.Append(ctx, 1, ev); err != nil {
			t.Fatal(err)
		}
		for _, f := range Filters() {
			t.Run(f.Name, func(t *testing.T) {
				want := matching(ev, f.Filter)
				if len(want) == 0 {
					t.Fatalf("filter %s matches nothing in the fixture: it tests nothing", f.Name)
				}
				got, err := s.Logs(ctx, 1, usage.LogQuery{LogFilter: f.Filter, Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(ids(got), ids(want)) {
					t.Errorf("logs: %d events %v…, want %d %v…", len(got), head(ids(got)), len(want), head(ids(want)))
				}
				var scanned []string
				for e, err := range s.ScanLogs(ctx, 1, f.Filter) {
					if err != nil {
						t.Fatal(err)
					}
					scanned = append(scanned, e.ID)
				}
				if !reflect.DeepEqual(scanned, ids(want)) {
					t.Errorf("scan: %d events, want %d", len(scanned), len(want))
				}
				if n, err := s.CountLogs(ctx, 1, f.Filter); err != nil || n != int64(len(want)) {
					t.Errorf("count: %d (err %v), want %d", n, err, len(want))
				}
				if n, err := s.CountLogs(ctx, 2, f.Filter); err != nil || n != 0 {
					t.Errorf("count in workspace 2: %d (err %v), want 0", n, err)
				}
			})
		}
	})

	// Scans of more calls than a store reads in one go (SQLite reads a
	// long scan as time windows side by side), stored in random order:
	// every call once, newest first, whatever the filter.
	t.Run("LargeScans", func(t *testing.T) {
		s := open(t)
		ev := append(Fixture(70_000), SelfCalls(20)...)
		shuffled := slices.Clone(ev)
		rand.New(rand.NewPCG(7, 26)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		for batch := range slices.Chunk(shuffled, 10_000) {
			if _, err := s.Append(ctx, 1, batch); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range Filters() {
			t.Run(f.Name, func(t *testing.T) {
				var want []string
				for _, e := range sortedNewestFirst(ev) {
					if f.Filter.Match(&e) {
						want = append(want, e.ID)
					}
				}
				var got []string
				for e, err := range s.ScanLogs(ctx, 1, f.Filter, "id") {
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, e.ID)
				}
				if !slices.Equal(got, want) {
					t.Errorf("scan: %d events %v…, want %d %v…", len(got), head(got), len(want), head(want))
				}
			})
		}
	})
}

// stopEarly stops times scans of workspace 1's logs after n events each,
// then checks that the store still serves a logs page.
// matching is the events of ev that f matches, newest first: what a
// store's logs must answer.
func matching(ev []usage.Event, f usage.LogFilter) []usage.Event {
	var out []usage.Event
	for i := range ev {
		if f.Match(&ev[i]) {
			out = append(out, ev[i])
		}
	}
	return sortedNewestFirst(out)
}

// allPages reads workspace 1's pages of q, following the cursor, up to
// 50 pages.
func allPages(t *testing.T, s usage.EventStore, q usage.LogQuery) []usage.Event {
	t.Helper()
	var got []usage.Event
	for range 50 {
		items, err := s.Logs(context.Background(), 1, q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, items...)
		if len(items) < q.Limit {
			break
		}
		last := items[len(items)-1]
		q.After = &usage.Cursor{TimeMS: last.Time.UnixMilli(), ID: last.ID}
	}
	return got
}

func stopEarly(t *testing.T, s usage.EventStore, times, n int) {
	t.Helper()
	ctx := context.Background()
	for range times {
		k := 0
		for _, err := range s.ScanLogs(ctx, 1, usage.LogFilter{}) {
			if err != nil {
				t.Fatal(err)
			}
			if k++; k == n {
				break
			}
		}
	}
	if page, err := s.Logs(ctx, 1, usage.LogQuery{Limit: 5}); err != nil || len(page) != 5 {
		t.Errorf("after early stops: %d events, %v", len(page), err)
	}
}

// NamedFilter is a filter with a name for subtests.
type NamedFilter struct {
	Name   string
	Filter usage.LogFilter
}

// Filters returns one filter per dimension of LogFilter, and combinations,
// each matching part of Fixture(300).
func Filters() []NamedFilter {
	return []NamedFilter{
		{"None", usage.LogFilter{}},
		{"From", usage.LogFilter{From: base.Add(100 * time.Minute)}},
		{"To", usage.LogFilter{To: base.Add(50 * time.Minute)}},
		{"Range", usage.LogFilter{From: base.Add(10 * time.Minute), To: base.Add(20 * time.Minute)}},
		{"Status", usage.LogFilter{Statuses: []int{404, 500}}},
		{"StatusClass", usage.LogFilter{StatusClasses: []int{2}}},
		{"StatusAndClass", usage.LogFilter{Statuses: []int{429}, StatusClasses: []int{5}}},
		{"Client", usage.LogFilter{Clients: []string{"Data Team"}}},
		{"HostileClient", usage.LogFilter{Clients: []string{"=cmd|'/C calc'!A0"}}},
		{"Collection", usage.LogFilter{Collections: []string{"HR recipes"}}},
		{"CollectionType", usage.LogFilter{CollectionType: "proxy"}},
		{"Community", usage.LogFilter{Communities: []string{"Community 2"}}},
		{"UsageMCP", usage.LogFilter{UsageType: usage.TypeMCP}},
		{"UsageOther", usage.LogFilter{UsageType: usage.TypeOther}},
		{"Combined", usage.LogFilter{From: base.Add(30 * time.Minute), StatusClasses: []int{2, 4}, CollectionType: "recipe", Communities: []string{"Community 0", "Community 1"}}},
		{"SelfCollection", usage.LogFilter{Collections: []string{usage.SelfCollection}}},
		{"SelfAndOther", usage.LogFilter{Collections: []string{usage.SelfCollection, "HR recipes"}}},
		// The rollups keep no method: read from the events.
		{"MethodAndClass", usage.LogFilter{Methods: []string{"GET"}, StatusClasses: []int{4}}},
		{"MethodAndCollection", usage.LogFilter{Methods: []string{"get", "GET"}, Collections: []string{"HR recipes", usage.SelfCollection}}},
	}
}

// SelfCalls are n of usagelog's own API calls (collection
// usage.SelfCollection), a minute apart from base, as its self-logging
// records them: views leave them out unless a filter names them.
func SelfCalls(n int) []usage.Event {
	out := make([]usage.Event, n)
	for i := range out {
		out[i] = usage.Event{Kind: usage.KindAPIRequest, ID: fmt.Sprintf("self-%04d", i), Time: base.Add(time.Duration(i)*time.Minute + 30*time.Second),
			Method: "GET", URL: "/api/v1/logs", Endpoint: "GET /api/v1/logs", Status: []int{200, 401, 429}[i%3],
			Collection: usage.SelfCollection, CollectionType: usage.CollectionProxy, Client: "cli", IP: "127.0.0.1", UserAgent: "Go-http-client/1.1", TimingMS: int64(i)}
		out[i].ClientClass, out[i].UsageType = usage.Classify(out[i].URL, out[i].UserAgent)
	}
	return out
}

// everyKind returns one event of each kind with every field set.
func everyKind() []usage.Event {
	t := base
	api := usage.Event{Kind: usage.KindAPIRequest, ID: "a1", Time: t, Method: "POST", URL: "/a/rest/v1/ideas?x=1",
		Endpoint: "/ideas", Status: 401, GatewayCode: 4011, StatusDetails: "Unrecognized token", Community: "Ünïcødé <b>",
		Collection: "HR", CollectionType: "recipe", Client: "Team, \"quoted\"", MemberID: "m1", MemberName: "Ann",
		IP: "2001:db8::1", UserAgent: "PostmanRuntime/7.43.3", TimingMS: 123, DelayMS: 4, JobURL: "https://j/1"}
	api.ClientClass, api.UsageType = usage.Classify(api.URL, api.UserAgent)
	return []usage.Event{
		api,
		{Kind: usage.KindActivity, ID: "b1", Time: t.Add(time.Millisecond), UserID: "u1", UserEmail: "ann@example.com", UserName: "Ann",
			Feature: "agent", AssistantID: "as1", Assistant: "Helper", WorkflowID: "w1", Workflow: "Flow", ProjectID: "p1", Project: "Proj",
			Model: "gpt", APIKey: "key1", Messages: 3, InputTokens: 100, OutputTokens: 200},
		{Kind: usage.KindSync, ID: "c1", Time: t.Add(2 * time.Millisecond), Integration: "i1", System1: "Jira", System2: "ServiceNow",
			Project1: "P1", Project2: "P2", EndSystem: "ServiceNow", EntityType: "Bug", EntityID: "B-1", IntegrationStatus: "active",
			IntegrationUpdatedAt: t.Add(-time.Hour), Outcome: "synced"},
		{Kind: usage.KindUserSeen, ID: "d1", Time: t.Add(3 * time.Millisecond), System: "Jira", Email: "ann@example.com",
			Username: "ann", DisplayName: "Ann A", Interaction: "mention", ServiceAccount: true},
	}
}

func sortedNewestFirst(ev []usage.Event) []usage.Event {
	out := slices.Clone(ev)
	slices.SortFunc(out, func(a, b usage.Event) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		switch {
		case a.ID > b.ID:
			return -1
		case a.ID < b.ID:
			return 1
		}
		return 0
	})
	return out
}

func ids(ev []usage.Event) []string {
	out := make([]string, len(ev))
	for i, e := range ev {
		out[i] = e.ID
	}
	return out
}

func head(s []string) []string {
	if len(s) > 5 {
		return s[:5]
	}
	return s
}
