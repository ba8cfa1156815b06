package usage

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// LogFilter selects api_request events. Times select rows; TZ only changes
// how times are written out.
type LogFilter struct {
	From           time.Time // inclusive; zero: from the first event
	To             time.Time // exclusive; zero: up to now
	Statuses       []int
	StatusClasses  []int // 2 for 2xx … 5 for 5xx
	Clients        []string
	Collections    []string
	CollectionType string
	Communities    []string
	UsageType      Type
	// Methods are HTTP methods (GET, POST…). The rollups keep no method:
	// a filter on it is read from the events (summary.PlanFilter).
	Methods []string
	TZ      *time.Location
}

// SelfCollection is the API collection of usagelog's own API calls. Views,
// summaries and exports leave it out unless a filter names it in
// Collections: a user's view is of their platform's traffic.
const SelfCollection = "usagelog API"

// SplitSelf splits f for stores whose rollups leave usagelog's own calls
// out: rest is f without SelfCollection, and self, when f names it, f
// with that collection alone; selfOnly says it was all f named (rest then
// matches every collection and counts for nothing).
func (f LogFilter) SplitSelf() (rest LogFilter, self *LogFilter, selfOnly bool) {
	if !slices.Contains(f.Collections, SelfCollection) {
		return f, nil, false
	}
	own := f
	own.Collections = []string{SelfCollection}
	f.Collections = slices.DeleteFunc(slices.Clone(f.Collections), func(c string) bool { return c == SelfCollection })
	return f, &own, len(f.Collections) == 0
}

// Location returns the filter's timezone, UTC when none was given.
func (f *LogFilter) Location() *time.Location {
	if f.TZ == nil {
		return time.UTC
	}
	return f.TZ
}

// Match reports whether e passes the filter. Stores push the filter down as
// SQL; Match is the reference they are tested against.
func (f *LogFilter) Match(e *Event) bool {
	if e.Kind != KindAPIRequest {
		return false
	}
	if !f.From.IsZero() && e.Time.Before(f.From) {
		return false
	}
	if !f.To.IsZero() && !e.Time.Before(f.To) {
		return false
	}
	if len(f.Statuses) > 0 || len(f.StatusClasses) > 0 {
		if !slices.Contains(f.Statuses, e.Status) && !slices.Contains(f.StatusClasses, e.Status/100) {
			return false
		}
	}
	if len(f.Clients) > 0 && !slices.Contains(f.Clients, e.Client) {
		return false
	}
	if len(f.Collections) > 0 && !slices.Contains(f.Collections, e.Collection) {
		return false
	}
	if len(f.Collections) == 0 && e.Collection == SelfCollection {
		return false
	}
	if f.CollectionType != "" && e.CollectionType != f.CollectionType {
		return false
	}
	if len(f.Communities) > 0 && !slices.Contains(f.Communities, e.Community) {
		return false
	}
	if f.UsageType != "" && e.UsageType != f.UsageType {
		return false
	}
	if len(f.Methods) > 0 && !slices.Contains(f.Methods, e.Method) {
		return false
	}
	return true
}

// Cursor is a position in the newest-first order of (time, id).
type Cursor struct {
	TimeMS int64
	ID     string
}

// Encode returns the opaque form handed to clients.
func (c Cursor) Encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.TimeMS, 10) + ":" + c.ID))
}

// ParseCursor decodes a cursor made by Encode.
func ParseCursor(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, Errorf(EInvalid, "invalid cursor %q", s)
	}
	ts, id, ok := strings.Cut(string(b), ":")
	t, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || id == "" {
		return Cursor{}, Errorf(EInvalid, "invalid cursor %q", s)
	}
	return Cursor{TimeMS: t, ID: id}, nil
}

// LogQuery is a page of the API log.
type LogQuery struct {
	LogFilter
	Limit int
	After *Cursor // nil: the first page
}

