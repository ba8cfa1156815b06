package export

import (
	"archive/zip"
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/usagelog/usagelog/internal/identity"
	"github.com/usagelog/usagelog/internal/usage"
)

// UsageReportsName is the seed 003 download's file name.
const UsageReportsName = "Usage Reports.zip"

// UsageReportSheets are the sheets of each workbook, in order.
var UsageReportSheets = []string{"Summary", "Unique User Count", "Entity Type Count", "Integrated Project Count", "Synced Data Count", "Detailed User Report"}

// reportTime is how the workbooks show times (in the workspace's zone).
const reportTime = "2006-01-02 15:04"

// UsageReports holds the sync aggregates of the seed 003 download, and
// where to read each workbook's user observations from: groups and
// distinct observations, never the events behind them.
type UsageReports struct {
	now         time.Time
	src         usage.ReportSource
	workspaceID int64
	syncs       []usage.SyncGroup
	status      map[string]string
	yearUsers   int
}

// LoadUsageReports reads the sync aggregates of the year before now from
// src, marking the last 6 months, in one pass. Write reads the rest.
func LoadUsageReports(ctx context.Context, src usage.ReportSource, workspaceID int64, now time.Time) (*UsageReports, error) {
	r := &UsageReports{now: now, src: src, workspaceID: workspaceID}
	// Both wait on the store: read side by side.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		r.syncs, err = src.SyncGroups(gctx, workspaceID, now.AddDate(-1, 0, 0), now.AddDate(0, -6, 0), now)
		return err
	})
	g.Go(func() (err error) {
		r.status, err = src.IntegrationStatus(gctx, workspaceID)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return r, nil
}

// YearUsers is how many users the last year's workbook holds, once Write
// wrote it: what a job of the report counts as its records.
func (u *UsageReports) YearUsers() int { return u.yearUsers }

// Write writes "Usage Reports.zip" to w: the workbooks of the last 6
// months and of the last year, times in loc. The year's observations are
// read while the 6-month workbook is written (the store's queries and the
// writer use different cores); each workbook's users are let go before
// the next one is resolved.
func (u *UsageReports) Write(ctx context.Context, w io.Writer, loc *time.Location) error {
	type loaded struct {
		seen []usage.SeenGroup
		err  error
	}
	load := func(from time.Time) <-chan loaded {
		ch := make(chan loaded, 1)
		go func() {
			seen, err := u.src.SeenGroups(ctx, u.workspaceID, from, u.now)
			if err == nil {
				sortObservations(seen)
			}
			ch <- loaded{seen, err}
		}()
		return ch
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	zw := zip.NewWriter(w)
	next := load(u.now.AddDate(0, -6, 0))
	for i, name := range []string{"Usage Report (Last 6 Months).xlsx", "Usage Report (Last 1 Year).xlsx"} {
		recentOnly := i == 0
		got := <-next
		if got.err != nil {
			return fmt.Errorf("usage reports: %w", got.err)
		}
		if recentOnly {
			next = load(u.now.AddDate(-1, 0, 0))
		}
		var s []usage.SyncGroup
		for _, g := range u.syncs {
			if g.Recent || !recentOnly {
				s = append(s, g)
			}
		}
		// The workbook is already deflated: store it as it is.
		f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Modified: u.now})
		if err != nil {
			return fmt.Errorf("usage reports: %w", err)
		}
		rep := buildUsageReport(s, got.seen, u.status)
		if !recentOnly {
			u.yearUsers = len(rep.users)
		}
		if err := writeUsageWorkbook(f, rep, loc); err != nil {
			return fmt.Errorf("usage reports: %s: %w", name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("usage reports: %w", err)
	}
	return nil
}

// usageReport is one workbook's content.
type usageReport struct {
	users       []*identity.User
	bySystem    map[string]map[identity.Rule]int
	systemUsers map[string]int
	entityTypes [][]Value
	projects    [][]Value
	pairs       [][]Value
	totals      struct{ entityTypes, projects, synced int64 }
}

// sortObservations orders the store's groups by system, then identity, so
// that which spelling is shown first does not depend on the store, and
// each system's observations are one run of the slice.
func sortObservations(obs []usage.SeenGroup) {
	fold := func(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
	slices.SortStableFunc(obs, func(a, b usage.SeenGroup) int {
		return cmp.Or(cmp.Compare(a.System, b.System), cmp.Compare(fold(a.Email), fold(b.Email)),
			cmp.Compare(fold(a.Username), fold(b.Username)), cmp.Compare(fold(a.DisplayName), fold(b.DisplayName)),
			a.LastSeen.Compare(b.LastSeen))
	})
}

func buildUsageReport(syncs []usage.SyncGroup, seen []usage.SeenGroup, status map[string]string) *usageReport {
	r := &usageReport{bySystem: map[string]map[identity.Rule]int{}, systemUsers: map[string]int{}}
	r.users = identity.Resolve(seen)
	// seen is sorted by system: each system is a run of it.
	for start := 0; start < len(seen); {
		end := start + 1
		for end < len(seen) && seen[end].System == seen[start].System {
			end++
		}
		n, byRule := identity.CountUsers(seen[start:end])
		r.bySystem[seen[start].System] = byRule
		r.systemUsers[seen[start].System] = n
		start = end
	}

	// Only successful syncs count; an integration is Active when its latest
	// event says so.
	type agg struct {
		synced               int64
		lastSynced, lastUpd  time.Time
		active               bool
		s1, s2, p1, p2, e, t string
	}
	merge := func(m map[string]*agg, key string, g usage.SyncGroup) *agg {
		a := m[key]
		if a == nil {
			a = &agg{s1: g.System1, s2: g.System2, p1: g.Project1, p2: g.Project2, e: g.EndSystem, t: g.EntityType}
			m[key] = a
		}
		a.synced += g.Synced
		if g.LastSynced.After(a.lastSynced) {
			a.lastSynced = g.LastSynced
		}
		if g.LastUpdated.After(a.lastUpd) {
			a.lastUpd = g.LastUpdated
		}
		a.active = a.active || strings.EqualFold(status[g.Integration], "active")
		return a
	}
	types, projects, pairs := map[string]*agg{}, map[string]*agg{}, map[string]*agg{}
	entityTypes, projectSet := map[string]bool{}, map[string]bool{}
	for _, g := range syncs {
		if g.Synced == 0 {
			continue
		}
		k := func(parts ...string) string { return strings.Join(parts, "\x00") }
		merge(types, k(g.System1, g.System2, g.EndSystem, g.EntityType), g)
		merge(projects, k(g.System1, g.System2, g.Project1, g.Project2), g)
		merge(pairs, k(g.System1, g.System2), g)
		if g.EntityType != "" {
			entityTypes[g.EntityType] = true
		}
		if g.Project1 != "" {
			projectSet[k(g.System1, g.Project1)] = true
		}
		if g.Project2 != "" {
			projectSet[k(g.System2, g.Project2)] = true
		}
		r.totals.synced += g.Synced
	}
	r.totals.entityTypes, r.totals.projects = int64(len(entityTypes)), int64(len(projectSet))
	sorted := func(m map[string]*agg) []*agg {
		return slices.Collect(func(yield func(*agg) bool) {
			for _, k := range slices.Sorted(maps.Keys(m)) {
				if !yield(m[k]) {
					return
				}
			}
		})
	}
	statusText := func(a *agg) string {
		if a.active {
			return "Active"
		}
		return "Inactive"
	}
	for _, a := range sorted(types) {
		r.entityTypes = append(r.entityTypes, []Value{{S: a.s1 + " ↔ " + a.s2}, {S: a.e}, {S: a.t}, {S: statusText(a)}, timeValue(a.lastSynced)})
	}
	for _, a := range sorted(projects) {
		r.projects = append(r.projects, []Value{{S: a.s1}, {S: a.s2}, {S: a.p1}, {S: a.p2}, {S: statusText(a)}, timeValue(a.lastUpd), timeValue(a.lastSynced)})
	}
	for _, a := range sorted(pairs) {
		r.pairs = append(r.pairs, []Value{{S: a.s1}, {S: a.s2}, {N: a.synced}, timeValue(a.lastSynced)})
	}
	slices.SortStableFunc(r.users, func(a, b *identity.User) int {
		return cmp.Compare(strings.ToLower(userKey(a)), strings.ToLower(userKey(b)))
	})
	return r
}

func userKey(u *identity.User) string {
	for _, l := range [][]string{u.Emails, u.Usernames, u.DisplayNames} {
		if len(l) > 0 {
			return l[0]
		}
	}
	return ""
}

func timeValue(t time.Time) Value {
	if t.IsZero() {
		return Value{Null: true}
	}
	return Value{T: t}
}

func breakdown(c map[identity.Rule]int) []Value {
	out := make([]Value, len(identity.Rules))
	for i, rule := range identity.Rules {
		out[i] = Value{S: fmt.Sprintf("%s: %d", rule, c[rule])}
	}
	return out
}

var interactionLabels = map[string]string{
	"comment_author": "Comment author", "attachment_author": "Attachment author",
	"mapped_user_field": "Mapped user field", "mention": "Mention in rich text", "update_author": "Update author",
}

func textFields(headers ...string) []Field {
	out := make([]Field, len(headers))
	for i, h := range headers {
		out[i] = Field{Header: h, Kind: Text}
	}
	return out
}

func timeField(h string) Field {
	return Field{Header: h, Kind: Time, Layout: reportTime, Excel: "yyyy-mm-dd hh:mm"}
}

func writeUsageWorkbook(w io.Writer, r *usageReport, loc *time.Location) error {
	x := NewXLSX(w, "Summary")
	in := func(v Value) Value {
		if !v.Null && !v.T.IsZero() {
			v.T = v.T.In(loc)
		}
		return v
	}
	sheet := func(name string, fields []Field, rows [][]Value) error {
		// The rows are in hand: widths fit the longest cell.
		for _, row := range rows {
			for i, v := range row {
				if fields[i].Kind == Text {
					fields[i].Width = max(fields[i].Width, utf8.RuneCountInString(v.Text())+2)
				}
			}
		}
		if err := x.Sheet(name, fields); err != nil {
			return err
		}
		for _, row := range rows {
			for i := range row {
				row[i] = in(row[i])
			}
			if err := x.WriteRow(row); err != nil {
				return err
			}
		}
		return nil
	}

	total := identity.Counts(r.users)
	summary := [][]Value{
		append([]Value{{S: "Total Unique Users"}, {N: int64(len(r.users))}}, breakdown(total)...),
		{{S: "Total Unique Entity Types"}, {N: r.totals.entityTypes}, {Null: true}, {Null: true}, {Null: true}, {Null: true}},
		{{S: "Total Unique Projects"}, {N: r.totals.projects}, {Null: true}, {Null: true}, {Null: true}, {Null: true}},
		{{S: "Total Entities Synced"}, {N: r.totals.synced}, {Null: true}, {Null: true}, {Null: true}, {Null: true}},
	}
	summaryFields := append([]Field{{Header: "Metric", Kind: Text}, {Header: "Count", Kind: Number}}, textFields("Breakdown", "", "", "")...)
	if err := sheet("Summary", summaryFields, summary); err != nil {
		return err
	}

	var userRows [][]Value
	for _, sys := range slices.Sorted(maps.Keys(r.bySystem)) {
		userRows = append(userRows, []Value{{S: sys}, {N: int64(r.systemUsers[sys])}, {S: joinValues(breakdown(r.bySystem[sys]))}})
	}
	userRows = append(userRows, []Value{{S: "All systems"}, {N: int64(len(r.users))}, {S: joinValues(breakdown(total))}})
	if err := sheet("Unique User Count", []Field{{Header: "System / Source", Kind: Text}, {Header: "Count", Kind: Number}, {Header: "Identifiers", Kind: Text}}, userRows); err != nil {
		return err
	}
	if err := sheet("Entity Type Count", append(textFields("System Pairs", "End System", "Entity Types", "Status"), timeField("Last Synced")), r.entityTypes); err != nil {
		return err
	}
	if err := sheet("Integrated Project Count", append(textFields("End System 1", "End System 2", "End System 1 Project", "End System 2 Project", "Status"), timeField("Last Updated"), timeField("Last Synced")), r.projects); err != nil {
		return err
	}
	if err := sheet("Synced Data Count", []Field{{Header: "End System 1", Kind: Text}, {Header: "End System 2", Kind: Text}, {Header: "Counts Based on System Pair", Kind: Number}, timeField("Last Synced")}, r.pairs); err != nil {
		return err
	}

	var detail [][]Value
	for _, u := range r.users {
		var observed []string
		for _, sys := range slices.Sorted(maps.Keys(u.Systems)) {
			observed = append(observed, fmt.Sprintf("%s (%s)", sys, u.Systems[sys].In(loc).Format(reportTime)))
		}
		var interactions []string
		for _, i := range u.Interactions {
			interactions = append(interactions, cmp.Or(interactionLabels[i], i))
		}
		service := "No"
		if u.ServiceAccount {
			service = "Yes"
		}
		detail = append(detail, []Value{
			{S: strings.Join(u.Emails, "; ")}, {S: strings.Join(u.Usernames, "; ")}, {S: strings.Join(u.DisplayNames, "; ")},
			{S: strings.Join(interactions, "; ")}, {S: strings.Join(observed, "; ")}, {S: service},
			timeValue(u.LastSeen), {S: strings.Join(u.Duplicates, "; ")},
		})
	}
	detailFields := append(textFields("Email", "Username", "Display Name", "Interaction Types", "Observed In", "Service Account"), timeField("Last Seen"), Field{Header: "Duplicates", Kind: Text})
	if err := sheet("Detailed User Report", detailFields, detail); err != nil {
		return err
	}
	return x.Close()
}

func joinValues(vs []Value) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.Text()
	}
	return strings.Join(parts, "; ")
}

// ReportSummary is a workbook's Summary numbers, for the console's
// licenses page.
type ReportSummary struct {
	Period      string // "Last 6 Months" or "Last 1 Year"
	Users       int
	EntityTypes int64
	Projects    int64
	Synced      int64
}

// Summaries computes the Summary sheet's numbers of both workbooks the way
// Write does, without writing them.
func (u *UsageReports) Summaries(ctx context.Context) ([]ReportSummary, error) {
	// Both periods' observations are read side by side.
	type loaded struct {
		seen []usage.SeenGroup
		err  error
	}
	var got [2]loaded
	var wg sync.WaitGroup
	for i, from := range []time.Time{u.now.AddDate(0, -6, 0), u.now.AddDate(-1, 0, 0)} {
		wg.Go(func() {
			got[i].seen, got[i].err = u.src.SeenGroups(ctx, u.workspaceID, from, u.now)
		})
	}
	wg.Wait()
	var out []ReportSummary
	for i, period := range []string{"Last 6 Months", "Last 1 Year"} {
		recentOnly := i == 0
		seen, err := got[i].seen, got[i].err
		if err != nil {
			return nil, fmt.Errorf("usage reports: %w", err)
		}
		sortObservations(seen)
		var s []usage.SyncGroup
		for _, g := range u.syncs {
			if g.Recent || !recentOnly {
				s = append(s, g)
			}
		}
		r := buildUsageReport(s, seen, u.status)
		out = append(out, ReportSummary{Period: period, Users: len(r.users), EntityTypes: r.totals.entityTypes, Projects: r.totals.projects, Synced: r.totals.synced})
	}
	return out, nil
}
