package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// LogItem is an api_request as the logs API returns it: the ingested field
// names plus the derived ones.
type LogItem struct {
	ID             string `json:"id"`
	Time           string `json:"time"`
	Type           string `json:"type"`
	Method         string `json:"method,omitempty"`
	URL            string `json:"url,omitempty"`
	Endpoint       string `json:"endpoint,omitempty"`
	Status         int    `json:"status"`
	StatusText     string `json:"status_text"`
	GatewayCode    int    `json:"gateway_code,omitempty"`
	StatusDetails  string `json:"status_details,omitempty"`
	Community      string `json:"community,omitempty"`
	Collection     string `json:"collection,omitempty"`
	CollectionType string `json:"collection_type,omitempty"`
	Client         string `json:"client,omitempty"`
	MemberID       string `json:"member_id,omitempty"`
	MemberName     string `json:"member_name,omitempty"`
	IP             string `json:"ip,omitempty"`
	UserAgent      string `json:"user_agent,omitempty"`
	TimingMS       int64  `json:"timing_ms"`
	DelayMS        int64  `json:"delay_ms"`
	JobURL         string `json:"job_url,omitempty"`
	ClientClass    string `json:"client_class"`
	UsageType      string `json:"usage_type"`
}

// NewLogItem renders e with its time in loc.
func NewLogItem(e *usage.Event, loc *time.Location) LogItem {
	return LogItem{
		ID: e.ID, Time: e.Time.In(loc).Format("2006-01-02T15:04:05.000Z07:00"), Type: usage.TypeText(e.Status),
		Method: e.Method, URL: e.URL, Endpoint: e.Endpoint, Status: e.Status, StatusText: http.StatusText(e.Status),
		GatewayCode: e.GatewayCode, StatusDetails: e.StatusDetails, Community: e.Community, Collection: e.Collection,
		CollectionType: e.CollectionType, Client: e.Client, MemberID: e.MemberID, MemberName: e.MemberName, IP: e.IP,
		UserAgent: e.UserAgent, TimingMS: e.TimingMS, DelayMS: e.DelayMS, JobURL: e.JobURL,
		ClientClass: string(e.ClientClass), UsageType: string(e.UsageType),
	}
}

type logsPage struct {
	Items      []LogItem `json:"items"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request, c *caller) error {
	q := r.URL.Query()
	st, loc, err := s.workspaceSettings(r, c.Workspace.ID)
	if err != nil {
		return err
	}
	f, err := usage.ParseLogFilter(q, s.now(), loc, "limit", "cursor")
	if err != nil {
		return err
	}
	lq := usage.LogQuery{LogFilter: f, Limit: defaultPageSize}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxPageSize {
			return usage.Errorf(usage.EInvalid, "invalid limit %q (want 1 to %d)", l, maxPageSize)
		}
		lq.Limit = n
	}
	if cur := q.Get("cursor"); cur != "" {
		after, err := usage.ParseCursor(cur)
		if err != nil {
			return err
		}
		lq.After = &after
	}
	// One extra row tells whether another page exists.
	lq.Limit++
	events, err := s.events.Logs(r.Context(), c.Workspace.ID, lq)
	if err != nil {
		return err
	}
	page := logsPage{Items: make([]LogItem, 0, len(events))}
	if len(events) == lq.Limit {
		events = events[:len(events)-1]
		last := events[len(events)-1]
		page.NextCursor = usage.Cursor{TimeMS: last.Time.UnixMilli(), ID: last.ID}.Encode()
	}
	loc = f.Location()
	privacy := usage.NewPrivacy(st, s.secret, c.Workspace.ID)
	for i := range events {
		privacy.Apply(&events[i])
		page.Items = append(page.Items, NewLogItem(&events[i], loc))
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}
