// Package demo generates a deterministic year of realistic usage: API calls,
// user activity, integration syncs and user observations.
package demo

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// Config says what to generate.
type Config struct {
	Seed uint64
	// End is the newest moment of the data; a year before it is the oldest.
	End time.Time
	// Scale multiplies the volume; 1 gives about 240,000 events.
	Scale float64
	// BatchSize is how many events each call of the sink receives.
	BatchSize int
}

// Sink receives generated events in batches; the slice is reused after it
// returns.
type Sink func(ctx context.Context, batch []usage.Event) error

// Generate produces the demo data set and hands it to sink in batches.
// The same Seed and End give the same events.
func Generate(ctx context.Context, cfg Config, sink Sink) (int, error) {
	if cfg.Scale <= 0 {
		cfg.Scale = 1
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 5000
	}
	end := cfg.End.UTC().Truncate(time.Second)
	g := &gen{
		rng:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		end:   end,
		start: end.AddDate(-1, 0, 0),
		batch: make([]usage.Event, 0, cfg.BatchSize),
		size:  cfg.BatchSize,
		sink:  sink,
		ctx:   ctx,
	}
	steps := []func(n int) error{g.apiRequests, g.activities, g.syncs, g.observations}
	counts := []float64{180_000, 36_000, 24_000, 0}
	for i, step := range steps {
		if err := step(int(math.Round(counts[i] * cfg.Scale))); err != nil {
			return g.total, err
		}
	}
	return g.total, g.flush()
}

type gen struct {
	rng        *rand.Rand
	start, end time.Time
	batch      []usage.Event
	size       int
	sink       Sink
	ctx        context.Context
	total      int
	seq        int
}

func (g *gen) emit(e usage.Event) error {
	g.seq++
	e.ID = fmt.Sprintf("demo-%s-%07d", e.Kind, g.seq)
	g.batch = append(g.batch, e)
	if len(g.batch) >= g.size {
		return g.flush()
	}
	return nil
}

func (g *gen) flush() error {
	if len(g.batch) == 0 {
		return nil
	}
	if err := g.sink(g.ctx, g.batch); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	g.total += len(g.batch)
	g.batch = g.batch[:0]
	return nil
}

// when picks a moment of the year: 60% of it in the last 30 days, weighted
// towards working hours and weekdays, so recent logs look alive.
func (g *gen) when() time.Time {
	var t time.Time
	if g.rng.Float64() < 0.6 {
		t = g.end.Add(-time.Duration(g.rng.Int64N(int64(30 * 24 * time.Hour))))
	} else {
		t = g.start.Add(time.Duration(g.rng.Int64N(int64(g.end.Sub(g.start)))))
	}
	// Move night and weekend traffic into the working day half of the time.
	h := t.Hour()
	if (h < 7 || h > 19 || t.Weekday() == time.Saturday || t.Weekday() == time.Sunday) && g.rng.IntN(2) == 0 {
		day := t.Truncate(24 * time.Hour)
		for day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
			day = day.AddDate(0, 0, -1)
		}
		t = day.Add(time.Duration(8+g.rng.IntN(10))*time.Hour + time.Duration(g.rng.Int64N(int64(time.Hour))))
		if t.After(g.end) {
			t = g.end.Add(-time.Duration(g.rng.Int64N(int64(time.Hour))))
		}
	}
	return usage.TruncateMS(t.Add(time.Duration(g.rng.IntN(1000)) * time.Millisecond))
}

// times draws n moments with when and returns them in time order: events
// are generated oldest first, as a live stream arrives, which is how stores
// take them fastest (an index and the rollups grow at their end).
func (g *gen) times(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = g.when().UnixMilli()
	}
	slices.Sort(out)
	return out
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

type client struct {
	name, userAgent, urlPrefix string
	weight                     int
	ips                        []string
}

