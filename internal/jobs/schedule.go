package jobs

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
	"github.com/usagelog/usagelog/internal/webhook"
)

// Ranges are the periods a schedule's job can cover, before each run.
var Ranges = []string{"none", "previous_day", "previous_week", "previous_month"}

var weekdays = map[string]time.Weekday{"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday,
	"wednesday": time.Wednesday, "thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday}

// ValidateCadence checks c and fills its defaults (weekly on Monday,
// monthly on the 1st, at 00:00, in UTC).
func ValidateCadence(c *usage.Cadence) error {
	c.At = strings.TrimSpace(c.At)
	if c.At == "" {
		c.At = "00:00"
	}
	if _, _, err := clock(c.At); err != nil {
		return err
	}
	if c.Timezone == "" {
		c.Timezone = "UTC"
	}
	if _, err := usage.LoadLocation(c.Timezone); err != nil {
		return usage.Errorf(usage.EInvalid, "cadence.timezone: %s", usage.ErrorMessage(err))
	}
	switch c.Every {
	case "daily":
		if c.Weekday != "" || c.Day != 0 {
			return usage.Errorf(usage.EInvalid, "cadence: a daily cadence takes no weekday or day")
		}
	case "weekly":
		c.Weekday = strings.ToLower(c.Weekday)
		if c.Weekday == "" {
			c.Weekday = "monday"
		}
		if _, ok := weekdays[c.Weekday]; !ok {
			return usage.Errorf(usage.EInvalid, "cadence.weekday: unknown weekday %q (want monday … sunday)", c.Weekday)
		}
	case "monthly":
		if c.Day == 0 {
			c.Day = 1
		}
		if c.Day < 1 || c.Day > 28 {
			return usage.Errorf(usage.EInvalid, "cadence.day: %d is not a day every month has (want 1–28)", c.Day)
		}
	default:
		return usage.Errorf(usage.EInvalid, "cadence.every: unknown cadence %q (want daily, weekly or monthly)", c.Every)
	}
	return nil
}

func clock(at string) (h, m int, err error) {
	hs, ms, ok := strings.Cut(at, ":")
	h, err1 := strconv.Atoi(hs)
	m, err2 := strconv.Atoi(ms)
	if !ok || err1 != nil || err2 != nil || len(hs) != 2 || len(ms) != 2 || h > 23 || m > 59 || h < 0 || m < 0 {
		return 0, 0, usage.Errorf(usage.EInvalid, "cadence.at: %q is not a time of day like 06:30", at)
	}
	return h, m, nil
}

// Next is the cadence's first run after t. A time that a DST change skips
// runs at the same wall clock shifted as time.Date does (an hour later).
func Next(c usage.Cadence, t time.Time) time.Time {
	loc, err := usage.LoadLocation(c.Timezone)
	if err != nil {
		loc = time.UTC
	}
	h, m, _ := clock(c.At)
	local := t.In(loc)
	y, mo, d := local.Date()
	switch c.Every {
	case "monthly":
		for i := 0; ; i++ {
			run := time.Date(y, mo+time.Month(i), c.Day, h, m, 0, 0, loc)
			if run.After(t) {
				return run
			}
		}
	default:
		for i := 0; ; i++ {
			run := time.Date(y, mo, d+i, h, m, 0, 0, loc)
			if c.Every == "weekly" && run.Weekday() != weekdays[c.Weekday] {
				continue
			}
			if run.After(t) {
				return run
			}
		}
	}
}

// RangeFilters are the from and to filters (bare dates, whole days) of the
// named range before a run at t, in loc.
func RangeFilters(name string, t time.Time, loc *time.Location) (from, to string) {
	local := t.In(loc)
	y, m, d := local.Date()
	day := func(y int, m time.Month, d int) string {
		return time.Date(y, m, d, 0, 0, 0, 0, loc).Format(time.DateOnly)
	}
	switch name {
	case "previous_day":
		return day(y, m, d-1), day(y, m, d-1)
	case "previous_week":
		// Monday to Sunday of the week before the run's week.
		back := (int(local.Weekday()) + 6) % 7 // days since Monday
		return day(y, m, d-back-7), day(y, m, d-back-1)
	case "previous_month":
		return day(y, m-1, 1), day(y, m, 0)
	}
	return "", ""
}

// ValidateSchedule checks a schedule's range, cadence, retention and
// webhook before it is stored.
func ValidateSchedule(sc *usage.Schedule) error {
	sc.Name = strings.TrimSpace(sc.Name)
	if sc.Name == "" || len(sc.Name) > 200 {
		return usage.Errorf(usage.EInvalid, "name: give the schedule a name of 1 to 200 characters")
	}
	if sc.Range == "" {
		sc.Range = "none"
	}
	valid := false
	for _, r := range Ranges {
		valid = valid || r == sc.Range
	}
	if !valid {
		return usage.Errorf(usage.EInvalid, "range: unknown range %q (want %s)", sc.Range, strings.Join(Ranges, ", "))
	}
	if sc.Range != "none" {
		if _, ok := sc.Spec.Filters["from"]; ok {
			return usage.Errorf(usage.EInvalid, "filters: from and to come from the range %q", sc.Range)
		}
		if _, ok := sc.Spec.Filters["to"]; ok {
			return usage.Errorf(usage.EInvalid, "filters: from and to come from the range %q", sc.Range)
		}
		if _, ok := sc.Spec.Filters["period"]; ok {
			return usage.Errorf(usage.EInvalid, "filters: period contradicts the range %q", sc.Range)
		}
	}
	if err := ValidateCadence(&sc.Cadence); err != nil {
		return err
	}
	if sc.Spec.Timezone == "" {
		sc.Spec.Timezone = sc.Cadence.Timezone
	}
	if sc.RetentionDays < 0 || sc.RetentionDays > 3660 {
		return usage.Errorf(usage.EInvalid, "retentionDays: %d is out of range (0–3660; 0 keeps files 30 days)", sc.RetentionDays)
	}
	if sc.WebhookURL != "" {
		u, err := url.Parse(sc.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usage.Errorf(usage.EInvalid, "webhookUrl: %q is not an http or https URL", sc.WebhookURL)
		}
	}
	return nil
}

// DefaultRetention keeps a scheduled job's file when its schedule sets no
// retention.
const DefaultRetention = 30 * 24 * time.Hour

// jobSpec is the spec of the schedule's run at t: its range's dates added.
func jobSpec(sc usage.Schedule, t time.Time) usage.ExportSpec {
	spec := sc.Spec
	if sc.Range == "none" {
		return spec
	}
	loc, err := usage.LoadLocation(sc.Cadence.Timezone)
	if err != nil {
		loc = time.UTC
	}
	from, to := RangeFilters(sc.Range, t, loc)
	filters := usage.FilterValues{}
	for k, v := range spec.Filters {
		filters[k] = v
	}
	filters["from"], filters["to"] = []string{from}, []string{to}
	spec.Filters = filters
	return spec
}

// PlanSchedule validates a new schedule against the exporter (its spec
// must make a valid job) and sets its first run after now.
func (r *Runner) PlanSchedule(ctx context.Context, ws usage.Workspace, sc *usage.Schedule, now time.Time) error {
	if err := ValidateSchedule(sc); err != nil {
		return err
	}
	if sc.WebhookURL != "" {
		if err := r.cfg.Webhooks.Check(ctx, sc.WebhookURL); err != nil {
			return err
		}
	}
	sc.NextRun = Next(sc.Cadence, now).UTC()
	if _, err := r.cfg.Exporter.Plan(ctx, ws, jobSpec(*sc, sc.NextRun), now); err != nil {
		return err
	}
	return nil
}

// RunDue queues a job for every schedule due now. A schedule that missed
// runs while the server was down runs once. Replicas race for each run
// and one wins.
func (r *Runner) RunDue(ctx context.Context) error {
	now := r.cfg.Now().UTC()
	due, err := r.cfg.Meta.DueSchedules(ctx, now)
	if err != nil {
		return err
	}
	for _, sc := range due {
		next := Next(sc.Cadence, now).UTC()
		jobID := usage.RandomID("job_", 10)
		ok, err := r.cfg.Meta.AdvanceSchedule(ctx, sc.ID, sc.NextRun, next, now, jobID)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		ws, err := r.cfg.Meta.WorkspaceByID(ctx, sc.WorkspaceID)
		if err != nil {
			return err
		}
		retention := time.Duration(sc.RetentionDays) * 24 * time.Hour
		if retention == 0 {
			retention = DefaultRetention
		}
		// The run covers the range before the time it was due, however
		// late it runs.
		j, err := r.submitAs(ctx, jobID, ws, jobSpec(sc, sc.NextRun), usage.Actor{Type: usage.ActorSystem, ID: sc.ID, Name: "schedule " + sc.Name}, sc.ID, retention)
		if err != nil {
			r.cfg.Log.Error("scheduled export", "schedule", sc.ID, "err", err)
			continue
		}
		r.cfg.Log.Info("scheduled export queued", "schedule", sc.ID, "job", j.ID, "due", sc.NextRun)
	}
	return nil
}

// Schedule runs RunDue every tick until ctx ends, and once at once (the
// runs missed while the server was down).
func (r *Runner) Schedule(ctx context.Context, tick time.Duration) {
	r.wg.Go(func() {
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			if err := r.RunDue(ctx); err != nil && ctx.Err() == nil {
				r.cfg.Log.Error("run due schedules", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}

// Webhook delivers finished scheduled jobs to their schedule's webhook.
type Webhook struct {
	Meta WebhookMeta
	// Policy says where webhooks may go: its client sends them, checking
	// the address of each connection.
	Policy webhook.Policy
	// Retry is the wait before the second try, twice that before the
	// third; default 5 s.
	Retry time.Duration
	Log   *slog.Logger
	// Links make the download link in the job's view (ViewOf).
	Links Linker
	Now   func() time.Time

	clientOnce sync.Once
	client     *http.Client // one, so that deliveries share its connections
}

// Deliver posts j to its schedule's webhook, if it has one, trying three
// times. It runs in its own goroutine: a slow receiver holds up nothing.
func (h *Webhook) Deliver(j usage.ExportJob) {
	if j.ScheduleID == "" {
		return
	}
	log := h.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		sc, err := h.Meta.Schedule(ctx, j.WorkspaceID, j.ScheduleID)
		if err != nil || sc.WebhookURL == "" {
			return
		}
		body, err := json.Marshal(ViewOf(j, h.Links, h.Now()))
		if err != nil {
			log.Error("webhook body", "job", j.ID, "err", err)
			return
		}
		h.clientOnce.Do(func() { h.client = h.Policy.Client(30 * time.Second) })
		record := func(outcome string) {
			if err := h.Meta.RecordWebhook(ctx, j.ID, outcome); err != nil {
				log.Error("webhook outcome", "job", j.ID, "err", err)
			}
		}
		for attempt := range 3 {
			if attempt > 0 {
				time.Sleep(time.Duration(attempt) * cmp.Or(h.Retry, 5*time.Second))
			}
			var req *http.Request
			req, err = http.NewRequestWithContext(ctx, http.MethodPost, sc.WebhookURL, bytes.NewReader(body))
			if err != nil {
				log.Error("webhook", "schedule", sc.ID, "err", err)
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("User-Agent", "usagelog-webhook")
			req.Header.Set(webhook.SignatureHeader, webhook.Sign(sc.WebhookSecret, h.Now(), body))
			var resp *http.Response
			resp, err = h.client.Do(req)
			if webhook.IsRefused(err) { // the name resolved elsewhere by the time it connected
				log.Warn("webhook refused", "schedule", sc.ID, "job", j.ID, "err", err)
				record("refused: " + webhook.Refusal(err))
				return
			}
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode < 300 {
					log.Info("webhook delivered", "schedule", sc.ID, "job", j.ID, "status", resp.StatusCode)
					record("delivered: the receiver answered " + resp.Status)
					return
				}
				err = fmt.Errorf("the receiver answered %s", resp.Status)
			}
			log.Warn("webhook delivery failed", "schedule", sc.ID, "job", j.ID, "attempt", attempt+1, "err", err)
		}
		record(fmt.Sprintf("failed after 3 attempts: %v", err))
	}()
}
