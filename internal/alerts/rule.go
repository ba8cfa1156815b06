// Package alerts watches a workspace's usage and says when it goes wrong:
// a rule names a metric of the summaries over a window of time, a
// threshold, and whom to tell. This package holds rules and their
// validation, measures a rule from the summaries, and steps its state
// (ok, firing, no_data) to the notifications it calls for.
package alerts

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/usagelog/usagelog/internal/usage"
)

// Metric is what a rule measures over its window.
type Metric string

// The metrics a rule may watch.
const (
	MetricCalls     Metric = "calls"
	MetricErrors    Metric = "errors"
	MetricErrorRate Metric = "error_rate" // errors / calls, 0 to 1
	MetricP95MS     Metric = "p95_ms"
	MetricStatus    Metric = "status"  // calls answered with the codes of filters.status
	MetricSilence   Metric = "silence" // no call at all: fires on zero calls
)

// Metrics lists every metric, in the order the API documents them.
var Metrics = []Metric{MetricCalls, MetricErrors, MetricErrorRate, MetricP95MS, MetricStatus, MetricSilence}

// Ops are the comparisons a rule may make of its value to its threshold.
var Ops = []string{">", ">=", "<", "<="}

// Bounds of a rule's window and renotify interval.
const (
	MinWindow = 5 * time.Minute
	MaxWindow = 7 * 24 * time.Hour
	// MaxRules bounds a workspace's rules: each is measured every minute.
	MaxRules = 100
	// MaxEmails bounds a rule's email recipients.
	MaxEmails = 20
)

// Formats of a webhook's body.
const (
	FormatJSON  = "json"
	FormatSlack = "slack"
)

// Rule is an alert rule as it is stored.
type Rule struct {
	ID          string
	WorkspaceID int64
	Name        string
	Metric      Metric
	Op          string
	Threshold   float64
	Window      time.Duration
	// Filters are the log filters, as the logs API's query parameters
	// (collection, client, status_class…), validated by usage.ParseLogFilter.
	Filters  url.Values
	MinCalls int64
	Notify   Notify
	// Renotify is how often a firing rule notifies again; 0: once.
	Renotify time.Duration
	Enabled  bool
}

// Notify says whom a rule tells.
type Notify struct {
	Webhook string
	Format  string // FormatJSON or FormatSlack
	Email   []string
}

// Input is a rule as the API takes it.
type Input struct {
	Name      string              `json:"name" jsonschema:"required,maxLength=200"`
	Metric    string              `json:"metric" jsonschema:"required,enum=calls,enum=errors,enum=error_rate,enum=p95_ms,enum=status,enum=silence"`
	Op        string              `json:"op,omitempty" jsonschema:"enum=>,enum=>=,enum=<,enum=<="`
	Threshold *float64            `json:"threshold,omitempty" jsonschema:"description=Required but for silence; an error rate is a share from 0 to 1."`
	Window    string              `json:"window" jsonschema:"required,description=5m to 7d in minutes (m) or hours (h) or days (d)."`
	Filters   map[string][]string `json:"filters,omitempty" jsonschema:"description=The log filters of GET /api/v1/logs: each a list (empty: any)."`
	MinCalls  int64               `json:"min_calls,omitempty" jsonschema:"minimum=0"`
	Notify    NotifyInput         `json:"notify"`
	Renotify  string              `json:"renotify,omitempty" jsonschema:"description=How often a firing rule notifies again (5m to 7d); empty: once."`
	Enabled   *bool               `json:"enabled,omitempty" jsonschema:"description=Default true."`
}

// NotifyInput says whom a rule tells, as the API takes it.
type NotifyInput struct {
	Webhook string   `json:"webhook,omitempty"`
	Format  string   `json:"format,omitempty" jsonschema:"enum=json,enum=slack"`
	Email   []string `json:"email,omitempty"`
}

