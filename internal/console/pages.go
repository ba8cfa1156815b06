package console

import (
	"cmp"
	"context"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// Events is what the console reads of the event store.
type Events interface {
	usage.LogScanner
	usage.ReportSource
	summary.Source
	Logs(ctx context.Context, workspaceID int64, q usage.LogQuery) ([]usage.Event, error)
}

// location is the workspace's timezone, UTC when unset or unknown.
func (c *Console) location(ctx context.Context, workspaceID int64) (*time.Location, usage.Settings) {
	st, err := c.cfg.Meta.Settings(ctx, workspaceID)
	if err != nil {
		c.log.Error("console: settings", "err", err)
		return time.UTC, st
	}
	loc, err := usage.LoadLocation(st.Timezone)
	if err != nil {
		return time.UTC, st
	}
	return loc, st
}

func (c *Console) home(w http.ResponseWriter, r *http.Request, v *viewer) {
	period := r.URL.Query().Get("period")
	if period == "" {
		period = "7d"
	}
	loc, _ := c.location(r.Context(), v.Workspace.ID)
	o, err := loadOverview(r.Context(), c.summaries, v.Workspace.ID, period, c.cfg.Now(), loc)
	if err != nil {
		c.failPage(w, r, v, err, "The overview is")
		return
	}
	bars, yMax, ticks := o.requestsChart(loc)
	var periods []string
	for _, p := range summary.Periods {
		periods = append(periods, p.Name)
	}
	c.render(w, http.StatusOK, "overview.html", map[string]any{
		"Title": "Overview", "Viewer": v, "Nav": "overview", "O": o, "Periods": periods,
		"Bars": bars, "YMax": yMax, "XTicks": ticks, "Clients": o.clientsChart(),
		"ChartW": chartW, "ChartH": chartH, "PlotH": chartH - chartBottom, "Left": chartLeft,
		"ClientsH": float64(len(o.Clients)) * clientRowH, "ClientLabelW": clientLabelWidth,
		"Zone": loc.String(), "Firing": c.firing(r.Context(), v.Workspace.ID),
	})
}

// logFilterKeys are the filters the logs page offers; the same names as the
// API's, so its download link carries them unchanged.
var logFilterKeys = []string{"period", "from", "to", "tz", "status_class", "status", "client", "collection_type", "collection"}

// logsQuery reads the page's filters, dropping empty ones; period defaults
// to 24h so that the first view is quick and alive.
func logsQuery(r *http.Request) url.Values {
	q := url.Values{}
	in := r.URL.Query()
	for _, k := range logFilterKeys {
		// Statuses, classes, clients and collections may be several: a
		// multiple select sends each, and a link may join statuses and
		// classes by commas (names may hold commas themselves).
		for _, v := range in[k] {
			parts := []string{v}
			if k == "status" || k == "status_class" {
				parts = strings.Split(v, ",")
			}
			for _, part := range parts {
				if part = strings.TrimSpace(part); part != "" && !slices.Contains(q[k], part) {
					q.Add(k, part)
				}
			}
			if k == "period" || k == "collection_type" || k == "from" || k == "to" || k == "tz" {
				break
			}
		}
	}
	// A custom range reads from and to; a period drops them.
	switch {
	case q.Get("period") == "custom" || (q.Get("period") == "" && (q.Has("from") || q.Has("to"))):
		q.Set("period", "custom")
	case q.Get("period") == "":
		q.Set("period", "24h")
		fallthrough
	default:
		q.Del("from")
		q.Del("to")
	}
	return q
}

// filterOf is the log filter of the page's query q: "custom" is the from
// and to it carries, not a period.
func filterOf(q url.Values) url.Values {
	f := url.Values{}
	for k, vs := range q {
		f[k] = vs
	}
	if f.Get("period") == "custom" {
		f.Del("period")
		if !f.Has("from") {
			// A range without a start reaches back to any stored call.
			f.Set("from", "2000-01-01")
		}
	}
	return f
}

const logsPageSize = 50

// logRow is one row of the logs table.
type logRow struct {
	Time, Status, Type, Collection, Endpoint, Client, IP string
	Timing                                               int64
	Error                                                bool
	Method                                               string
}

// logRows is the page of rows q selects; loc and st are the workspace's
// timezone and settings.
func (c *Console) logRows(r *http.Request, v *viewer, q url.Values, loc *time.Location, st usage.Settings) ([]logRow, string, error) {
	f, err := usage.ParseLogFilter(q, c.cfg.Now(), loc)
	if err != nil {
		return nil, "", err
	}
	loc = f.Location() // the times are shown in the zone picked
	lq := usage.LogQuery{LogFilter: f, Limit: logsPageSize + 1}
	if cur := r.URL.Query().Get("cursor"); cur != "" {
		after, err := usage.ParseCursor(cur)
		if err != nil {
			return nil, "", err
		}
		lq.After = &after
	}
	events, err := c.cfg.Events.Logs(r.Context(), v.Workspace.ID, lq)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(events) > logsPageSize {
		events = events[:logsPageSize]
		last := events[len(events)-1]
		next = usage.Cursor{TimeMS: last.Time.UnixMilli(), ID: last.ID}.Encode()
	}
	privacy := usage.NewPrivacy(st, c.cfg.Secret, v.Workspace.ID)
	rows := make([]logRow, 0, len(events))
	for i := range events {
		e := &events[i]
		privacy.Apply(e)
		// As the seed writes it: "401 Unauthorized", the gateway code beside.
		status := strings.TrimSpace(strconv.Itoa(e.Status) + " " + http.StatusText(e.Status))
		if e.GatewayCode != 0 {
			status += " · " + strconv.Itoa(e.GatewayCode)
		}
		rows = append(rows, logRow{
			Time: e.Time.In(loc).Format("2006-01-02 15:04:05"), Status: status, Type: usage.TypeText(e.Status),
			Collection: e.Collection, Endpoint: e.Endpoint, Client: e.Client, IP: e.IP, Timing: e.TimingMS,
			Error: e.Status >= 400, Method: e.Method,
		})
	}
	return rows, next, nil
}

func (c *Console) logsPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	q := logsQuery(r)
	loc, st := c.location(r.Context(), v.Workspace.ID)
	zone := loc.String()
	if tz := q.Get("tz"); tz != "" {
		zone = tz
	}
	filter := filterOf(q)
	// The choices are the window's values, whatever else is picked, so
	// that picking one client does not hide the others. They are read
	// while the page's rows are: both wait mostly on the store.
	window := url.Values{}
	for _, k := range []string{"period", "from", "to", "tz"} {
		if filter.Has(k) {
			window[k] = filter[k]
		}
	}
	var f *summary.Facets
	var ferr error
	facetsDone := make(chan struct{})
	go func() {
		defer close(facetsDone)
		f, ferr = c.facets(r.Context(), v.Workspace.ID, window, loc)
	}()
	rows, next, err := c.logRows(r, v, filter, loc, st)
	<-facetsDone
	data := map[string]any{"Title": "API logs", "Viewer": v, "Nav": "logs", "Q": q, "Rows": rows, "Zone": zone, "Zones": zoneChoices(zone)}
	if ferr != nil {
		if usage.ErrorCode(ferr) != usage.EInvalid {
			c.log.Error("console: log facets", "err", ferr)
		}
		f = &summary.Facets{}
	}
	var statuses []summary.ValueCalls
	for _, st := range f.Statuses {
		statuses = append(statuses, summary.ValueCalls{Value: strconv.Itoa(st.Status) + " " + st.Text, Calls: st.Calls})
	}
	data["Statuses"] = choices(statuses, q["status"], func(v string) string { code, _, _ := strings.Cut(v, " "); return code })
	data["Classes"] = choices([]summary.ValueCalls{{Value: "2xx"}, {Value: "3xx"}, {Value: "4xx"}, {Value: "5xx"}}, q["status_class"], nil)
	data["ClientChoices"] = choices(f.Clients, q["client"], nil)
	// usagelog's own calls are in no facet (views leave them out), but
	// may be picked.
	data["CollectionChoices"] = choices(append(f.Collections, summary.ValueCalls{Value: usage.SelfCollection, Calls: -1}), q["collection"], nil)
	if err != nil {
		if usage.ErrorCode(err) != usage.EInvalid {
			c.failPage(w, r, v, err, "The logs are")
			return
		}
		data["Problem"] = usage.ErrorMessage(err)
		c.render(w, usage.HTTPStatus(err), "logs.html", data)
		return
	}
	more := url.Values{}
	for k, vs := range q {
		more[k] = vs
	}
	if next != "" {
		more.Set("cursor", next)
		// Whole URLs: after "?" html/template escapes a value as one query
		// parameter, "=" and "&" too, and the link without JavaScript
		// would lose its cursor (a url.Values encoding is safe as it is).
		data["More"] = template.URL("/logs?" + more.Encode())
		data["MoreRows"] = template.URL("/logs/rows?" + more.Encode())
	}
	dl := url.Values{"format": {"csv"}}
	for k, vs := range filter {
		dl[k] = vs
	}
	data["Download"] = "/api/v1/exports/api-logs?" + dl.Encode()
	c.render(w, http.StatusOK, "logs.html", data)
}

