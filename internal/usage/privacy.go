package usage

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"iter"
	"net/netip"
	"slices"
	"strconv"
)

// Privacy applies a workspace's privacy settings to events before they
// leave in an export or an API answer.
type Privacy struct {
	users, ips bool
	key        []byte // per-workspace pseudonym key
}

// NewPrivacy returns the privacy of a workspace: secret is the server's,
// from which each workspace's pseudonym key is derived, so pseudonyms are
// stable across exports and differ between workspaces.
func NewPrivacy(st Settings, secret []byte, workspaceID int64) Privacy {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("usagelog pseudonyms/" + strconv.FormatInt(workspaceID, 10)))
	return Privacy{users: st.AnonymizeUsers, ips: st.AnonymizeIPs, key: m.Sum(nil)}
}

// Active reports whether anything is changed.
func (p Privacy) Active() bool { return p.users || p.ips }

// Reads returns the event fields a scan must read so that Apply can work
// on fields: a report reads what its columns show, and a pseudonym is made
// from the person's id, which the report may not show.
func (p Privacy) Reads(fields []string) []string {
	if !p.users || len(fields) == 0 { // none: every field
		return fields
	}
	out := slices.Clone(fields)
	need := func(field string, when ...string) {
		if !slices.Contains(out, field) && slices.ContainsFunc(when, func(f string) bool { return slices.Contains(fields, f) }) {
			out = append(out, field)
		}
	}
	need("member_id", "member_name")
	need("member_name", "member_id")
	need("user_id", "user_name", "user_email")
	need("email", "username", "display_name")
	need("username", "email", "display_name")
	return out
}

// Events applies p to each event of rows as it passes.
func (p Privacy) Events(rows iter.Seq2[*Event, error]) iter.Seq2[*Event, error] {
	if !p.Active() {
		return rows
	}
	return func(yield func(*Event, error) bool) {
		for e, err := range rows {
			if e != nil {
				p.Apply(e)
			}
			if !yield(e, err) {
				return
			}
		}
	}
}

// Pseudonym is the stable stand-in for a user: "user-" and 8 hex digits of
// a keyed HMAC of the user's identifier.
func (p Privacy) Pseudonym(id string) string {
	if id == "" {
		return ""
	}
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(id))
	return "user-" + hex.EncodeToString(m.Sum(nil)[:4])
}

// TruncateIP keeps an IPv4 address's /24 and an IPv6 address's /48; what
// is not an address is dropped.
func TruncateIP(s string) string {
	if s == "" {
		return ""
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return ""
	}
	a = a.Unmap()
	bits := 24
	if a.Is6() {
		bits = 48
	}
	pfx, _ := a.WithZone("").Prefix(bits)
	return pfx.Addr().String()
}

// Apply removes what the settings forbid from e: user and member names,
// ids and emails become one pseudonym per person; IPs are truncated.
func (p Privacy) Apply(e *Event) {
	if p.users {
		switch e.Kind {
		case KindAPIRequest:
			who := e.MemberID
			if who == "" {
				who = e.MemberName
			}
			ps := p.Pseudonym(who)
			e.MemberID, e.MemberName = ps, ps
		case KindActivity:
			ps := p.Pseudonym(e.UserID)
			e.UserID, e.UserName = ps, ps
			if e.UserEmail != "" {
				e.UserEmail = ps
			}
		case KindUserSeen:
			who := e.Email
			if who == "" {
				who = e.Username
			}
			ps := p.Pseudonym(who)
			e.Email, e.Username, e.DisplayName = ps, ps, ps
		}
	}
	if p.ips {
		e.IP = TruncateIP(e.IP)
	}
}