// Periods are the presets of the period filter.
var Periods = map[string]time.Duration{
	"1h":  time.Hour,
	"24h": 24 * time.Hour,
	"7d":  7 * 24 * time.Hour,
	"30d": 30 * 24 * time.Hour,
	"90d": 90 * 24 * time.Hour,
}

// LoadLocation resolves an IANA timezone name, with an error that names it.
func LoadLocation(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	// time.LoadLocation accepts "Local" and file paths relative to the zone
	// database; neither is an IANA name a user means.
	if name == "Local" || strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
		return nil, Errorf(EInvalid, "unknown timezone %q", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, Errorf(EInvalid, "unknown timezone %q", name)
	}
	return loc, nil
}

// Param is a query parameter, as the API description documents it and
// the CLI takes it as a flag (its name with - for _).
type Param struct {
	Name        string
	Description string
	Enum        []string
	// Repeat: given more than once, or comma-separated.
	Repeat   bool
	Required bool
}

// FilterParams are the query parameters of the log filters that
// ParseLogFilter reads, in the order the API documents them. A filter
// added to LogFilter is read here and documented here; the API
// description, the reports that take the log filters and the CLI's export
// flags are made from this list.
var FilterParams = []Param{
	{Name: "period", Enum: []string{"1h", "24h", "7d", "30d", "90d"}, Description: "The period up to now; not with from or to."},
	{Name: "from", Description: "RFC 3339 time, or YYYY-MM-DD: the day's start in tz."},
	{Name: "to", Description: "RFC 3339 time, or YYYY-MM-DD: the whole day in tz."},
	{Name: "status", Repeat: true, Description: "HTTP status codes; repeated or comma-separated."},
	{Name: "status_class", Repeat: true, Enum: []string{"1xx", "2xx", "3xx", "4xx", "5xx"}, Description: "Status classes; repeated (a comma-separated list is taken too)."},
	{Name: "client", Repeat: true, Description: "API clients, by name."},
	{Name: "collection", Repeat: true, Description: "API collections, by name; usagelog's own calls only when \"usagelog API\" is named."},
	{Name: "community", Repeat: true, Description: "Communities, by name."},
	{Name: "collection_type", Enum: CollectionTypes, Description: "The collections' type."},
	{Name: "usage_type", Enum: []string{string(TypeMCP), string(TypeOther)}, Description: "MCP calls or the others, as the classification rules tell them."},
	{Name: "method", Repeat: true, Description: "HTTP methods (GET, POST…); repeated or comma-separated."},
	{Name: "tz", Description: "An IANA timezone for the times written (and dates read); the workspace's setting unless given."},
}

// filterKeys are the query parameters ParseLogFilter reads.
var filterKeys = func() []string {
	out := make([]string, len(FilterParams))
	for i, p := range FilterParams {
		out[i] = p.Name
	}
	return out
}()