// choice is an option of a filter's select.
type choice struct {
	Value, Label string
	Selected     bool
}

// choices are a filter's options, most calls first, with their counts;
// value maps a facet to the option's value (nil: the facet itself). The
// selected values stay options when the period has none of them.
func choices(facets []summary.ValueCalls, selected []string, value func(string) string) []choice {
	var out []choice
	found := map[string]bool{}
	for _, f := range facets {
		v := f.Value
		if value != nil {
			v = value(v)
		}
		label := f.Value
		if f.Calls > 0 {
			label += " (" + thousands(f.Calls) + ")"
		}
		out = append(out, choice{Value: v, Label: label, Selected: slices.Contains(selected, v)})
		found[v] = true
	}
	for _, s := range selected {
		if !found[s] {
			out = append(out, choice{Value: s, Label: s + " (0)", Selected: true})
		}
	}
	return out
}

// logsRowsFragment is the next page of rows for "Load more": the rows alone,
// with the cursor after them in a header.
func (c *Console) logsRowsFragment(w http.ResponseWriter, r *http.Request, v *viewer) {
	q := logsQuery(r)
	loc, st := c.location(r.Context(), v.Workspace.ID)
	rows, next, err := c.logRows(r, v, filterOf(q), loc, st)
	if err != nil {
		http.Error(w, usage.ErrorMessage(err), usage.HTTPStatus(err))
		return
	}
	if next != "" {
		q.Set("cursor", next)
		w.Header().Set("X-More", q.Encode())
	}
	c.render(w, http.StatusOK, "logrows", map[string]any{"Rows": rows})
}

