package identity

import (
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }

// worked is the worked example: every rule, case and space differences, a
// transitive merge, a cross-system duplicate, a service account and an
// observation with nothing to go by.
func worked() []Observation {
	return []Observation{
		{System: "Jira", Email: "Ada@Example.com", Username: "ada", DisplayName: "Ada L", Interactions: []string{"comment_author"}, LastSeen: at(1)},
		{System: "Jira", Email: "alovelace@corp.example", Username: " ADA ", Interactions: []string{"mention"}, LastSeen: at(2)},
		{System: "ServiceNow", Email: "ada@example.com", Username: "alovelace", Interactions: []string{"update_author"}, LastSeen: at(5)},
		{System: "ServiceNow", Email: "bob@example.com", Username: "bobby", LastSeen: at(3)},
		{System: "Azure DevOps", Email: "BOB@other.example", LastSeen: at(4)},
		{System: "Azure DevOps", Email: "carol@example.com", LastSeen: at(6)},
		{System: "Azure DevOps", Email: "Carol@Example.com ", LastSeen: at(7)},
		{System: "Azure DevOps", DisplayName: "Dave Smith", LastSeen: at(8)},
		{System: "Azure DevOps", DisplayName: "dave smith", Username: "dsmith", LastSeen: at(9)},
		{System: "Azure DevOps", Username: "carol", LastSeen: at(10)},
		{System: "Azure DevOps", Username: "BOBBY", LastSeen: at(11)},
		{System: "Azure DevOps", Username: "svc-sync", ServiceAccount: true, Interactions: []string{"mapped_user_field"}, LastSeen: at(12)},
		{System: "Azure DevOps", LastSeen: at(13)},
	}
}

func TestWorkedExampleAcrossSystems(t *testing.T) {
	users := Resolve(worked())
	type summary struct {
		Rule         Rule
		Emails       []string
		Usernames    []string
		DisplayNames []string
		Systems      int
		Service      bool
		LastSeen     time.Time
		Duplicates   []string
	}
	var got []summary
	for _, u := range users {
		got = append(got, summary{u.Rule, u.Emails, u.Usernames, u.DisplayNames, len(u.Systems), u.ServiceAccount, u.LastSeen, u.Duplicates})
	}
	want := []summary{
		// Ada: "ada" and "ADA " are one username; alovelace@… gives the key
		// "alovelace", which ServiceNow's username joins; ada@example.com
		// is seen as "ada" in Jira and "alovelace" in ServiceNow.
		{UsernamesOrEmails, []string{"Ada@Example.com", "alovelace@corp.example"}, []string{"ada", "alovelace"}, []string{"Ada L"}, 2, false, at(5), []string{"ada", "alovelace"}},
		// Bob: the email-only BOB@other.example joins by its local part;
		// the username-only BOBBY joins by the username key.
		{UsernamesOrEmails, []string{"bob@example.com", "BOB@other.example"}, []string{"bobby"}, nil, 2, false, at(11), nil},
		// Carol: one email in two spellings; the username "carol" joins the
		// email's local part.
		{Emails, []string{"carol@example.com"}, []string{"carol"}, nil, 1, false, at(10), nil},
		{DisplayNames, nil, []string{"dsmith"}, []string{"Dave Smith"}, 1, false, at(9), nil},
		{Usernames, nil, []string{"svc-sync"}, nil, 1, true, at(12), nil},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("users:\n%+v\nwant\n%+v", got, want)
	}
	if c := Counts(users); !reflect.DeepEqual(c, map[Rule]int{UsernamesOrEmails: 2, Emails: 1, DisplayNames: 1, Usernames: 1}) {
		t.Errorf("counts %v", c)
	}
	if in := users[0].Interactions; !reflect.DeepEqual(in, []string{"comment_author", "mention", "update_author"}) {
		t.Errorf("interactions %v", in)
	}
}

func TestWorkedExamplePerSystem(t *testing.T) {
	bySystem := map[string][]Observation{}
	for _, o := range worked() {
		bySystem[o.System] = append(bySystem[o.System], o)
	}
	want := map[string]map[Rule]int{
		"Jira":       {UsernamesOrEmails: 1},
		"ServiceNow": {UsernamesOrEmails: 2},
		// Alone, Azure DevOps has no rule 1 user for BOB@other.example to
		// join, and BOBBY finds no key "bobby".
		"Azure DevOps": {Emails: 2, DisplayNames: 1, Usernames: 2},
	}
	for sys, w := range want {
		if got := Counts(Resolve(bySystem[sys])); !reflect.DeepEqual(got, w) {
			t.Errorf("%s: %v, want %v", sys, got, w)
		}
	}
}