// ParseLogFilter reads the log filters of the HTTP contract from query
// parameters. Parameters named in extra are left for the caller; any other
// unknown parameter is an error, so that a typo is not silently ignored.
// defaultTZ applies when tz is absent.
func ParseLogFilter(q url.Values, now time.Time, defaultTZ *time.Location, extra ...string) (LogFilter, error) {
	var f LogFilter
	var errs []error
	for k := range q {
		if !slices.Contains(filterKeys, k) && !slices.Contains(extra, k) {
			errs = append(errs, fmt.Errorf("unknown parameter %q", k))
		}
	}
	f.TZ = defaultTZ
	if tz := q.Get("tz"); tz != "" {
		loc, err := LoadLocation(tz)
		if err != nil {
			errs = append(errs, err)
		} else {
			f.TZ = loc
		}
	}
	loc := f.Location()
	if p := q.Get("period"); p != "" {
		d, ok := Periods[p]
		if !ok {
			errs = append(errs, fmt.Errorf("unknown period %q (want 1h, 24h, 7d, 30d or 90d)", p))
		} else if q.Get("from") != "" || q.Get("to") != "" {
			errs = append(errs, errors.New("period cannot be combined with from or to"))
		} else {
			f.From = TruncateMS(now.Add(-d))
		}
	}
	if s := q.Get("from"); s != "" {
		t, err := ParseTimeBound(s, loc, false)
		if err != nil {
			errs = append(errs, fmt.Errorf("from: %w", err))
		}
		f.From = t
	}
	if s := q.Get("to"); s != "" {
		t, err := ParseTimeBound(s, loc, true)
		if err != nil {
			errs = append(errs, fmt.Errorf("to: %w", err))
		}
		f.To = t
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		errs = append(errs, errors.New("from must be before to"))
	}
	for _, s := range q["status"] {
		for _, part := range splitList(s) {
			n, err := strconv.Atoi(part)
			if err != nil || n < 100 || n > 599 {
				errs = append(errs, fmt.Errorf("unknown status %q (want an HTTP code such as 404)", part))
				continue
			}
			f.Statuses = append(f.Statuses, n)
		}
	}
	for _, s := range q["status_class"] {
		for _, part := range splitList(s) {
			if len(part) != 3 || !strings.EqualFold(part[1:], "xx") || part[0] < '1' || part[0] > '5' {
				errs = append(errs, fmt.Errorf("unknown status_class %q (want 1xx, 2xx, 3xx, 4xx or 5xx)", part))
				continue
			}
			f.StatusClasses = append(f.StatusClasses, int(part[0]-'0'))
		}
	}
	f.Clients = values(q, "client")
	f.Collections = values(q, "collection")
	f.Communities = values(q, "community")
	if ct := q.Get("collection_type"); ct != "" {
		if !slices.Contains(CollectionTypes, ct) {
			errs = append(errs, fmt.Errorf("unknown collection_type %q (want recipe or proxy)", ct))
		}
		f.CollectionType = ct
	}
	if ut := q.Get("usage_type"); ut != "" {
		if ut != string(TypeMCP) && ut != string(TypeOther) {
			errs = append(errs, fmt.Errorf("unknown usage_type %q (want mcp or other)", ut))
		}
		f.UsageType = Type(ut)
	}
	for _, s := range q["method"] {
		for _, part := range splitList(s) {
			m := strings.ToUpper(part)
			if m == "" || strings.Trim(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" || len(m) > 20 {
				errs = append(errs, fmt.Errorf("unknown method %q (want an HTTP method such as GET or POST)", part))
				continue
			}
			f.Methods = append(f.Methods, m)
		}
	}
	if len(errs) > 0 {
		return LogFilter{}, &Error{Code: EInvalid, Message: joinMessages(errs)}
	}
	return f, nil
}

// ParseTimeBound reads an RFC 3339 time or a bare YYYY-MM-DD date in loc.
// A bare date as an upper bound means the end of that day, which is what a
// person picking "to 2026-01-31" means; the result is always exclusive for
// upper bounds, so an RFC 3339 upper bound gets one millisecond added.
func ParseTimeBound(s string, loc *time.Location, upper bool) (time.Time, error) {
	if len(s) == len("2006-01-02") {
		d, err := time.ParseInLocation("2006-01-02", s, loc)
		if err != nil {
			return time.Time{}, Errorf(EInvalid, "invalid date %q (want YYYY-MM-DD or RFC 3339)", s)
		}
		if upper {
			d = d.AddDate(0, 0, 1)
		}
		return d.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, Errorf(EInvalid, "invalid time %q (want YYYY-MM-DD or RFC 3339)", s)
	}
	t = TruncateMS(t)
	if upper {
		t = t.Add(time.Millisecond)
	}
	return t, nil
}

func values(q url.Values, key string) []string {
	var out []string
	for _, s := range q[key] {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func joinMessages(errs []error) string {
	msgs := make([]string, len(errs))
	for i, err := range errs {
		msgs[i] = err.Error()
	}
	slices.Sort(msgs)
	return strings.Join(msgs, "; ")
}
