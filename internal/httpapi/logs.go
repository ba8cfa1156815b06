package httpapi

import (
	"net/http"
	"reflect"
	"strconv"
	"strings"
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

// NewLogItem renders e with its time in loc: the fields of usage.Fields
// copied by name (logItemFields), then those only the answer has.
func NewLogItem(e *usage.Event, loc *time.Location) LogItem {
	item := LogItem{
		Time: e.Time.In(loc).Format("2006-01-02T15:04:05.000Z07:00"), Type: usage.TypeText(e.Status),
		StatusText: http.StatusText(e.Status),
	}
	v := reflect.ValueOf(&item).Elem()
	for _, f := range logItemFields {
		dst := v.Field(f.index)
		switch p := f.Ptr(e).(type) {
		case *string:
			dst.SetString(*p)
		case *int:
			dst.SetInt(int64(*p))
		case *int64:
			dst.SetInt(*p)
		case *usage.ClientClass:
			dst.SetString(string(*p))
		case *usage.Type:
			dst.SetString(string(*p))
		}
	}
	return item
}

type logItemField struct {
	usage.Field
	index int // in LogItem
}

// logItemFields are the fields of an api_request with the LogItem field
// of the same JSON name that shows them (kind and time are shown their
// own way). TestLogItemShowsEveryField fails when one has no LogItem field.
var logItemFields = func() []logItemField {
	byName := map[string]int{}
	t := reflect.TypeFor[LogItem]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		byName[name] = i
	}
	var out []logItemField
	for _, f := range usage.KindFields(usage.KindAPIRequest) {
		if i, ok := byName[f.Name]; ok && f.Name != "time" {
			out = append(out, logItemField{f, i})
		}
	}
	return out
}()

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
