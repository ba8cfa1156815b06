// Package capture records API calls as usagelog api_request events without
// slowing or failing the calls: Handler is the middleware for any Go
// service, and usagelog's recording gateway is built on the same Recorder.
//
// A Recorder takes calls into a bounded buffer and delivers them in batches
// to a Sink (a usagelog server, or a store). While the sink is down,
// batches wait in a bounded on-disk spool and go out when it returns; when
// even the spool is full, calls are dropped, counted and logged at most once
// a minute. Close delivers or spools what is buffered.
package capture

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/usagelog/usagelog/internal/ingest"
	"github.com/usagelog/usagelog/internal/usage"
)

// Call is one API call as the event contract's api_request records it.
type Call struct {
	Time           time.Time // when the call arrived
	Method         string
	URL            string // the path as called
	Endpoint       string // the path as defined; the URL when not known
	Status         int
	GatewayCode    int
	StatusDetails  string
	Community      string
	Collection     string
	CollectionType string // "proxy" or "recipe"
	Client         string
	IP             string
	UserAgent      string
	TimingMS       int64 // time spent answering (the upstream's, behind the gateway)
	DelayMS        int64 // time before the answering began
	// MemberID and MemberName are the member of the platform the call
	// was made for (the seed's "Member Name"); JobURL links the job that
	// made it. Each empty when not known.
	MemberID   string
	MemberName string
	JobURL     string
}

// Event is a call as a Sink receives it: usagelog's api_request event
// (docs/reference.md, "Events") with the id the recorder gave it. Its
// fields are what usagelog's ingest accepts: valid UTF-8 of at most 8,192
// bytes, a status from 100 to 599 (200 when the handler wrote none), no
// negative milliseconds, the time in UTC to the millisecond, and a
// collection type of "proxy", "recipe" or none.
type Event struct {
	ID string
	Call
}

// event turns c into the event id.
func (c *Call) event(id string) Event {
	ct := c.CollectionType
	if ct != usage.CollectionProxy && ct != usage.CollectionRecipe {
		ct = ""
	}
	return Event{ID: id, Call: Call{
		Time: usage.TruncateMS(c.Time.UTC()), Method: clip(c.Method), URL: clip(c.URL), Endpoint: clip(c.Endpoint),
		Status: status(c.Status), GatewayCode: c.GatewayCode, StatusDetails: clip(c.StatusDetails),
		Community: clip(c.Community), Collection: clip(c.Collection), CollectionType: ct, Client: clip(c.Client),
		IP: clip(c.IP), UserAgent: clip(c.UserAgent), TimingMS: max(c.TimingMS, 0), DelayMS: max(c.DelayMS, 0),
		MemberID: clip(c.MemberID), MemberName: clip(c.MemberName), JobURL: clip(c.JobURL),
	}}
}

// stored is e as usagelog stores it.
func (e *Event) stored() usage.Event {
	return usage.Event{
		Kind: usage.KindAPIRequest, ID: e.ID, Time: e.Time, Method: e.Method, URL: e.URL, Endpoint: e.Endpoint,
		Status: e.Status, GatewayCode: e.GatewayCode, StatusDetails: e.StatusDetails, Community: e.Community,
		Collection: e.Collection, CollectionType: e.CollectionType, Client: e.Client, IP: e.IP,
		UserAgent: e.UserAgent, TimingMS: e.TimingMS, DelayMS: e.DelayMS,
		MemberID: e.MemberID, MemberName: e.MemberName, JobURL: e.JobURL,
	}
}

// eventOf is the Event of a stored api_request (the spool's lines).
func eventOf(u *usage.Event) Event {
	return Event{ID: u.ID, Call: Call{
		Time: u.Time, Method: u.Method, URL: u.URL, Endpoint: u.Endpoint, Status: u.Status,
		GatewayCode: u.GatewayCode, StatusDetails: u.StatusDetails, Community: u.Community,
		Collection: u.Collection, CollectionType: u.CollectionType, Client: u.Client, IP: u.IP,
		UserAgent: u.UserAgent, TimingMS: u.TimingMS, DelayMS: u.DelayMS,
		MemberID: u.MemberID, MemberName: u.MemberName, JobURL: u.JobURL,
	}}
}

// clip makes s what ingest accepts: valid UTF-8 (a percent-decoded path
// need not be) of at most MaxFieldLength bytes, cut on a rune boundary, so
// that a hostile path or user agent is recorded rather than refused.
func clip(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= ingest.MaxFieldLength {
		return s
	}
	cut := ingest.MaxFieldLength
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// status keeps a status ingest accepts: a handler that never wrote one
// answered 200, and a nonsense code is recorded as a server error.
func status(s int) int {
	switch {
	case s == 0:
		return 200
	case s < 100 || s > 599:
		return 500
	}
	return s
}