// Rule validates in and returns the rule it describes. Its error names
// every field at fault, in the API's words.
func (in *Input) Rule() (Rule, error) {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	r := Rule{Name: strings.TrimSpace(in.Name), Metric: Metric(in.Metric), Op: in.Op, MinCalls: in.MinCalls, Enabled: true}
	switch {
	case r.Name == "":
		bad("name: required")
	case utf8.RuneCountInString(r.Name) > 200 || !utf8.ValidString(r.Name):
		bad("name: at most 200 characters of UTF-8")
	}
	if !slices.Contains(Metrics, r.Metric) {
		bad("metric: unknown metric %q (want %s)", in.Metric, joinMetrics())
	}
	if r.Metric != MetricSilence {
		if !slices.Contains(Ops, r.Op) {
			bad("op: unknown comparison %q (want >, >=, < or <=)", in.Op)
		}
		t, err := threshold(in.Threshold)
		if err != nil {
			bad("threshold: %s", err)
		}
		r.Threshold = t
		if r.Metric == MetricErrorRate && (t < 0 || t > 1) {
			bad("threshold: an error rate is a share from 0 to 1, not %v", t)
		}
	}
	w, err := ParseSpan(in.Window)
	switch {
	case err != nil:
		bad("window: %s", err)
	case w < MinWindow || w > MaxWindow:
		bad("window: %s is outside 5m to 7d", in.Window)
	}
	r.Window = w
	if in.Renotify != "" && in.Renotify != "0" {
		d, err := ParseSpan(in.Renotify)
		switch {
		case err != nil:
			bad("renotify: %s", err)
		case d < MinWindow || d > MaxWindow:
			bad("renotify: %s is outside 5m to 7d", in.Renotify)
		}
		r.Renotify = d
	}
	if r.MinCalls < 0 {
		bad("min_calls: must not be negative")
	}
	r.Filters = url.Values{}
	for name, vals := range in.Filters {
		switch name {
		case "period", "from", "to", "tz":
			bad("filters.%s: the window is the rule's own (window)", name)
			continue
		}
		for _, v := range vals {
			if v != "" {
				r.Filters.Add(name, v)
			}
		}
	}
	if _, err := usage.ParseLogFilter(r.Filters, time.Now(), time.UTC); err != nil {
		bad("filters: %s", usage.ErrorMessage(err))
	}
	if r.Metric == MetricStatus && len(r.Filters["status"]) == 0 {
		bad("filters.status: the status metric counts the calls of these codes: give at least one")
	}
	if in.Enabled != nil {
		r.Enabled = *in.Enabled
	}
	r.Notify = Notify{Webhook: strings.TrimSpace(in.Notify.Webhook), Format: in.Notify.Format}
	if r.Notify.Format == "" {
		r.Notify.Format = FormatJSON
	}
	if r.Notify.Format != FormatJSON && r.Notify.Format != FormatSlack {
		bad("notify.format: unknown format %q (want json or slack)", in.Notify.Format)
	}
	if r.Notify.Webhook != "" {
		u, err := url.Parse(r.Notify.Webhook)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("notify.webhook: %q is not an http or https URL", r.Notify.Webhook)
		}
	}
	if len(in.Notify.Email) > MaxEmails {
		bad("notify.email: at most %d addresses", MaxEmails)
	}
	for _, e := range in.Notify.Email {
		a, err := mail.ParseAddress(e)
		if err != nil || a.Name != "" {
			bad("notify.email: %q is not an email address", e)
			continue
		}
		r.Notify.Email = append(r.Notify.Email, a.Address)
	}
	if len(errs) > 0 {
		return Rule{}, usage.Errorf(usage.EInvalid, "%s", strings.Join(errs, "; "))
	}
	return r, nil
}

// AuditDetails are what the audit log keeps of a rule created or changed
// (the API, the console and the CLI record the same).
func (r *Rule) AuditDetails() map[string]any {
	return map[string]any{"name": r.Name, "metric": r.Metric, "op": r.Op, "threshold": r.Threshold, "window": FormatSpan(r.Window),
		"filters": r.Filters, "webhook": r.Notify.Webhook, "email": r.Notify.Email, "enabled": r.Enabled}
}

func threshold(t *float64) (float64, error) {
	if t == nil {
		return 0, errors.New("required")
	}
	return *t, nil
}

func joinMetrics() string {
	s := make([]string, len(Metrics))
	for i, m := range Metrics {
		s[i] = string(m)
	}
	return strings.Join(s, ", ")
}

// ParseSpan reads a span of whole minutes, hours or days: 15m, 1h, 7d.
func ParseSpan(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("%q is not a span such as 15m, 1h or 7d", s)
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n <= 0 || n > 100000 {
		return 0, fmt.Errorf("%q is not a span such as 15m, 1h or 7d", s)
	}
	unit := map[byte]time.Duration{'m': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[s[len(s)-1]]
	if unit == 0 {
		return 0, fmt.Errorf("%q is not a span such as 15m, 1h or 7d", s)
	}
	return time.Duration(n) * unit, nil
}

// FormatSpan writes d as ParseSpan reads it, in the largest whole unit.
func FormatSpan(d time.Duration) string {
	switch {
	case d == 0:
		return ""
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	default:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
}
