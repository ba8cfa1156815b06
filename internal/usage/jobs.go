package usage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// JobStatus is where an export job is in its life.
type JobStatus string

// The statuses of an export job. Succeeded, failed and cancelled are final.
const (
	JobQueued    JobStatus = "queued"
	JobRunning   JobStatus = "running"
	JobSucceeded JobStatus = "succeeded"
	JobFailed    JobStatus = "failed"
	JobCancelled JobStatus = "cancelled"
)

// Final reports whether the job will not change any more.
func (s JobStatus) Final() bool { return s == JobSucceeded || s == JobFailed || s == JobCancelled }

// ExportSpec is what to export: a report, a format, the report's filters
// (the query parameters of its synchronous endpoint, e.g. period or
// status) and the timezone of the written times (and of bare dates).
type ExportSpec struct {
	Report   string       `json:"report" jsonschema:"required"`
	Format   string       `json:"format"`
	Filters  FilterValues `json:"filters,omitempty"`
	Timezone string       `json:"timezone,omitempty"`
}

// FilterValues are a report's filters by name; a filter may repeat.
type FilterValues map[string][]string

// UnmarshalJSON takes each filter as a string, a number or a list of
// strings: {"status": ["4xx", "5xx"], "period": "7d"}.
func (f *FilterValues) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := FilterValues{}
	for k, v := range raw {
		var one string
		var num json.Number
		var list []string
		switch {
		case json.Unmarshal(v, &one) == nil:
			out[k] = []string{one}
		case json.Unmarshal(v, &num) == nil:
			out[k] = []string{num.String()}
		case json.Unmarshal(v, &list) == nil:
			out[k] = list
		default:
			return fmt.Errorf("filter %q must be a string or a list of strings", k)
		}
	}
	*f = out
	return nil
}

// ExportJob is an asynchronous export and what became of it.
type ExportJob struct {
	ID          string     `json:"id"`
	WorkspaceID int64      `json:"-"`
	Spec        ExportSpec `json:"spec"`
	Status      JobStatus  `json:"status"`
	// RowsWritten rises while the job runs; RowsTotal is the store's
	// estimate of the rows in all, -1 when it cannot tell.
	RowsWritten int64  `json:"rowsWritten"`
	RowsTotal   int64  `json:"rowsTotal"`
	CreatedBy   string `json:"createdBy,omitempty"`
	// Creator is who made the job, as the audit log names it (its Name is
	// CreatedBy).
	Creator    Actor     `json:"-"`
	ScheduleID string    `json:"scheduleId,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	// Heartbeat is when the running job last reported progress: a job
	// whose runner died stops beating and is failed.
	Heartbeat   time.Time `json:"-"`
	FilePath    string    `json:"filePath,omitempty"`
	RecordCount int64     `json:"recordCount,omitempty"`
	Error       string    `json:"error,omitempty"`
	// ExpiresAt is when a scheduled job's file is deleted; zero: the
	// server's file retention applies.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	// Webhook is what became of its schedule's webhook: "delivered …",
	// "failed: …" or "refused: …"; empty before it is called.
	Webhook string `json:"webhook,omitempty"`
}

// Schedule creates an export job at each run of its cadence.
type Schedule struct {
	ID          string     `json:"id"`
	WorkspaceID int64      `json:"-"`
	Name        string     `json:"name"`
	Spec        ExportSpec `json:"spec"`
	// Range is the period before each run that the job covers, in the
	// cadence's timezone: previous_day, previous_week (Monday to Sunday),
	// previous_month, or none (the report's own range).
	Range   string  `json:"range"`
	Cadence Cadence `json:"cadence"`
	// RetentionDays keeps each run's file that long; 0: the server's
	// file retention.
	RetentionDays int `json:"retentionDays,omitempty"`
	// WebhookURL, when set, receives each job's JSON when it finishes,
	// signed with WebhookSecret.
	WebhookURL    string    `json:"webhookUrl,omitempty"`
	WebhookSecret string    `json:"-"`
	CreatedBy     string    `json:"createdBy,omitempty"`
	CreatedAt     time.Time `json:"createdAt"`
	NextRun       time.Time `json:"nextRun"`
	LastRun       time.Time `json:"lastRun,omitzero"`
	LastJobID     string    `json:"lastJobId,omitempty"`
}

// Cadence is when a schedule runs: every day, week (on Weekday) or month
// (on Day, 1–28) at At (HH:MM) in Timezone.
type Cadence struct {
	Every    string `json:"every" jsonschema:"enum=daily,enum=weekly,enum=monthly"`
	At       string `json:"at" jsonschema:"pattern=^[0-2][0-9]:[0-5][0-9]$"`
	Weekday  string `json:"weekday,omitempty" jsonschema:"enum=monday,enum=tuesday,enum=wednesday,enum=thursday,enum=friday,enum=saturday,enum=sunday"`
	Day      int    `json:"day,omitempty"`
	Timezone string `json:"timezone"`
}

// JobStore keeps export jobs and schedules; replicas share them.
type JobStore interface {
	CreateJob(ctx context.Context, j *ExportJob) error
	Job(ctx context.Context, workspaceID int64, id string) (ExportJob, error)
	// Jobs lists the workspace's jobs, newest first.
	Jobs(ctx context.Context, workspaceID int64, limit int) ([]ExportJob, error)
	// ClaimJob marks the oldest queued job of a workspace running fewer
	// than perWorkspace jobs as running, and returns it; ENotFound when
	// there is none.
	ClaimJob(ctx context.Context, now time.Time, perWorkspace int) (ExportJob, error)
	// JobProgress records rows written and beats the heart of a running
	// job; ok is false when the job is no longer running (cancelled).
	JobProgress(ctx context.Context, id string, rows, total int64, now time.Time) (ok bool, err error)
	// FinishJob records a running job's final status, file and error;
	// ok is false when it was no longer running.
	FinishJob(ctx context.Context, j ExportJob) (ok bool, err error)
	// CancelJob cancels a queued or running job and returns it as it
	// now is; a final job is returned unchanged.
	CancelJob(ctx context.Context, workspaceID int64, id string, now time.Time) (ExportJob, error)
	// FailStaleJobs fails the running jobs whose heartbeat is older than
	// before, with reason, and returns them.
	FailStaleJobs(ctx context.Context, before, now time.Time, reason string) ([]ExportJob, error)
	// ExpiredJobFiles returns jobs whose file expired before now, and
	// ForgetJobFile clears one's file path once the file is deleted.
	ExpiredJobFiles(ctx context.Context, now time.Time) ([]ExportJob, error)
	ForgetJobFile(ctx context.Context, id string) error
	// RecordWebhook records what became of a job's webhook.
	RecordWebhook(ctx context.Context, id, outcome string) error

	CreateSchedule(ctx context.Context, s *Schedule) error
	Schedule(ctx context.Context, workspaceID int64, id string) (Schedule, error)
	Schedules(ctx context.Context, workspaceID int64) ([]Schedule, error)
	DeleteSchedule(ctx context.Context, workspaceID int64, id string) error
	// DueSchedules returns the schedules of every workspace whose next
	// run is at or before now.
	DueSchedules(ctx context.Context, now time.Time) ([]Schedule, error)
	// AdvanceSchedule moves a schedule's next run from prev to next and
	// records the run's job; ok is false when another replica moved it
	// first (it ran the schedule).
	AdvanceSchedule(ctx context.Context, id string, prev, next, ran time.Time, jobID string) (ok bool, err error)
}
