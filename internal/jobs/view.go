package jobs

import (
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// View is an export job as the API answers it and a schedule's webhook
// delivers it.
type View struct {
	ID       string             `json:"id"`
	Report   string             `json:"report"`
	Format   string             `json:"format"`
	Filters  usage.FilterValues `json:"filters"`
	Timezone string             `json:"timezone"`
	Status   usage.JobStatus    `json:"status"`
	// RowsTotal is null while the store cannot tell.
	RowsWritten int64      `json:"rowsWritten"`
	RowsTotal   *int64     `json:"rowsTotal" jsonschema:"nullable"`
	CreatedAt   time.Time  `json:"createdAt"`
	StartedAt   *time.Time `json:"startedAt" jsonschema:"nullable"`
	FinishedAt  *time.Time `json:"finishedAt" jsonschema:"nullable"`
	FilePath    string     `json:"filePath,omitempty"`
	DownloadURL string     `json:"downloadUrl,omitempty"`
	RecordCount *int64     `json:"recordCount,omitempty"`
	Error       string     `json:"error,omitempty"`
	ScheduleID  string     `json:"scheduleId,omitempty"`
	CreatedBy   string     `json:"createdBy,omitempty"`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty"`
	// Webhook is what became of its schedule's webhook.
	Webhook string `json:"webhook,omitempty"`
}

// Linker makes the download link of a stored file, valid from now.
type Linker interface {
	URL(path string, now time.Time) string
}

// ViewOf is j as the API shows it, with a download link from links made
// at now when it has a file (none when links is nil).
func ViewOf(j usage.ExportJob, links Linker, now time.Time) View {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	v := View{ID: j.ID, Report: j.Spec.Report, Format: j.Spec.Format, Filters: j.Spec.Filters, Timezone: j.Spec.Timezone,
		Status: j.Status, RowsWritten: j.RowsWritten, CreatedAt: j.CreatedAt, StartedAt: opt(j.StartedAt),
		FinishedAt: opt(j.FinishedAt), Error: j.Error, ScheduleID: j.ScheduleID, CreatedBy: j.CreatedBy, ExpiresAt: opt(j.ExpiresAt), Webhook: j.Webhook}
	if v.Filters == nil {
		v.Filters = usage.FilterValues{}
	}
	if j.RowsTotal >= 0 {
		v.RowsTotal = &j.RowsTotal
	}
	if j.Status == usage.JobSucceeded && j.FilePath != "" {
		v.FilePath, v.RecordCount = j.FilePath, &j.RecordCount
		if links != nil {
			v.DownloadURL = links.URL(j.FilePath, now)
		}
	}
	return v
}