var clients = []client{
	{"Slack integration", "Java/21.0.5", "/a/rest/chat/", 22, []string{"34.201.12.7", "34.201.12.8"}},
	{"IdeaScale AI", "axios/1.7.7", "/a/rest/backend/v1/", 20, []string{"10.20.0.15", "10.20.0.16"}},
	{"Claude MCP", "ideascale-mcp-server/1.0.0", "/a/rest/v1/", 14, []string{"198.51.100.23", "2001:db8:40::17"}},
	{"Cursor IDE", "ideascale-mcp-server/1.2.1", "/a/rest/v1/", 8, []string{"198.51.100.88"}},
	{"Customer Success Team", "PostmanRuntime/7.43.3", "/a/rest/v1/", 18, []string{"203.0.113.41", "203.0.113.42", "203.0.113.77"}},
	{"Data Team", "python-requests/2.32.3", "/a/rest/v1/", 12, []string{"192.0.2.10"}},
	{"Partner portal", "okhttp/4.12.0", "/a/rest/v1/", 6, []string{"2001:db8:99::5"}},
}

type collection struct {
	name, ctype string
	endpoints   []endpoint
}

type endpoint struct{ method, path string }

var collections = []collection{
	{"Ideas API", "proxy", []endpoint{{"GET", "ideas"}, {"GET", "ideas/{id}"}, {"POST", "ideas"}, {"PUT", "ideas/{id}/vote"}, {"GET", "ideas/{id}/comments"}}},
	{"Members sync", "recipe", []endpoint{{"GET", "members"}, {"POST", "members/sync"}, {"GET", "members/{id}"}}},
	{"Chat bot", "proxy", []endpoint{{"POST", "messages"}, {"GET", "channels"}, {"POST", "commands/{id}"}}},
	{"AI assistant", "recipe", []endpoint{{"POST", "summaries"}, {"POST", "classify"}, {"GET", "insights/{id}"}}},
	{"Reporting", "proxy", []endpoint{{"GET", "reports/usage"}, {"GET", "reports/{id}/export"}}},
}

var communities = []string{"Innovation Hub", "Product Ideas", "Employee Voice", "Customer Council", "Sustainability Lab"}

var memberNames = func() []string {
	first := []string{"Ada", "Ben", "Chiara", "Dmitri", "Elif", "Farah", "Goran", "Hana", "Ines", "Jonas", "Kofi", "Lena", "Mateo", "Noor", "Olga", "Priya", "Quinn", "Rafael", "Sofia", "Tariq"}
	last := []string{"Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak"}
	var out []string
	for i, f := range first {
		out = append(out, f+" "+last[i%len(last)])
	}
	return out
}()

// refusal is a failure the demo produces, with its gateway code.
type refusal struct {
	status, gateway int
	details         string
	weight          int
}

var failures = []refusal{
	{401, 4011, "Unrecognized token", 6},
	{401, 4012, "Missing token", 5},
	{401, 4013, "Revoked token", 2},
	{403, 4031, "Missing scope LOGS_READ", 3},
	{404, 4041, "Endpoint not found", 5},
	{404, 4042, "Collection is inactive", 2},
	{413, 4131, "Payload too large", 1},
	{429, 4291, "Rate limit exceeded", 4},
	{400, 0, "", 4},
	{422, 0, "", 2},
	{500, 0, "", 3},
	{502, 0, "", 2},
	{503, 0, "", 1},
}

// failureRate is the share of API calls that fail.
const failureRate = 0.085

