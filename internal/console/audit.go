package console

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/usagelog/usagelog/capture"
	"github.com/usagelog/usagelog/internal/audit"
	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/usage"
)

// audit records what the signed-in member v did.
func (c *Console) audit(r *http.Request, v *viewer, action, target string, details map[string]any) error {
	return c.cfg.Audit.Record(usage.AuditEntry{WorkspaceID: v.Workspace.ID, Actor: usage.Actor{Type: usage.ActorMember, ID: v.Member.ID, Name: v.Member.Email},
		Action: action, Target: target, IP: capture.ClientIP(r, nil), Details: details})
}

// auditSignIn records a sign-in or a failed one: in the member's workspace,
// or the default one for an email no member has.
func (c *Console) auditSignIn(ctx context.Context, m usage.Member, email, ip, action string, details map[string]any) {
	ws := m.WorkspaceID
	if ws == 0 {
		w, err := c.cfg.Meta.EnsureWorkspace(ctx, usage.DefaultWorkspace)
		if err != nil {
			c.log.Error("audit: sign-in not recorded", "email", email, "err", err)
			return
		}
		ws = w.ID
	}
	if err := c.cfg.Audit.Record(usage.AuditEntry{WorkspaceID: ws, Actor: usage.Actor{Type: usage.ActorMember, ID: m.ID, Name: email},
		Action: action, Target: email, IP: ip, Details: details}); err != nil {
		c.log.Error("audit: sign-in not recorded", "email", email, "err", err)
	}
}

// auditPage lists the workspace's audit log, newest first, with the API's
// filters (action, from, to) and its cursor.
func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	in := r.URL.Query()
	filters := url.Values{}
	for _, k := range []string{"action", "from", "to", "cursor"} {
		if s := strings.TrimSpace(in.Get(k)); s != "" {
			filters.Set(k, s)
		}
	}
	data := map[string]any{"Title": "Audit log", "Viewer": v, "Nav": "audit", "Q": filters, "Actions": usage.AuditActions}
	q, err := usage.ParseAuditQuery(filters)
	if err == nil {
		q.Limit = 100
		var entries []usage.AuditEntry
		if entries, err = c.cfg.Meta.Audit(r.Context(), v.Workspace.ID, q); err == nil {
			data["Entries"] = auditRows(entries)
			if len(entries) == q.Limit {
				last := entries[len(entries)-1]
				more := url.Values{}
				for k, vs := range filters {
					more[k] = vs
				}
				more.Set("cursor", usage.Cursor{TimeMS: last.Time.UnixMilli(), ID: last.ID}.Encode())
				data["More"] = more.Encode()
			}
		}
	}
	if err != nil {
		if usage.ErrorCode(err) != usage.EInvalid {
			c.failPage(w, r, v, err, "The audit log is")
			return
		}
		data["Problem"] = usage.ErrorMessage(err)
		c.render(w, http.StatusBadRequest, "audit.html", data)
		return
	}
	dl := url.Values{}
	for k, vs := range filters {
		if k != "cursor" {
			dl[k] = vs
		}
	}
	data["Download"] = "/audit.csv?" + dl.Encode()
	c.render(w, http.StatusOK, "audit.html", data)
}

// auditRow is an entry as the page shows it.
type auditRow struct {
	Time, Actor, Action, Target, IP, Details string
}

func auditRows(entries []usage.AuditEntry) []auditRow {
	out := make([]auditRow, len(entries))
	for i, e := range entries {
		details, _ := json.Marshal(e.Details)
		out[i] = auditRow{Time: e.Time.UTC().Format("2006-01-02 15:04:05"), Actor: e.Actor.Type + " " + e.Actor.Name,
			Action: e.Action, Target: e.Target, IP: e.IP, Details: string(details)}
	}
	return out
}

// auditCSV downloads the entries the filters select, every page of them.
func (c *Console) auditCSV(w http.ResponseWriter, r *http.Request, v *viewer) {
	q, err := usage.ParseAuditQuery(r.URL.Query())
	if err != nil {
		c.failPage(w, r, v, err, "The audit log is")
		return
	}
	q.Limit = 1000
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": v.Workspace.Name + "-audit.csv"}))
	h.Set("Cache-Control", "no-store")
	cw := export.NewCSV(w)
	if err := cw.WriteHeader(audit.Fields); err != nil {
		return
	}
	for {
		entries, err := c.cfg.Meta.Audit(r.Context(), v.Workspace.ID, q)
		if err != nil {
			c.log.Error("console: audit csv cut short", "err", err)
			return
		}
		for _, e := range entries {
			if err := cw.WriteRow(audit.Values(e)); err != nil {
				return
			}
		}
		if len(entries) < q.Limit {
			break
		}
		last := entries[len(entries)-1]
		q.After = &usage.Cursor{TimeMS: last.Time.UnixMilli(), ID: last.ID}
	}
	cw.Close()
}
