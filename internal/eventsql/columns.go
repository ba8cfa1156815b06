// Package eventsql is the events table as SQL stores lay it out: one wide
// table of every kind's columns, the column list of each kind with the
// Event field it holds, the log query with its filters and keyset
// pagination, and the streamed scan. SQLite and ClickHouse share it.
package eventsql

import (
	"time"

	"github.com/usagelog/usagelog/internal/sqltime"
	"github.com/usagelog/usagelog/internal/usage"
)

// kindCodes keep the events index narrow: a small integer instead of a name.
var kindCodes = map[usage.Kind]int64{
	usage.KindAPIRequest: 1,
	usage.KindActivity:   2,
	usage.KindSync:       3,
	usage.KindUserSeen:   4,
}

// KindCode is a kind as stored.
func KindCode(k usage.Kind) int64 { return kindCodes[k] }

// Column ties an events Column to the Event field it holds. ptr gives the
// scan destination; get the insert value (scan and insert use one pointer,
// so they cannot disagree).
type Column struct {
	Name string
	Kind usage.Kind // "" for the columns every kind has
	Ptr  func(e *usage.Event) any
}

// msTime scans and writes a time as Unix milliseconds.
type msTime = sqltime.Millis

func msOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// boolInt scans an INTEGER 0/1 into a bool.
type boolInt struct{ b *bool }

func (b boolInt) Scan(src any) error {
	n, _ := src.(int64)
	b.SetInt64(n)
	return nil
}

func (b boolInt) SetInt64(n int64) { *b.b = n != 0 }

type classCol struct{ c *usage.ClientClass }

func (c classCol) Scan(src any) error {
	s, _ := src.(string)
	c.SetString(s)
	return nil
}

func (c classCol) SetString(s string) { *c.c = usage.ClientClass(s) }

type usageCol struct{ u *usage.Type }

func (u usageCol) Scan(src any) error {
	s, _ := src.(string)
	u.SetString(s)
	return nil
}

func (u usageCol) SetString(s string) { *u.u = usage.Type(s) }

// StringDest and IntDest are scan destinations that a driver's own rows
// fill without boxing the value in an any, as sql.Scanner takes it: a
// million-row scan would otherwise allocate for every time and class.
type (
	StringDest interface{ SetString(string) }
	IntDest    interface{ SetInt64(int64) }
)

const (
	api  = usage.KindAPIRequest
	act  = usage.KindActivity
	syn  = usage.KindSync
	seen = usage.KindUserSeen
)