func (g *gen) apiRequests(n int) error {
	clientWeights := 0
	for _, c := range clients {
		clientWeights += c.weight
	}
	failWeights := 0
	for _, f := range failures {
		failWeights += f.weight
	}
	times := g.times(n)
	for i := 0; i < n; i++ {
		w := g.rng.IntN(clientWeights)
		var c client
		for _, c = range clients {
			if w < c.weight {
				break
			}
			w -= c.weight
		}
		col := pick(g.rng, collections)
		ep := pick(g.rng, col.endpoints)
		called := strings.ReplaceAll(ep.path, "{id}", fmt.Sprint(1000+g.rng.IntN(9000)))
		slug := strings.ToLower(strings.ReplaceAll(col.name, " ", "-"))
		member := g.rng.IntN(len(memberNames))
		e := usage.Event{
			Kind: usage.KindAPIRequest, Time: time.UnixMilli(times[i]).UTC(), Method: ep.method,
			URL: c.urlPrefix + called, Endpoint: "/" + slug + "/" + ep.path, Status: 200,
			Community: pick(g.rng, communities), Collection: col.name, CollectionType: col.ctype,
			Client: c.name, MemberID: fmt.Sprintf("m-%03d", member+1), MemberName: memberNames[member],
			IP: pick(g.rng, c.ips), UserAgent: c.userAgent,
			TimingMS: int64(math.Exp(3.6 + 0.8*g.rng.NormFloat64())), DelayMS: int64(g.rng.ExpFloat64() * 4),
		}
		if ep.method == "POST" && g.rng.IntN(3) == 0 {
			e.Status = 201
		}
		if g.rng.Float64() < failureRate {
			fw := g.rng.IntN(failWeights)
			var f refusal
			for _, f = range failures {
				if fw < f.weight {
					break
				}
				fw -= f.weight
			}
			e.Status, e.GatewayCode, e.StatusDetails = f.status, f.gateway, f.details
			if f.gateway == 4042 && col.ctype == "recipe" {
				e.StatusDetails = "Recipe is inactive"
			}
			if f.gateway != 0 {
				e.TimingMS, e.DelayMS = 1+int64(g.rng.IntN(4)), 0
			}
			if f.status >= 500 {
				e.TimingMS += 2000 + int64(g.rng.IntN(28000))
			}
		}
		if col.ctype == "recipe" && e.Status < 400 {
			e.JobURL = fmt.Sprintf("https://automation.example.com/recipes/%s/jobs/%d", slug, 500000+g.seq)
		}
		e.ClientClass, e.UsageType = usage.Classify(e.URL, e.UserAgent)
		if err := g.emit(e); err != nil {
			return err
		}
	}
	return nil
}

var (
	assistants = []string{"Support Copilot", "Sales Coach", "Research Agent", "HR Helper", "Code Reviewer", "Legal Drafter"}
	workflows  = []string{"Weekly digest", "Lead triage", "Onboarding checklist", "Invoice check", "Incident summary"}
	projects   = []string{"Apollo", "Borealis", "Cascade", "Delta", "Evergreen"}
	models     = []string{"gpt-4o", "claude-sonnet-4", "mistral-large", "llama-3.1-70b"}
	apiKeys    = []string{"prod-backend", "staging", "analytics-export"}
)

func (g *gen) activities(n int) error {
	const users = 80
	times := g.times(n)
	for i := 0; i < n; i++ {
		u := g.rng.IntN(users)
		// A few heavy users and a long tail.
		if g.rng.IntN(3) == 0 {
			u = g.rng.IntN(10)
		}
		first := memberNames[u%len(memberNames)]
		name := fmt.Sprintf("%s %d", first, u/len(memberNames)+1)
		if u < len(memberNames) {
			name = first
		}
		e := usage.Event{
			Kind: usage.KindActivity, Time: time.UnixMilli(times[i]).UTC(), UserID: fmt.Sprintf("u-%03d", u+1),
			UserName: name, UserEmail: strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@acme.example",
			Project: projects[u%len(projects)], Model: pick(g.rng, models),
		}
		e.ProjectID = "p-" + strings.ToLower(e.Project)
		switch r := g.rng.IntN(10); {
		case r < 5:
			e.Feature = "chat"
			e.Messages = 1 + int64(g.rng.IntN(6))
		case r < 7:
			e.Feature = "agent"
			e.Assistant = pick(g.rng, assistants)
			e.AssistantID = "as-" + strings.ToLower(strings.ReplaceAll(e.Assistant, " ", "-"))
			e.Messages = 1 + int64(g.rng.IntN(10))
		case r < 9:
			e.Feature = "workflow"
			e.Workflow = pick(g.rng, workflows)
			e.WorkflowID = "wf-" + strings.ToLower(strings.ReplaceAll(e.Workflow, " ", "-"))
			e.Messages = 1
		default:
			e.Feature = "api"
			e.APIKey = pick(g.rng, apiKeys)
			e.Messages = 1 + int64(g.rng.IntN(3))
		}
		e.InputTokens = e.Messages * int64(200+g.rng.IntN(1800))
		e.OutputTokens = e.Messages * int64(100+g.rng.IntN(900))
		if err := g.emit(e); err != nil {
			return err
		}
	}
	return nil
}

