package alerts

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Message is one notification of a rule: what it watched, what it
// measured and where to look.
type Message struct {
	Rule   *Rule
	Notice Notice
	Status Status
	M      Measurement
	// Link is the console's logs page with the rule's filters and window.
	Link string
}

// LogsLink is the console's logs page at base (the server's public URL)
// showing the calls r watches in the window that ends at at.
func LogsLink(base string, r *Rule, at time.Time) string {
	q := url.Values{}
	for k, v := range r.Filters {
		q[k] = v
	}
	q.Set("from", at.Add(-r.Window).UTC().Format(time.RFC3339))
	q.Set("to", at.UTC().Format(time.RFC3339))
	return strings.TrimRight(base, "/") + "/logs?" + q.Encode()
}

// Value writes m's value in the metric's unit.
func (m *Message) Value() string {
	switch m.Rule.Metric {
	case MetricErrorRate:
		return strconv.FormatFloat(m.M.Value*100, 'f', 1, 64) + "%"
	case MetricP95MS:
		return strconv.FormatFloat(m.M.Value, 'f', 0, 64) + " ms"
	}
	return strconv.FormatFloat(m.M.Value, 'f', -1, 64)
}

func (m *Message) threshold() string {
	r := m.Rule
	switch r.Metric {
	case MetricSilence:
		return "no call"
	case MetricErrorRate:
		return r.Op + " " + strconv.FormatFloat(r.Threshold*100, 'f', -1, 64) + "%"
	case MetricP95MS:
		return r.Op + " " + strconv.FormatFloat(r.Threshold, 'f', -1, 64) + " ms"
	}
	return r.Op + " " + strconv.FormatFloat(r.Threshold, 'f', -1, 64)
}

// Subject is the message's one line: state, rule, value, threshold, window.
func (m *Message) Subject() string {
	label := map[Notice]string{Fired: "FIRING", Repeated: "STILL FIRING", Resolved: "RESOLVED"}[m.Notice]
	if label == "" {
		label = strings.ToUpper(string(m.Status.State))
	}
	return fmt.Sprintf("[%s] %s: %s %s (threshold %s, last %s)", label, m.Rule.Name, m.Rule.Metric, m.Value(),
		m.threshold(), FormatSpan(m.Rule.Window))
}

// Text is the message as plain text: the subject, the calls measured, the
// filters and the link.
func (m *Message) Text() string {
	var b strings.Builder
	b.WriteString(m.Subject())
	fmt.Fprintf(&b, "\n\n%d calls in the window to %s", m.M.Calls, m.M.At.UTC().Format(time.RFC3339))
	if len(m.Rule.Filters) > 0 {
		names := make([]string, 0, len(m.Rule.Filters))
		for k := range m.Rule.Filters {
			names = append(names, k)
		}
		slices.Sort(names)
		for i, k := range names {
			sep := "; "
			if i == 0 {
				sep = ", filtered by "
			}
			fmt.Fprintf(&b, "%s%s %s", sep, k, strings.Join(m.Rule.Filters[k], " or "))
		}
	}
	b.WriteString(".\n")
	if m.Link != "" {
		b.WriteString("Logs: " + m.Link + "\n")
	}
	return b.String()
}

var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// webhookBody is the JSON a webhook of format json receives.
type webhookBody struct {
	Alert struct {
		ID        string              `json:"id"`
		Name      string              `json:"name"`
		Metric    Metric              `json:"metric"`
		Op        string              `json:"op,omitempty"`
		Threshold float64             `json:"threshold"`
		Window    string              `json:"window"`
		Filters   map[string][]string `json:"filters"`
	} `json:"alert"`
	Event Notice  `json:"event"`
	State State   `json:"state"`
	Value float64 `json:"value"`
	Calls int64   `json:"calls"`
	At    string  `json:"at"`
	Link  string  `json:"link,omitempty"`
	Text  string  `json:"text"`
}

// Body is the webhook's body in format (FormatJSON, or FormatSlack's
// {"text": …}).
func (m *Message) Body(format string) ([]byte, error) {
	if format == FormatSlack {
		// Slack reads <, > and & as markup: its own escapes keep a rule's
		// name as text.
		text := slackEscape.Replace(m.Subject())
		if m.Link != "" {
			text += "\n<" + m.Link + "|Open the logs>"
		}
		return json.Marshal(map[string]string{"text": text})
	}
	var w webhookBody
	r := m.Rule
	w.Alert.ID, w.Alert.Name, w.Alert.Metric, w.Alert.Threshold = r.ID, r.Name, r.Metric, r.Threshold
	w.Alert.Window, w.Alert.Filters = FormatSpan(r.Window), map[string][]string(r.Filters)
	if r.Metric != MetricSilence {
		w.Alert.Op = r.Op
	}
	if w.Alert.Filters == nil {
		w.Alert.Filters = map[string][]string{}
	}
	w.Event, w.State, w.Value, w.Calls = m.Notice, m.Status.State, m.M.Value, m.M.Calls
	w.At, w.Link, w.Text = m.M.At.UTC().Format(time.RFC3339), m.Link, m.Subject()
	return json.Marshal(w)
}
