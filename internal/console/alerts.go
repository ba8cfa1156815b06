package console

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/usagelog/usagelog/internal/alerts"
	"github.com/usagelog/usagelog/internal/usage"
)

// alertForm is the Alerts page's form, as it was filled in: shown again
// with the reason when it is refused.
type alertForm struct {
	Name, Metric, Op, Threshold, Window, MinCalls, Webhook, Format, Email, Renotify string
	Collection, Client, StatusClass, Status                                         string
}

// input is the rule the form describes; the log filters it offers are
// comma-separated lists, by the API's names.
func (f *alertForm) input() alerts.Input {
	in := alerts.Input{Name: f.Name, Metric: f.Metric, Op: f.Op, Window: f.Window, Renotify: f.Renotify,
		Filters: map[string][]string{}}
	in.Notify.Webhook, in.Notify.Format = strings.TrimSpace(f.Webhook), f.Format
	for name, v := range map[string]string{"collection": f.Collection, "client": f.Client, "status_class": f.StatusClass, "status": f.Status} {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				in.Filters[name] = append(in.Filters[name], p)
			}
		}
	}
	for _, e := range strings.Split(f.Email, ",") {
		if e = strings.TrimSpace(e); e != "" {
			in.Notify.Email = append(in.Notify.Email, e)
		}
	}
	return in
}

// withAlerts answers 404 when the console keeps no alerts (Config.Alerts).
func (c *Console) withAlerts(h func(http.ResponseWriter, *http.Request, *viewer)) func(http.ResponseWriter, *http.Request, *viewer) {
	return func(w http.ResponseWriter, r *http.Request, v *viewer) {
		if c.cfg.Alerts == nil {
			c.errorPage(w, r, v, http.StatusNotFound, "This server keeps no alerts.")
			return
		}
		h(w, r, v)
	}
}

func (c *Console) alertsPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	c.showAlerts(w, r, v, http.StatusOK, alertForm{Metric: "error_rate", Op: ">", Window: "15m", Format: "json"}, "", "")
}

func (c *Console) showAlerts(w http.ResponseWriter, r *http.Request, v *viewer, status int, form alertForm, secret, problem string) {
	rules, err := c.cfg.Alerts.Alerts(r.Context(), v.Workspace.ID)
	if err != nil {
		c.failPage(w, r, v, err, "Alerts are")
		return
	}
	c.render(w, status, "alerts.html", map[string]any{"Title": "Alerts", "Viewer": v, "Nav": "alerts", "Rules": rules,
		"Form": form, "Metrics": alerts.Metrics, "Ops": alerts.Ops, "Secret": secret, "Problem": problem, "Max": alerts.MaxRules})
}

func (c *Console) createAlert(w http.ResponseWriter, r *http.Request, v *viewer) {
	pf := r.PostFormValue
	form := alertForm{Name: pf("name"), Metric: pf("metric"), Op: pf("op"), Threshold: pf("threshold"), Window: pf("window"),
		MinCalls: pf("min_calls"), Webhook: pf("webhook"), Format: pf("format"), Email: pf("email"), Renotify: pf("renotify"),
		Collection: pf("collection"), Client: pf("client"), StatusClass: pf("status_class"), Status: pf("status")}
	in := form.input()
	problems := []string{}
	if t := strings.TrimSpace(form.Threshold); t != "" {
		if f, err := strconv.ParseFloat(t, 64); err != nil {
			problems = append(problems, "threshold: "+t+" is not a number")
		} else {
			in.Threshold = &f
		}
	}
	if m := strings.TrimSpace(form.MinCalls); m != "" {
		if n, err := strconv.ParseInt(m, 10, 64); err != nil {
			problems = append(problems, "min_calls: "+m+" is not a whole number")
		} else {
			in.MinCalls = n
		}
	}
	rule, err := in.Rule()
	if err != nil {
		problems = append(problems, usage.ErrorMessage(err))
	}
	if err == nil && rule.Notify.Webhook != "" && c.cfg.Webhooks != nil {
		if err := c.cfg.Webhooks(r.Context(), rule.Notify.Webhook); err != nil {
			problems = append(problems, usage.ErrorMessage(err))
		}
	}
	if len(problems) > 0 {
		c.showAlerts(w, r, v, http.StatusBadRequest, form, "", strings.Join(problems, "; "))
		return
	}
	if err := c.cfg.Audit.Ready(); err != nil {
		c.failPage(w, r, v, err, "Creating alerts is")
		return
	}
	rule.ID, rule.WorkspaceID = usage.RandomID("al_", 10), v.Workspace.ID
	secret := usage.RandomID("whsec_", 24)
	if err := c.cfg.Alerts.CreateAlert(r.Context(), &rule, secret, c.cfg.Now()); err != nil {
		if usage.ErrorCode(err) == usage.EInvalid {
			c.showAlerts(w, r, v, http.StatusBadRequest, form, "", usage.ErrorMessage(err))
			return
		}
		c.failPage(w, r, v, err, "Creating alerts is")
		return
	}
	if err := c.audit(r, v, usage.AuditAlertCreate, rule.ID, rule.AuditDetails()); err != nil {
		c.failPage(w, r, v, err, "Creating alerts is")
		return
	}
	if rule.Notify.Webhook == "" {
		secret = ""
	}
	c.showAlerts(w, r, v, http.StatusCreated, alertForm{Metric: "error_rate", Op: ">", Window: "15m", Format: "json"}, secret, "")
}