// usageExportReports are the catalogue's activity exports, which the
// usage export page offers.
func usageExportReports() []export.Report {
	var out []export.Report
	for _, r := range export.Catalogue {
		if export.UsageExports[r.Name] != nil {
			out = append(out, r)
		}
	}
	return out
}

func (c *Console) apiUsagePage(w http.ResponseWriter, r *http.Request, v *viewer) {
	c.showAPIUsage(w, r, v, http.StatusOK, nil, "")
}

// showAPIUsage renders the API usage export form: the defaults (every
// community, every date, the workspace's timezone), or what the member
// sent, with the problem it had.
func (c *Console) showAPIUsage(w http.ResponseWriter, r *http.Request, v *viewer, status int, sent url.Values, problem string) {
	loc, _ := c.location(r.Context(), v.Workspace.ID)
	communities, err := c.communities(r.Context(), v.Workspace.ID, loc)
	if err != nil {
		c.log.Error("console: communities", "err", err)
	}
	now := c.cfg.Now().In(loc)
	f := formValues(url.Values{"format": {"xlsx"}, "type": {"all"}, "tz": {loc.String()},
		"from": {now.AddDate(0, 0, -30).Format("2006-01-02")}, "to": {now.Format("2006-01-02")}}, sent)
	if c := f.Get("community"); c != "" && !slices.Contains(communities, c) {
		communities = append(communities, c)
	}
	c.render(w, status, "apiusage.html", map[string]any{
		"Title": "Export data · API usage", "Viewer": v, "Nav": "export", "Communities": communities, "F": f,
		"Range": slices.Contains(sent["range"], "on"), "Problem": problem, "Zone": f.Get("tz"), "Zones": zoneChoices(f.Get("tz")),
	})
}

// formValues are a form's defaults with what the member sent over them.
func formValues(defaults, sent url.Values) url.Values {
	for k, vs := range sent {
		if len(vs) > 0 && vs[len(vs)-1] != "" {
			defaults[k] = vs
		}
	}
	return defaults
}

// communityLister is an event store that lists every community its API
// calls name, cheaply (both stores do, from their rollups).
type communityLister interface {
	Communities(ctx context.Context, workspaceID int64) ([]string, error)
}

