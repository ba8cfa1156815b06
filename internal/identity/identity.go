// Package identity resolves user observations from many systems into
// users, by the seed 003 rules in their priority order (docs/reference.md,
// "Users in the usage reports"). It works on distinct observations, not
// raw events: the store groups those first.
package identity

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// Rule is how a user was first identified.
type Rule int

// The rules, in priority order.
const (
	UsernamesOrEmails Rule = iota
	Emails
	DisplayNames
	Usernames
)

// Rules lists every rule in priority order.
var Rules = []Rule{UsernamesOrEmails, Emails, DisplayNames, Usernames}

func (r Rule) String() string {
	return [...]string{"Usernames or Emails", "Emails", "Display Names", "Usernames"}[r]
}

// Observation is what is known of one identity seen in one system: the
// store's group of user_seen events per distinct (system, email, username,
// display name). It is the store's type, so that a year of groups is
// resolved without a copy.
type Observation = usage.SeenGroup

// User is one resolved user.
type User struct {
	Rule           Rule
	Emails         []string // as first seen, distinct case-insensitively
	Usernames      []string
	DisplayNames   []string
	Interactions   []string // sorted
	Systems        map[string]time.Time
	ServiceAccount bool
	LastSeen       time.Time
	// Duplicates lists the usernames one email was seen under in
	// different systems, when there are two or more.
	Duplicates []string
	obs        []int32 // indexes into Resolve's observations
}

// norm folds s for comparison. Most identities are already trimmed ASCII
// lower case: those are returned as they are, without a copy.
func norm(s string) string {
	s = strings.TrimSpace(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || ('A' <= c && c <= 'Z') {
			return strings.ToLower(s)
		}
	}
	return s
}

func localPart(email string) string {
	e := norm(email)
	if i := strings.LastIndexByte(e, '@'); i >= 0 {
		return e[:i]
	}
	return e
}

// Resolve groups observations into users. Rule 1 observations (username
// and email) are joined transitively by their keys — the username and the
// email's local part. Rule 2 (email, no username) joins the rule 1 user
// whose keys hold the local part, else groups by the whole email. Rule 3
// (no email, a display name) groups by display name. Rule 4 (username
// only) joins the earlier user whose keys hold the username — a rule 1
// user's keys, or a rule 2 user's local part — else groups by username.
// Observations with none of these are skipped. Users come in the order
// they were identified.
func Resolve(obs []Observation) []*User {
	users := resolve(obs)
	for _, u := range users {
		u.finish(obs)
	}
	return users
}

// CountUsers resolves obs and returns how many users each rule
// identified, without building the users' details.
func CountUsers(obs []Observation) (total int, byRule map[Rule]int) {
	users := resolve(obs)
	return len(users), Counts(users)
}