func (c *Console) alertPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	e, err := c.cfg.Alerts.Alert(r.Context(), v.Workspace.ID, r.PathValue("id"))
	if usage.ErrorCode(err) == usage.ENotFound {
		c.errorPage(w, r, v, http.StatusNotFound, "That alert rule does not exist in this workspace.")
		return
	}
	if err != nil {
		c.failPage(w, r, v, err, "Alerts are")
		return
	}
	history, err := c.cfg.Alerts.AlertEvents(r.Context(), v.Workspace.ID, e.ID, 200)
	if err != nil {
		c.failPage(w, r, v, err, "Alerts are")
		return
	}
	c.render(w, http.StatusOK, "alert.html", map[string]any{"Title": e.Name, "Viewer": v, "Nav": "alerts", "E": e,
		"History": history, "Window": alerts.FormatSpan(e.Window), "Renotify": alerts.FormatSpan(e.Renotify),
		"Logs": alerts.LogsLink("", &e.Rule, c.cfg.Now())})
}

func (c *Console) deleteAlert(w http.ResponseWriter, r *http.Request, v *viewer) {
	if err := c.cfg.Audit.Ready(); err != nil {
		c.failPage(w, r, v, err, "Deleting alerts is")
		return
	}
	err := c.cfg.Alerts.DeleteAlert(r.Context(), v.Workspace.ID, r.PathValue("id"))
	if err == nil {
		err = c.audit(r, v, usage.AuditAlertDelete, r.PathValue("id"), nil)
	}
	if usage.ErrorCode(err) == usage.ENotFound {
		c.errorPage(w, r, v, http.StatusNotFound, "That alert rule does not exist in this workspace.")
		return
	}
	if err != nil {
		c.failPage(w, r, v, err, "Deleting alerts is")
		return
	}
	http.Redirect(w, r, "/alerts", http.StatusSeeOther)
}

// firing lists the workspace's rules that fire, for the overview's top;
// none when the console keeps no alerts.
func (c *Console) firing(ctx context.Context, ws int64) []alerts.Entry {
	if c.cfg.Alerts == nil {
		return nil
	}
	rules, err := c.cfg.Alerts.Alerts(ctx, ws)
	if err != nil {
		c.log.Warn("overview: alerts", "err", err)
		return nil
	}
	var out []alerts.Entry
	for _, e := range rules {
		if e.Enabled && e.Status.State == alerts.Firing {
			out = append(out, e)
		}
	}
	return out
}

// lastValue writes a rule's latest value in its metric's unit.
func lastValue(e alerts.Entry) string {
	if e.Last.At.IsZero() {
		return "not measured yet"
	}
	return (&alerts.Message{Rule: &e.Rule, M: e.Last}).Value()
}
