package httpapi

import (
	"fmt"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/usagelog/usagelog/capture"
	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/usage"
)

// usageExportAnswer is the seed 001 answer.
type usageExportAnswer struct {
	Success bool            `json:"success"`
	Data    usageExportData `json:"data"`
}

type usageExportData struct {
	FilePath    string           `json:"filePath"`
	DownloadURL string           `json:"downloadUrl"`
	DataType    string           `json:"dataType"`
	RecordCount int              `json:"recordCount"`
	DateRange   export.DateRange `json:"dateRange"`
}

// handleUsageExport is POST /export/{dataType}: aggregate the workspace's
// activity in the range, store the file, answer where to download it.
func (s *Server) handleUsageExport(w http.ResponseWriter, r *http.Request, c *caller) error {
	name := r.PathValue("dataType")
	u, ok := export.UsageExports[name]
	if !ok {
		return usage.Errorf(usage.ENotFound, "unknown data type %q (want %s)", name, export.UsageExportNames())
	}
	q := r.URL.Query()
	for k := range q {
		if k != "format" {
			return usage.Errorf(usage.EInvalid, "unknown parameter %q (this endpoint takes format)", k)
		}
	}
	format, err := export.ParseFormat(q.Get("format"))
	if err != nil {
		return usage.Errorf(usage.EInvalid, "%v", err)
	}
	if s.files == nil || s.signer == nil {
		return usage.Errorf(usage.EInternal, "no file store is configured")
	}
	var req export.UsageRequest
	if err := decodeSeedBody(w, r, &req); err != nil {
		return err
	}
	rng, err := req.Resolve(s.maxRangeDays)
	if err != nil {
		return err
	}
	release, err := s.exportSlot(w, c)
	if err != nil {
		return err
	}
	defer release()
	// The same plan an export job of this data type runs.
	plan, err := s.exporter.PlanUsageExport(r.Context(), c.Workspace, u, rng, format)
	if err != nil {
		return err
	}
	res, err := plan.Run(r.Context(), nil)
	if err != nil {
		return err
	}
	filePath, n := res.FilePath, int(res.Records)
	if err := s.audit(r, c, usage.AuditExportCreate, filePath, map[string]any{"report": u.Name, "format": string(format),
		"filters": map[string]any{"from": rng.From, "to": rng.To, "timezone": rng.Loc.String()}, "rows": n, "via": "usage export API"}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, usageExportAnswer{Success: true, Data: usageExportData{
		FilePath: filePath, DownloadURL: s.links.URL(filePath, s.now()), DataType: u.Name,
		RecordCount: n, DateRange: rng.Answer(),
	}})
	return nil
}

// handleFile is GET /files/{path...}: a signed download of a stored
// export. The signature covers the path, so no other file can be named;
// the file store refuses paths that leave its root all the same.
func (s *Server) handleFile(w http.ResponseWriter, r *http.Request) {
	if s.files == nil || s.signer == nil {
		s.writeError(w, r, usage.Errorf(usage.ENotFound, "no such file"))
		return
	}
	p := r.PathValue("path")
	q := r.URL.Query()
	if err := s.signer.Verify(p, q.Get("expires"), q.Get("signature"), s.now()); err != nil {
		s.writeError(w, r, err)
		return
	}
	f, err := s.files.Open(r.Context(), p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer f.Close()
	if ws, ok := usage.FileWorkspace(p); ok {
		// Whoever holds the link downloads: the entry names the link and
		// the address it was used from.
		err := s.auditReady()
		if err == nil {
			err = s.auditLog.Record(usage.AuditEntry{WorkspaceID: ws, Actor: usage.Actor{Type: usage.ActorSystem, ID: "signed-link", Name: "signed download link"},
				Action: usage.AuditExportDownload, Target: p, IP: capture.ClientIP(r, nil), Details: map[string]any{"size": f.Size(), "range": r.Header.Get("Range")}})
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	name := path.Base(p)
	h := w.Header()
	if f, err := export.ParseFormat(strings.TrimPrefix(path.Ext(name), ".")); err == nil {
		h.Set("Content-Type", f.ContentType())
	}
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, name, f.ModTime(), f)
}

// exportSlots bounds the exports running at once in each workspace.
type exportSlots struct {
	mu      sync.Mutex
	max     int
	running map[int64]int
}

// DefaultExportConcurrency is how many exports may run at once in a
// workspace unless configured.
const DefaultExportConcurrency = 2

// acquire takes a slot of the workspace for a synchronous export, or
// refuses with 429 and a Retry-After: the exports that hold them stream
// for seconds to minutes.
func (e *exportSlots) acquire(w http.ResponseWriter, workspaceID int64) (func(), error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running[workspaceID] >= e.max {
		w.Header().Set("Retry-After", "10")
		return nil, &usage.Error{Code: usage.ERateLimited,
			Message: fmt.Sprintf("%d exports are already running in this workspace (the limit); try again when one finishes", e.max)}
	}
	e.running[workspaceID]++
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.running[workspaceID]--; e.running[workspaceID] == 0 {
			delete(e.running, workspaceID)
		}
	}, nil
}