func resolve(obs []Observation) []*User {
	var users []*User
	newUser := func(r Rule) *User { u := &User{Rule: r}; users = append(users, u); return u }

	// Rule 1: union-find over keys.
	parent := map[string]string{}
	var find func(string) string
	find = func(k string) string {
		p, ok := parent[k]
		if !ok {
			parent[k] = k
			return k
		}
		if p == k {
			return k
		}
		r := find(p)
		parent[k] = r
		return r
	}
	union := func(a, b string) {
		ra, rb := find(a), find(b)
		if ra != rb {
			parent[rb] = ra
		}
	}
	var rule1 []int32
	for i := range obs {
		o := &obs[i]
		if email, user := norm(o.Email), norm(o.Username); email != "" && user != "" {
			rule1 = append(rule1, int32(i))
			union(user, localPart(email))
		}
	}
	// keyed maps a key (username or local part) to its user.
	keyed := map[string]*User{}
	byRoot := map[string]*User{}
	for _, i := range rule1 {
		o := &obs[i]
		user := norm(o.Username)
		root := find(user)
		u := byRoot[root]
		if u == nil {
			u = newUser(UsernamesOrEmails)
			byRoot[root] = u
		}
		u.obs = append(u.obs, i)
		keyed[user] = u
		keyed[localPart(o.Email)] = u
	}
	rule1Keys := maps.Clone(keyed)

	// Rule 2: email, no username.
	byEmail := map[string]*User{}
	for i := range obs {
		o := &obs[i]
		email := norm(o.Email)
		if email == "" || norm(o.Username) != "" {
			continue
		}
		local := localPart(email)
		u := rule1Keys[local]
		if u == nil {
			u = byEmail[email]
		}
		if u == nil {
			u = newUser(Emails)
			byEmail[email] = u
		}
		if _, ok := keyed[local]; !ok {
			keyed[local] = u
		}
		u.obs = append(u.obs, int32(i))
	}

	// Rule 3: no email, a display name.
	byName := map[string]*User{}
	for i := range obs {
		o := &obs[i]
		name := norm(o.DisplayName)
		if name == "" || norm(o.Email) != "" {
			continue
		}
		u := byName[name]
		if u == nil {
			u = newUser(DisplayNames)
			byName[name] = u
		}
		u.obs = append(u.obs, int32(i))
	}

	// Rule 4: a username only.
	byUsername := map[string]*User{}
	for i := range obs {
		o := &obs[i]
		user := norm(o.Username)
		if user == "" || norm(o.Email) != "" || norm(o.DisplayName) != "" {
			continue
		}
		u := keyed[user]
		if u == nil {
			u = byUsername[user]
		}
		if u == nil {
			u = newUser(Usernames)
			byUsername[user] = u
		}
		u.obs = append(u.obs, int32(i))
	}

	return users
}

// addDistinct appends s to list unless it is empty or already there
// (case-insensitively).
func addDistinct(list []string, s string) []string {
	s = strings.TrimSpace(s)
	if s == "" || slices.ContainsFunc(list, func(x string) bool { return norm(x) == norm(s) }) {
		return list
	}
	return append(list, s)
}

func (u *User) finish(all []Observation) {
	u.Systems = map[string]time.Time{}
	interactions := map[string]bool{}
	// usernames of each email, by system, for Duplicates.
	seen := map[string]map[string]string{} // email → username → a system
	dupSystems := map[string]map[string]bool{}
	for _, i := range u.obs {
		o := &all[i]
		u.Emails = addDistinct(u.Emails, o.Email)
		u.Usernames = addDistinct(u.Usernames, o.Username)
		u.DisplayNames = addDistinct(u.DisplayNames, o.DisplayName)
		for _, i := range o.Interactions {
			if i != "" {
				interactions[i] = true
			}
		}
		if o.LastSeen.After(u.Systems[o.System]) {
			u.Systems[o.System] = o.LastSeen
		}
		if o.LastSeen.After(u.LastSeen) {
			u.LastSeen = o.LastSeen
		}
		u.ServiceAccount = u.ServiceAccount || o.ServiceAccount
		if e, n := norm(o.Email), norm(o.Username); e != "" && n != "" {
			if seen[e] == nil {
				seen[e], dupSystems[e] = map[string]string{}, map[string]bool{}
			}
			if _, ok := seen[e][n]; !ok {
				seen[e][n] = strings.TrimSpace(o.Username)
			}
			dupSystems[e][o.System] = true
		}
	}
	u.Interactions = slices.Sorted(maps.Keys(interactions))
	for e, names := range seen {
		if len(names) > 1 && len(dupSystems[e]) > 1 {
			for _, n := range slices.Sorted(maps.Keys(names)) {
				u.Duplicates = addDistinct(u.Duplicates, names[n])
			}
		}
	}
	u.obs = nil
}

// Counts returns how many users each rule identified.
func Counts(users []*User) map[Rule]int {
	out := map[Rule]int{}
	for _, u := range users {
		out[u.Rule]++
	}
	return out
}
