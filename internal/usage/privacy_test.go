package usage

import (
	"regexp"
	"slices"
	"testing"
)

func TestTruncateIP(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.77":               "203.0.113.0",
		"2001:db8:abcd:1234:5678::1": "2001:db8:abcd::",
		"::ffff:198.51.100.9":        "198.51.100.0",
		"fe80::1%eth0":               "fe80::",
		"not an ip":                  "",
		"":                           "",
		"<script>alert(1)</script>":  "",
	} {
		if got := TruncateIP(in); got != want {
			t.Errorf("TruncateIP(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPseudonyms(t *testing.T) {
	secret := []byte("server secret")
	on := Settings{AnonymizeUsers: true, AnonymizeIPs: true}
	p1, again, p2 := NewPrivacy(on, secret, 1), NewPrivacy(on, secret, 1), NewPrivacy(on, secret, 2)
	a := p1.Pseudonym("u-ada")
	if !regexp.MustCompile(`^user-[0-9a-f]{8}$`).MatchString(a) {
		t.Fatalf("pseudonym %q", a)
	}
	if again.Pseudonym("u-ada") != a || p1.Pseudonym("u-bob") == a || p2.Pseudonym("u-ada") == a {
		t.Errorf("pseudonyms must be stable per workspace and differ between users and workspaces")
	}
	e := Event{Kind: KindActivity, UserID: "u-ada", UserName: "Ada Lovelace", UserEmail: "ada@example.com", IP: "203.0.113.7"}
	p1.Apply(&e)
	if e.UserID != a || e.UserName != a || e.UserEmail != a || e.IP != "203.0.113.0" {
		t.Errorf("applied: %+v", e)
	}
	off := NewPrivacy(Settings{}, secret, 1)
	e = Event{Kind: KindAPIRequest, MemberName: "Ada", IP: "203.0.113.7"}
	off.Apply(&e)
	if e.MemberName != "Ada" || e.IP != "203.0.113.7" || off.Active() {
		t.Errorf("privacy off changed %+v", e)
	}
}

func TestPrivacyReads(t *testing.T) {
	on := NewPrivacy(Settings{AnonymizeUsers: true}, []byte("s"), 1)
	ipsOnly := NewPrivacy(Settings{AnonymizeIPs: true}, []byte("s"), 1)
	for _, tc := range []struct {
		name   string
		p      Privacy
		fields []string
		want   []string
	}{
		{"member name needs the id", on, []string{"id", "member_name"}, []string{"id", "member_name", "member_id"}},
		{"both read", on, []string{"member_id", "member_name"}, []string{"member_id", "member_name"}},
		{"no person", on, []string{"id", "url"}, []string{"id", "url"}},
		{"activity", on, []string{"user_email"}, []string{"user_email", "user_id"}},
		{"user seen", on, []string{"display_name"}, []string{"display_name", "email", "username"}},
		{"every field", on, nil, nil},
		{"users not anonymised", ipsOnly, []string{"member_name", "ip"}, []string{"member_name", "ip"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Reads(tc.fields); !slices.Equal(got, tc.want) {
				t.Errorf("Reads(%q) = %q, want %q", tc.fields, got, tc.want)
			}
		})
	}
}