var columns = []Column{
	{"id", "", func(e *usage.Event) any { return &e.ID }},
	{"time_ms", "", func(e *usage.Event) any { return msTime{T: &e.Time} }},

	{"method", api, func(e *usage.Event) any { return &e.Method }},
	{"url", api, func(e *usage.Event) any { return &e.URL }},
	{"endpoint", api, func(e *usage.Event) any { return &e.Endpoint }},
	{"status", api, func(e *usage.Event) any { return &e.Status }},
	{"gateway_code", api, func(e *usage.Event) any { return &e.GatewayCode }},
	{"status_details", api, func(e *usage.Event) any { return &e.StatusDetails }},
	{"community", api, func(e *usage.Event) any { return &e.Community }},
	{"collection", api, func(e *usage.Event) any { return &e.Collection }},
	{"collection_type", api, func(e *usage.Event) any { return &e.CollectionType }},
	{"client", api, func(e *usage.Event) any { return &e.Client }},
	{"member_id", api, func(e *usage.Event) any { return &e.MemberID }},
	{"member_name", api, func(e *usage.Event) any { return &e.MemberName }},
	{"ip", api, func(e *usage.Event) any { return &e.IP }},
	{"user_agent", api, func(e *usage.Event) any { return &e.UserAgent }},
	{"timing_ms", api, func(e *usage.Event) any { return &e.TimingMS }},
	{"delay_ms", api, func(e *usage.Event) any { return &e.DelayMS }},
	{"job_url", api, func(e *usage.Event) any { return &e.JobURL }},
	{"client_class", api, func(e *usage.Event) any { return classCol{&e.ClientClass} }},
	{"usage_type", api, func(e *usage.Event) any { return usageCol{&e.UsageType} }},

	{"user_id", act, func(e *usage.Event) any { return &e.UserID }},
	{"user_email", act, func(e *usage.Event) any { return &e.UserEmail }},
	{"user_name", act, func(e *usage.Event) any { return &e.UserName }},
	{"feature", act, func(e *usage.Event) any { return &e.Feature }},
	{"assistant_id", act, func(e *usage.Event) any { return &e.AssistantID }},
	{"assistant", act, func(e *usage.Event) any { return &e.Assistant }},
	{"workflow_id", act, func(e *usage.Event) any { return &e.WorkflowID }},
	{"workflow", act, func(e *usage.Event) any { return &e.Workflow }},
	{"project_id", act, func(e *usage.Event) any { return &e.ProjectID }},
	{"project", act, func(e *usage.Event) any { return &e.Project }},
	{"model", act, func(e *usage.Event) any { return &e.Model }},
	{"api_key", act, func(e *usage.Event) any { return &e.APIKey }},
	{"messages", act, func(e *usage.Event) any { return &e.Messages }},
	{"input_tokens", act, func(e *usage.Event) any { return &e.InputTokens }},
	{"output_tokens", act, func(e *usage.Event) any { return &e.OutputTokens }},

	{"integration", syn, func(e *usage.Event) any { return &e.Integration }},
	{"system1", syn, func(e *usage.Event) any { return &e.System1 }},
	{"system2", syn, func(e *usage.Event) any { return &e.System2 }},
	{"project1", syn, func(e *usage.Event) any { return &e.Project1 }},
	{"project2", syn, func(e *usage.Event) any { return &e.Project2 }},
	{"end_system", syn, func(e *usage.Event) any { return &e.EndSystem }},
	{"entity_type", syn, func(e *usage.Event) any { return &e.EntityType }},
	{"entity_id", syn, func(e *usage.Event) any { return &e.EntityID }},
	{"integration_status", syn, func(e *usage.Event) any { return &e.IntegrationStatus }},
	{"integration_updated_ms", syn, func(e *usage.Event) any { return msTime{T: &e.IntegrationUpdatedAt} }},
	{"outcome", syn, func(e *usage.Event) any { return &e.Outcome }},

	{"system", seen, func(e *usage.Event) any { return &e.System }},
	{"email", seen, func(e *usage.Event) any { return &e.Email }},
	{"username", seen, func(e *usage.Event) any { return &e.Username }},
	{"display_name", seen, func(e *usage.Event) any { return &e.DisplayName }},
	{"interaction", seen, func(e *usage.Event) any { return &e.Interaction }},
	{"service_account", seen, func(e *usage.Event) any { return boolInt{&e.ServiceAccount} }},
}

// InsertValue turns a scan destination into the value to insert.
func InsertValue(p any) any {
	switch v := p.(type) {
	case *string:
		return *v
	case *int:
		return int64(*v)
	case *int64:
		return *v
	case msTime:
		return msOf(*v.T)
	case boolInt:
		if *v.b {
			return int64(1)
		}
		return int64(0)
	case classCol:
		return string(*v.c)
	case usageCol:
		return string(*v.u)
	}
	panic("sqlite: no insert value for Column type")
}

// columnsByKind holds the columns each kind writes, the common ones first.
var columnsByKind = func() map[usage.Kind][]Column {
	m := map[usage.Kind][]Column{}
	for _, k := range usage.Kinds {
		for _, c := range columns {
			if c.Kind == "" || c.Kind == k {
				m[k] = append(m[k], c)
			}
		}
	}
	return m
}()

// KindColumns are the columns a kind writes, the common ones first.
func KindColumns(k usage.Kind) []Column { return columnsByKind[k] }
