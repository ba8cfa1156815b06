package console

import (
	"net/http"
	"strings"

	"github.com/usagelog/usagelog/internal/erasure"
	"github.com/usagelog/usagelog/internal/usage"
)

// erasureForm is the Erasures page's form, as it was filled in: shown
// again with the reason when it is refused.
type erasureForm struct {
	Field, Value, Reason string
	DeleteFiles          bool
}

// withErasures answers 404 when the console keeps no erasures.
func (c *Console) withErasures(h func(http.ResponseWriter, *http.Request, *viewer)) func(http.ResponseWriter, *http.Request, *viewer) {
	return func(w http.ResponseWriter, r *http.Request, v *viewer) {
		if c.cfg.Erasures == nil {
			c.errorPage(w, r, v, http.StatusNotFound, "This server keeps no erasures.")
			return
		}
		h(w, r, v)
	}
}

func (c *Console) erasuresPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	c.showErasures(w, r, v, http.StatusOK, erasureForm{Field: string(usage.EraseMemberID)}, "")
}

func (c *Console) showErasures(w http.ResponseWriter, r *http.Request, v *viewer, status int, form erasureForm, problem string) {
	list, err := c.cfg.Erasures.Erasures(r.Context(), v.Workspace.ID, 200)
	if err != nil {
		c.failPage(w, r, v, err, "Erasures are")
		return
	}
	c.render(w, status, "erasures.html", map[string]any{"Title": "Erasures", "Viewer": v, "Nav": "erasures", "Erasures": list,
		"Form": form, "Fields": usage.ErasureFields, "Problem": problem})
}

func (c *Console) createErasure(w http.ResponseWriter, r *http.Request, v *viewer) {
	pf := r.PostFormValue
	form := erasureForm{Field: pf("field"), Value: strings.TrimSpace(pf("value")), Reason: pf("reason"), DeleteFiles: pf("delete_files") == "on"}
	if form.Value == "" {
		c.showErasures(w, r, v, http.StatusBadRequest, form, "Enter the "+form.Field+" that names the person.")
		return
	}
	in := erasure.Input{Reason: form.Reason, DeleteFiles: form.DeleteFiles}
	switch usage.ErasureField(form.Field) {
	case usage.EraseMemberID:
		in.Match.MemberID = form.Value
	case usage.EraseUserEmail:
		in.Match.UserEmail = form.Value
	case usage.EraseUserID:
		in.Match.UserID = form.Value
	case usage.EraseIP:
		in.Match.IP = form.Value
	default:
		c.showErasures(w, r, v, http.StatusBadRequest, form, "Choose what names the person: member id, user email, user id or address.")
		return
	}
	if _, err := in.Matched(); err != nil {
		c.showErasures(w, r, v, http.StatusBadRequest, form, usage.ErrorMessage(err))
		return
	}
	if err := c.cfg.Audit.Ready(); err != nil {
		c.failPage(w, r, v, err, "Erasing is")
		return
	}
	e, err := erasure.Request(r.Context(), c.cfg.Erasures, c.cfg.Secret, v.Workspace.ID, in,
		usage.Actor{Type: usage.ActorMember, ID: v.Member.ID, Name: v.Member.Email}, c.cfg.Now())
	if err != nil {
		if usage.ErrorCode(err) == usage.EInvalid {
			c.showErasures(w, r, v, http.StatusBadRequest, form, usage.ErrorMessage(err))
			return
		}
		c.failPage(w, r, v, err, "Erasing is")
		return
	}
	if err := c.audit(r, v, usage.AuditErasureCreate, e.ID, erasure.AuditDetails(&e)); err != nil {
		c.failPage(w, r, v, err, "Erasing is")
		return
	}
	if c.cfg.Eraser != nil {
		c.cfg.Eraser.Wake()
	}
	http.Redirect(w, r, "/erasures/"+e.ID, http.StatusSeeOther)
}

func (c *Console) erasurePage(w http.ResponseWriter, r *http.Request, v *viewer) {
	e, err := c.cfg.Erasures.Erasure(r.Context(), v.Workspace.ID, r.PathValue("id"))
	if usage.ErrorCode(err) == usage.ENotFound {
		c.errorPage(w, r, v, http.StatusNotFound, "That erasure does not exist in this workspace.")
		return
	}
	if err != nil {
		c.failPage(w, r, v, err, "Erasures are")
		return
	}
	var removed []struct {
		Kind usage.Kind
		N    int64
	}
	for _, k := range usage.Kinds {
		if n, ok := e.Removed[k]; ok {
			removed = append(removed, struct {
				Kind usage.Kind
				N    int64
			}{k, n})
		}
	}
	final := e.Status == usage.ErasureDone || e.Status == usage.ErasureFailed
	data := map[string]any{"Title": "Erasure " + e.ID, "Viewer": v, "Nav": "erasures", "E": e, "Removed": removed, "Final": final}
	if !final {
		data["Refresh"] = 2 // seconds: the page follows the erasure until its receipt
	}
	c.render(w, http.StatusOK, "erasure.html", data)
}