// communities lists the communities of the workspace's API calls, all
// that are stored: the export takes any. A store that cannot list them
// gives the last year's, from the summaries.
func (c *Console) communities(ctx context.Context, workspaceID int64, loc *time.Location) ([]string, error) {
	var out []string
	if cl, ok := c.cfg.Events.(communityLister); ok {
		var err error
		if out, err = cl.Communities(ctx, workspaceID); err != nil {
			return nil, err
		}
	} else {
		from := c.cfg.Now().AddDate(-1, 0, 0).UTC().Format(time.RFC3339)
		f, err := c.facets(ctx, workspaceID, url.Values{"from": {from}}, loc)
		if err != nil {
			return nil, err
		}
		for _, v := range f.Communities {
			out = append(out, v.Value)
		}
	}
	sortFold(out)
	return out, nil
}

// facets are what the log filters q can pick, from the summaries; loc is
// the workspace's timezone.
func (c *Console) facets(ctx context.Context, workspaceID int64, q url.Values, loc *time.Location) (*summary.Facets, error) {
	req, err := summary.ParseFacetsRequest(q, c.cfg.Now(), loc)
	if err != nil {
		return nil, err
	}
	return c.summaries.Facets(ctx, workspaceID, req)
}

func (c *Console) usageExportsPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	c.showUsageExports(w, r, v, http.StatusOK, nil, "")
}

// showUsageExports renders the usage export form: the previous month in
// the workspace's timezone, or what the member sent, with its problem.
func (c *Console) showUsageExports(w http.ResponseWriter, r *http.Request, v *viewer, status int, sent url.Values, problem string) {
	loc, _ := c.location(r.Context(), v.Workspace.ID)
	now := c.cfg.Now().In(loc)
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc)
	f := formValues(url.Values{"tz": {loc.String()}, "from": {first.AddDate(0, -1, 0).Format("2006-01-02")},
		"to": {first.AddDate(0, 0, -1).Format("2006-01-02")}}, sent)
	c.render(w, status, "usageexports.html", map[string]any{
		"Title": "Export data · Usage exports", "Viewer": v, "Nav": "usage", "Reports": usageExportReports(), "F": f,
		"Problem": problem, "Zone": f.Get("tz"), "Zones": zoneChoices(f.Get("tz")),
	})
}

// download is where the export forms go when no script runs them as jobs
// (a plain browser): it takes the form's fields, drops what is the form's
// own (report, the range toggle, empty choices), checks them as the API
// will, and sends the browser to the API's synchronous export of the
// report, which the member's session may call (its role's scopes
// decide). A form whose fields the export would refuse is shown again
// with the reason, not the API's JSON error.
func (c *Console) download(w http.ResponseWriter, r *http.Request, v *viewer) {
	in := r.URL.Query()
	report, err := export.LookupReport(in.Get("report"))
	if err != nil {
		c.failPage(w, r, v, err, "The export is")
		return
	}
	// The range toggle: a hidden "off" precedes the checkbox, which adds
	// "on" when it is ticked.
	keepRange := !in.Has("range") || slices.Contains(in["range"], "on")
	out := url.Values{}
	for k, vs := range in {
		switch {
		case k == "report" || k == "range" || k == "csrf":
		case (k == "from" || k == "to") && !keepRange:
		default:
			for _, x := range vs {
				if x = strings.TrimSpace(x); x != "" {
					out.Add(k, x)
				}
			}
		}
	}
	if err := c.checkExport(r.Context(), v, report, out); err != nil {
		if code := usage.ErrorCode(err); code != usage.EInvalid && code != usage.EUnprocessable {
			c.failPage(w, r, v, err, "The export is")
			return
		}
		switch {
		case report.Name == export.APIUsage.Name:
			c.showAPIUsage(w, r, v, usage.HTTPStatus(err), in, usage.ErrorMessage(err))
		case slices.ContainsFunc(usageExportReports(), func(u export.Report) bool { return u.Name == report.Name }):
			c.showUsageExports(w, r, v, usage.HTTPStatus(err), in, usage.ErrorMessage(err))
		default:
			c.errorPage(w, r, v, usage.HTTPStatus(err), usage.ErrorMessage(err))
		}
		return
	}
	http.Redirect(w, r, "/api/v1/exports/"+report.Name+"?"+out.Encode(), http.StatusSeeOther)
}