type integration struct {
	id, system1, system2, project1, project2, status string
	entityTypes                                      []string
	updatedDaysAgo                                   int
	weight                                           int
}

var integrations = []integration{
	{"int-jira-snow", "Jira", "ServiceNow", "PLAT", "Incident", "active", []string{"Bug", "Incident", "Task"}, 12, 30},
	{"int-jira-ado", "Jira", "Azure DevOps", "MOB", "Mobile App", "active", []string{"Story", "Epic", "Bug", "Work Item"}, 40, 25},
	{"int-snow-ado", "ServiceNow", "Azure DevOps", "CHG", "Operations", "inactive", []string{"Change Request", "Task"}, 120, 10},
	{"int-jira-sf", "Jira", "Salesforce", "CS", "Service Cloud", "active", []string{"Case", "Bug"}, 5, 20},
	{"int-gh-jira", "GitHub", "Jira", "usagelog", "DEV", "inactive", []string{"Issue", "Pull Request"}, 200, 8},
	{"int-ado-zd", "Azure DevOps", "Zendesk", "Support", "Helpdesk", "active", []string{"Ticket", "Work Item"}, 30, 7},
}

func (g *gen) syncs(n int) error {
	total := 0
	for _, in := range integrations {
		total += in.weight
	}
	times := g.times(n)
	for i := 0; i < n; i++ {
		w := g.rng.IntN(total)
		var in integration
		for _, in = range integrations {
			if w < in.weight {
				break
			}
			w -= in.weight
		}
		t := time.UnixMilli(times[i]).UTC()
		if in.status == "inactive" {
			// Inactive integrations stopped before their last update.
			stop := g.end.AddDate(0, 0, -in.updatedDaysAgo)
			if t.After(stop) {
				t = usage.TruncateMS(g.start.Add(time.Duration(g.rng.Int64N(int64(stop.Sub(g.start))))))
			}
		}
		end := in.system2
		if g.rng.IntN(3) == 0 {
			end = in.system1
		}
		et := pick(g.rng, in.entityTypes)
		e := usage.Event{
			Kind: usage.KindSync, Time: t, Integration: in.id, System1: in.system1, System2: in.system2,
			Project1: in.project1, Project2: in.project2, EndSystem: end, EntityType: et,
			EntityID:          fmt.Sprintf("%s-%d", strings.ToUpper(et[:2]), 1+g.rng.IntN(4000)),
			IntegrationStatus: in.status, IntegrationUpdatedAt: g.end.AddDate(0, 0, -in.updatedDaysAgo).Truncate(time.Hour),
			Outcome: "synced",
		}
		if g.rng.Float64() < 0.07 {
			e.Outcome = "failed"
		}
		if err := g.emit(e); err != nil {
			return err
		}
	}
	return nil
}

// Observation is a user_seen template of the identity cases.
type Observation struct {
	System, Email, Username, DisplayName, Interaction string
	ServiceAccount                                    bool
}

// IdentityCases exercise every rule of identity resolution: transitive
// username/email merges across systems, email-only users that join an
// earlier user by local part or stand alone, display-name-only and
// username-only users, a service account, case and space differences, and
// one email under different usernames in different systems (a duplicate).
var IdentityCases = []Observation{
	// Rule 1, transitive: jdoe ~ john.doe ~ jd.
	{"Jira", "john.doe@acme.example", "jdoe", "John Doe", "comment_author", false},
	{"ServiceNow", "jd@acme.example", "John.Doe", "John D.", "update_author", false},
	{"Azure DevOps", "j.doe@partner.example", " JD ", "", "mention", false},
	// Rule 1, one email under two usernames in two systems: a duplicate.
	{"Jira", "alice@acme.example", "asmith", "Alice Smith", "attachment_author", false},
	{"ServiceNow", "Alice@Acme.example", "alice.s", "Alice Smith", "mapped_user_field", false},
	// Rule 1, a plain user.
	{"Salesforce", "maria.garcia@acme.example", "mgarcia", "María García", "comment_author", false},
	// Rule 2: email only, joins mgarcia's user by local part "maria.garcia".
	{"Zendesk", "MARIA.GARCIA@acme.example", "", "", "update_author", false},
	// Rule 2: email only, no earlier user: a user by email.
	{"GitHub", "new.hire@acme.example", "", "", "comment_author", false},
	{"Jira", "new.hire@acme.example", "", "New Hire", "mention", false},
	// Rule 3: display name only.
	{"ServiceNow", "", "", "Night Shift Operator", "update_author", false},
	{"Azure DevOps", "", "", "night shift operator ", "comment_author", false},
	// Rule 4: username only, joins jdoe's user.
	{"GitHub", "", "JDOE", "", "comment_author", false},
	// Rule 4: username only, a service account of its own.
	{"Jira", "", "svc-sync", "", "update_author", true},
	{"ServiceNow", "", "svc-sync", "", "mapped_user_field", false},
}

