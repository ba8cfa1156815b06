package export

import (
	"net/http"
	"net/url"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// Event reports read api_request events as a store streams them.
type Event = *usage.Event

func always(n int64) (int64, bool) { return n, true }

// APILogs is the seed 002 download: every field of the logs table and the
// diagnostic ones.
var APILogs = &Definition[Event]{
	Name:   "api-logs",
	Source: "api_request events",
	Reads:  []string{"id", "time", "status", "gateway_code", "status_details", "ip", "timing_ms", "delay_ms", "collection", "endpoint", "client", "job_url"},
	Columns: []Column[Event]{
		TimeColumn("Date", "2006-01-02T15:04:05.000Z07:00", "", func(e Event) time.Time { return e.Time }),
		TextColumn("Type", func(e Event) string { return usage.TypeText(e.Status) }),
		NumberColumn("Code", func(e Event) (int64, bool) { return always(int64(e.Status)) }),
		TextColumn("Status", func(e Event) string { return http.StatusText(e.Status) }),
		NumberColumn("Gateway code", func(e Event) (int64, bool) { return int64(e.GatewayCode), e.GatewayCode != 0 }),
		TextColumn("Status details", func(e Event) string { return e.StatusDetails }),
		TextColumn("IP", func(e Event) string { return e.IP }),
		NumberColumn("Timing", func(e Event) (int64, bool) { return always(e.TimingMS) }),
		NumberColumn("Delay", func(e Event) (int64, bool) { return always(e.DelayMS) }),
		TextColumn("API collection", func(e Event) string { return e.Collection }),
		TextColumn("Endpoint", func(e Event) string { return e.Endpoint }),
		TextColumn("Client", func(e Event) string { return e.Client }),
		TextColumn("Job details", func(e Event) string { return e.JobURL }),
	},
}

// APIUsage is the seed 000 export of API actions.
var APIUsage = &Definition[Event]{
	Name:   "api-usage",
	Source: "api_request events",
	Reads:  []string{"id", "time", "community", "member_name", "ip", "url", "user_agent", "client_class"},
	Columns: []Column[Event]{
		TextColumn("ID", func(e Event) string { return e.ID }),
		TextColumn("Community Name", func(e Event) string { return e.Community }),
		TextColumn("Member Name", func(e Event) string { return e.MemberName }),
		TimeColumn("Timestamp", "01/02/2006 15:04", "mm/dd/yyyy hh:mm", func(e Event) time.Time { return e.Time }),
		TextColumn("IP Address", func(e Event) string { return e.IP }),
		TextColumn("URL", func(e Event) string { return e.URL }),
		AppendTextColumn("Remote System Info", func(b []byte, e Event) []byte {
			b = append(b, "System: "...)
			b = append(b, e.ClientClass.Label()...)
			if e.UserAgent != "" {
				b = append(b, ", User-Agent: "...)
				b = append(b, e.UserAgent...)
			}
			return b
		}),
	},
}

// LogReports are the reports over api_request events.
var LogReports = []*Definition[Event]{APILogs, APIUsage}

// typeParam is the API usage export's choice of calls.
var typeParam = usage.Param{Name: "type", Enum: []string{"all", "mcp", "other"}, Description: "MCP calls, other calls, or all (the default)."}

// refineAPIUsage applies the API usage export's own parameter (type) and
// its limit of one community.
func refineAPIUsage(q url.Values, f *usage.LogFilter) error {
	switch t := q.Get("type"); t {
	case "", "all":
	case "mcp", "other":
		if f.UsageType != "" && string(f.UsageType) != t {
			return usage.Errorf(usage.EInvalid, "type %q contradicts usage_type %q", t, f.UsageType)
		}
		f.UsageType = usage.Type(t)
	default:
		return usage.Errorf(usage.EInvalid, "unknown type %q (want all, mcp or other)", t)
	}
	if len(f.Communities) > 1 {
		return usage.Errorf(usage.EInvalid, "community: give one community, or none for all")
	}
	return nil
}