// checkExport plans the export of q as the API will (its filters, format
// and timezone), without reading a row.
func (c *Console) checkExport(ctx context.Context, v *viewer, report export.Report, q url.Values) error {
	loc, _ := c.location(ctx, v.Workspace.ID)
	if tz := q.Get("tz"); tz != "" {
		var err error
		if loc, err = usage.LoadLocation(tz); err != nil {
			return usage.Errorf(usage.EInvalid, "Timezone: %s", usage.ErrorMessage(err))
		}
	}
	names := map[string]string{"from": "Start date", "to": "End date", "tz": "Timezone", "timezone": "Timezone", "format": "Export format"}
	_, err := report.Plan(export.Job{Workspace: v.Workspace, Filters: export.QueryFilters(q), Format: q.Get("format"),
		Timezone: loc.String(), Loc: loc, Now: c.cfg.Now(), MaxRangeDays: c.cfg.MaxRangeDays,
		Names: func(p string) string { return cmp.Or(names[p], p) }})
	return err
}

func (c *Console) licensesPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	data := map[string]any{"Title": "Licenses", "Viewer": v, "Nav": "licenses"}
	reports, err := export.LoadUsageReports(r.Context(), c.cfg.Events, v.Workspace.ID, c.cfg.Now())
	var sums []export.ReportSummary
	if err == nil {
		sums, err = reports.Summaries(r.Context())
	}
	if err != nil {
		c.failPage(w, r, v, err, "The usage summary is")
		return
	}
	data["Summaries"] = sums
	c.render(w, http.StatusOK, "licenses.html", data)
}

func (c *Console) keysPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	c.showKeys(w, r, v, http.StatusOK, "", "")
}

func (c *Console) showKeys(w http.ResponseWriter, r *http.Request, v *viewer, status int, token, problem string) {
	keys, err := c.cfg.Meta.Keys(r.Context(), v.Workspace.ID)
	if err != nil {
		c.failPage(w, r, v, err, "Keys are")
		return
	}
	c.render(w, status, "keys.html", map[string]any{"Title": "API keys", "Viewer": v, "Nav": "keys", "Keys": keys, "Scopes": usage.AllScopes, "Token": token, "Problem": problem})
}

func (c *Console) createKey(w http.ResponseWriter, r *http.Request, v *viewer) {
	var scopes []usage.Scope
	for _, s := range r.PostForm["scope"] {
		sc, err := usage.ParseScope(s)
		if err != nil {
			c.showKeys(w, r, v, usage.HTTPStatus(err), "", usage.ErrorMessage(err))
			return
		}
		scopes = append(scopes, sc)
	}
	token, key, err := usage.NewKey(v.Workspace.ID, r.PostFormValue("name"), scopes, c.cfg.Now())
	if err != nil {
		c.showKeys(w, r, v, usage.HTTPStatus(err), "", usage.ErrorMessage(err))
		return
	}
	if err := c.cfg.Audit.Ready(); err != nil {
		c.failPage(w, r, v, err, "Creating keys is")
		return
	}
	if err := c.cfg.Meta.CreateKey(r.Context(), key); err != nil {
		c.failPage(w, r, v, err, "Creating keys is")
		return
	}
	if err := c.audit(r, v, usage.AuditKeyCreate, key.ID, map[string]any{"name": key.Name, "scopes": key.Scopes}); err != nil {
		c.failPage(w, r, v, err, "Creating keys is")
		return
	}
	c.showKeys(w, r, v, http.StatusCreated, token, "")
}

func (c *Console) revokeKey(w http.ResponseWriter, r *http.Request, v *viewer) {
	if err := c.cfg.Audit.Ready(); err != nil {
		c.failPage(w, r, v, err, "Revoking keys is")
		return
	}
	err := c.cfg.Meta.RevokeKey(r.Context(), v.Workspace.ID, r.PathValue("id"), c.cfg.Now())
	if err == nil {
		err = c.audit(r, v, usage.AuditKeyRevoke, r.PathValue("id"), nil)
	}
	if usage.ErrorCode(err) == usage.ENotFound {
		c.errorPage(w, r, v, usage.HTTPStatus(err), "That key does not exist in this workspace.")
		return
	}
	if err != nil {
		c.failPage(w, r, v, err, "Revoking keys is")
		return
	}
	http.Redirect(w, r, "/keys", http.StatusSeeOther)
}