func (g *gen) observations(int) error {
	// The identity cases, each seen a few times over the year.
	for round := 0; round < 3; round++ {
		for _, o := range IdentityCases {
			if err := g.emit(observation(o, g.when())); err != nil {
				return err
			}
		}
	}
	// A population of people seen across systems, with the usual noise:
	// some with username and email, some email only, some display name only.
	systems := []string{"Jira", "ServiceNow", "Azure DevOps", "Salesforce", "Zendesk", "GitHub"}
	for p := 0; p < 400; p++ {
		first := memberNames[p%len(memberNames)]
		handle := fmt.Sprintf("%s%d", strings.ToLower(strings.Fields(first)[0]), p)
		email := handle + "@corp.example"
		display := fmt.Sprintf("%s (%d)", first, p)
		seenIn := 1 + g.rng.IntN(3)
		for s := 0; s < seenIn; s++ {
			sys := systems[(p+s*2)%len(systems)]
			for k := 0; k < 3+g.rng.IntN(6); k++ {
				o := Observation{System: sys, Interaction: pick(g.rng, usage.Interactions)}
				switch (p + s) % 7 {
				case 0:
					o.Email = email
				case 1:
					o.DisplayName = display
				case 2:
					o.Username = handle
				default:
					o.Email, o.Username, o.DisplayName = email, handle, display
				}
				if err := g.emit(observation(o, g.when())); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func observation(o Observation, t time.Time) usage.Event {
	return usage.Event{
		Kind: usage.KindUserSeen, Time: t, System: o.System, Email: o.Email, Username: o.Username,
		DisplayName: o.DisplayName, Interaction: o.Interaction, ServiceAccount: o.ServiceAccount,
	}
}

// Shape is what the generator's API calls are drawn from, for generators
// elsewhere (a database's own INSERT … SELECT at a billion events) that
// must give the same clients, collections, communities, members and
// failures in the same proportions.
type Shape struct {
	Clients     []ShapeClient
	Collections []ShapeCollection
	Communities []string
	Members     []string
	Failures    []ShapeFailure
	// FailureRate is the share of calls that fail (Failures).
	FailureRate float64
}

// ShapeClient is a caller: its weight among the clients, user agent, URL
// prefix and addresses.
type ShapeClient struct {
	Name, UserAgent, URLPrefix string
	Weight                     int
	IPs                        []string
}

// ShapeCollection is a collection with its endpoints, each "METHOD path".
type ShapeCollection struct {
	Name, Type string
	Endpoints  []string
}

// ShapeFailure is a failed call's status, gateway code and details, with
// its weight among the failures.
type ShapeFailure struct {
	Status, Gateway int
	Details         string
	Weight          int
}

// APIShape returns the shape of the generator's API calls.
func APIShape() Shape {
	s := Shape{Communities: slices.Clone(communities), Members: slices.Clone(memberNames), FailureRate: failureRate}
	for _, c := range clients {
		s.Clients = append(s.Clients, ShapeClient{c.name, c.userAgent, c.urlPrefix, c.weight, slices.Clone(c.ips)})
	}
	for _, c := range collections {
		sc := ShapeCollection{Name: c.name, Type: c.ctype}
		for _, ep := range c.endpoints {
			sc.Endpoints = append(sc.Endpoints, ep.method+" "+ep.path)
		}
		s.Collections = append(s.Collections, sc)
	}
	for _, f := range failures {
		s.Failures = append(s.Failures, ShapeFailure{f.status, f.gateway, f.details, f.weight})
	}
	return s
}