func TestRules(t *testing.T) {
	o := func(email, username, display string) Observation {
		return Observation{System: "S", Email: email, Username: username, DisplayName: display, LastSeen: t0}
	}
	for _, tt := range []struct {
		name  string
		obs   []Observation
		users int
		rules map[Rule]int
	}{
		{"username and email share a key", []Observation{o("x@a", "y", ""), o("y@b", "z", "")}, 1, map[Rule]int{UsernamesOrEmails: 1}},
		{"transitive chain", []Observation{o("a@x", "b", ""), o("c@x", "d", ""), o("d@x", "b", "")}, 1, map[Rule]int{UsernamesOrEmails: 1}},
		{"no shared key", []Observation{o("a@x", "b", ""), o("c@x", "d", "")}, 2, map[Rule]int{UsernamesOrEmails: 2}},
		{"email joins rule 1 by local part", []Observation{o("ann@x", "ann", ""), o("ANN@y", "", "")}, 1, map[Rule]int{UsernamesOrEmails: 1}},
		{"emails with one local part stay apart without rule 1", []Observation{o("ann@x", "", ""), o("ann@y", "", "")}, 2, map[Rule]int{Emails: 2}},
		{"email case and spaces", []Observation{o(" Ann@X ", "", ""), o("ann@x", "", "")}, 1, map[Rule]int{Emails: 1}},
		{"display name without email", []Observation{o("", "", "Ann B"), o("", "ab", "ann b")}, 1, map[Rule]int{DisplayNames: 1}},
		{"display name with email is rule 2", []Observation{o("ann@x", "", "Ann")}, 1, map[Rule]int{Emails: 1}},
		{"username joins rule 1 key", []Observation{o("ann@x", "annb", ""), o("", "ANN", "")}, 1, map[Rule]int{UsernamesOrEmails: 1}},
		{"username joins rule 2 local part", []Observation{o("ann@x", "", ""), o("", "ann", "")}, 1, map[Rule]int{Emails: 1}},
		{"username does not join display names", []Observation{o("", "", "ann"), o("", "ann", "")}, 2, map[Rule]int{DisplayNames: 1, Usernames: 1}},
		{"usernames group", []Observation{o("", "svc", ""), o("", "SVC ", "")}, 1, map[Rule]int{Usernames: 1}},
		{"nothing to go by", []Observation{o("", "", ""), o(" ", " ", " ")}, 0, map[Rule]int{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			users := Resolve(tt.obs)
			if len(users) != tt.users || !reflect.DeepEqual(Counts(users), tt.rules) {
				t.Errorf("%d users %v, want %d %v", len(users), Counts(users), tt.users, tt.rules)
			}
		})
	}
}

func TestDuplicates(t *testing.T) {
	o := func(sys, email, username string) Observation {
		return Observation{System: sys, Email: email, Username: username, LastSeen: t0}
	}
	for _, tt := range []struct {
		name string
		obs  []Observation
		want []string
	}{
		{"one email, two usernames, two systems", []Observation{o("A", "x@e", "x1"), o("B", "x@e", "x")}, []string{"x", "x1"}},
		{"two usernames in one system only", []Observation{o("A", "x@e", "x1"), o("A", "x@e", "x")}, nil},
		{"same username everywhere", []Observation{o("A", "x@e", "x"), o("B", "X@E", "X")}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			users := Resolve(tt.obs)
			if len(users) != 1 || !reflect.DeepEqual(users[0].Duplicates, tt.want) {
				t.Errorf("duplicates %v, want %v", users[0].Duplicates, tt.want)
			}
		})
	}
}

func TestNorm(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "",
		"ada":               "ada",
		" Ada@Example.COM ": "ada@example.com",
		"\tÄDA ÖZ":          "äda öz",
		"ǅemal":             "ǆemal",
	} {
		if got := norm(in); got != want {
			t.Errorf("norm(%q) = %q, want %q", in, got, want)
		}
	}
}
