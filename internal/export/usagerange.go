package export

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// UsageRequest is the seed 001 request body:
// {"from":{"date","timezone"},"to":{"date","timezone"}}.
type UsageRequest struct {
	From *RangeBound `json:"from"`
	To   *RangeBound `json:"to"`
}

// RangeBound is one end of the range.
type RangeBound struct {
	Date     *string `json:"date"`
	Timezone *string `json:"timezone"`
}

// UsageRange is a validated range: From inclusive, To exclusive, days and
// written times in Loc (the from timezone).
type UsageRange struct {
	From, To time.Time
	Loc      *time.Location
}

// DefaultMaxRangeDays bounds a usage export's range unless configured.
const DefaultMaxRangeDays = 366

// Resolve validates the request field by field. A date's clock reading is
// taken in its timezone (the seed pairs "…T00:00:00.000Z" with a
// "timezone" field, so a trailing Z is not an instant of its own); a
// numeric offset (+01:00, +0100) names an instant; a bare to date means
// the end of that day; a to with a time includes that millisecond. Errors name the field; a range longer than
// maxDays is usage.EUnprocessable.
func (r UsageRequest) Resolve(maxDays int) (UsageRange, error) {
	return r.resolve(maxDays, [2]boundNames{
		{`field "from"`, `field "from.date"`, `field "from.timezone"`},
		{`field "to"`, `field "to.date"`, `field "to.timezone"`},
	})
}

// boundNames name a range bound's fields in errors: the bound, its date
// and its timezone.
type boundNames struct{ bound, date, timezone string }

func (r UsageRequest) resolve(maxDays int, names [2]boundNames) (UsageRange, error) {
	from, loc, err := r.From.resolve(names[0], false)
	if err != nil {
		return UsageRange{}, err
	}
	to, _, err := r.To.resolve(names[1], true)
	if err != nil {
		return UsageRange{}, err
	}
	if !from.Before(to) {
		return UsageRange{}, usage.Errorf(usage.EInvalid, "%s: %s is after %s %s", names[0].date, from.Format(time.RFC3339), names[1].date, to.Add(-time.Millisecond).Format(time.RFC3339))
	}
	if maxDays > 0 && to.Sub(from) > time.Duration(maxDays)*24*time.Hour {
		days := to.Sub(from).Hours() / 24
		return UsageRange{}, usage.Errorf(usage.EUnprocessable, "the range spans %.1f days, over the limit of %d days: export it in shorter ranges", days, maxDays)
	}
	return UsageRange{From: from, To: to, Loc: loc}, nil
}

// RangeFields names a range's fields as a caller takes them (job
// filters, CLI flags), for the errors that name them.
type RangeFields struct{ From, To, Timezone string }

// ResolveDates resolves the range from..to, dates or times in the zone tz,
// as Resolve does the API's body; its errors name the fields as names
// gives them.
func ResolveDates(from, to, tz string, maxDays int, names RangeFields) (UsageRange, error) {
	return UsageRequest{From: &RangeBound{Date: &from, Timezone: &tz}, To: &RangeBound{Date: &to, Timezone: &tz}}.resolve(maxDays, [2]boundNames{
		{names.From, names.From, names.Timezone},
		{names.To, names.To, names.Timezone},
	})
}

func (b *RangeBound) resolve(names boundNames, upper bool) (time.Time, *time.Location, error) {
	if b == nil {
		return time.Time{}, nil, usage.Errorf(usage.EInvalid, "%s is required: {\"date\":\"2024-01-01T00:00:00.000Z\",\"timezone\":\"UTC\"}", names.bound)
	}
	if b.Timezone == nil || *b.Timezone == "" {
		return time.Time{}, nil, usage.Errorf(usage.EInvalid, "%s is required (an IANA name such as \"UTC\" or \"Europe/Berlin\")", names.timezone)
	}
	loc, err := usage.LoadLocation(*b.Timezone)
	if err != nil {
		return time.Time{}, nil, usage.Errorf(usage.EInvalid, "%s: %s", names.timezone, usage.ErrorMessage(err))
	}
	if b.Date == nil || *b.Date == "" {
		return time.Time{}, nil, usage.Errorf(usage.EInvalid, "%s is required (ISO 8601, such as \"2024-01-01T00:00:00.000Z\")", names.date)
	}
	s := *b.Date
	d, err := parseISODate(s)
	if err != nil {
		return time.Time{}, nil, usage.Errorf(usage.EInvalid, "%s: %q is not an ISO 8601 date or time (taken: 2024-01-31, "+
			"2024-01-31T23:59:59.999Z, 2024-01-31T23:59:59+01:00 or +0100, and the basic forms 20240131 and 20240131T235959Z)", names.date, s)
	}
	if d.dateOnly {
		t := time.Date(d.wall.Year(), d.wall.Month(), d.wall.Day(), 0, 0, 0, 0, loc)
		if upper {
			t = time.Date(d.wall.Year(), d.wall.Month(), d.wall.Day()+1, 0, 0, 0, 0, loc)
		}
		return t, loc, nil
	}
	var t time.Time
	if d.offset {
		t = d.wall.Truncate(time.Millisecond)
	} else {
		w := d.wall
		t = time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc).Truncate(time.Millisecond)
	}
	if upper {
		t = t.Add(time.Millisecond)
	}
	return t, loc, nil
}

// isoDate is a parsed ISO 8601 date or date-time.
type isoDate struct {
	wall     time.Time // the reading; an instant when offset is set
	dateOnly bool
	offset   bool // a numeric offset made wall an instant
}

// isoDateTime matches ISO 8601 calendar dates and times, extended
// (2024-01-31T23:59:59.999+01:00) or basic (20240131T235959Z): date,
// hour, minute, second, fraction and zone. Extended and basic are not
// mixed within the date or the time.
var isoDateTime = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2}|\d{8})(?:T(\d{2}(?::\d{2}(?::\d{2})?|\d{2}(?:\d{2})?)?)(?:[.,](\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)?)?$`)

// parseISODate reads s. A trailing Z keeps the seed's meaning, a clock
// reading in the request's timezone (its example pairs
// "2024-01-01T00:00:00.000Z" with a "timezone" field); a numeric offset
// names an instant, which is taken as it says.
func parseISODate(s string) (isoDate, error) {
	m := isoDateTime.FindStringSubmatch(s)
	if m == nil {
		return isoDate{}, fmt.Errorf("not ISO 8601")
	}
	date := strings.ReplaceAll(m[1], "-", "")
	clock := strings.ReplaceAll(m[2], ":", "")
	if m[2] == "" && (m[3] != "" || m[4] != "") {
		return isoDate{}, fmt.Errorf("a fraction or zone without a time")
	}
	if m[3] != "" && len(clock) != 6 {
		return isoDate{}, fmt.Errorf("a fraction of a minute")
	}
	for len(clock) < 6 {
		clock += "00"
	}
	frac := m[3]
	for len(frac) < 9 {
		frac += "0"
	}
	wall, err := time.Parse("20060102150405.000000000", date+clock+"."+frac)
	if err != nil {
		return isoDate{}, err
	}
	d := isoDate{wall: wall, dateOnly: m[2] == ""}
	if z := strings.ReplaceAll(m[4], ":", ""); z != "" && z != "Z" {
		for len(z) < 5 {
			z += "00"
		}
		h, _ := strconv.Atoi(z[1:3])
		mi, _ := strconv.Atoi(z[3:5])
		if h > 23 || mi > 59 {
			return isoDate{}, fmt.Errorf("offset %s out of range", m[4])
		}
		secs := h*3600 + mi*60
		if z[0] == '-' {
			secs = -secs
		}
		d.wall = time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), wall.Nanosecond(), time.FixedZone(m[4], secs))
		d.offset = true
	}
	return d, nil
}

// DateRange is the answer's data.dateRange: the range exported, inclusive,
// in its timezone.
type DateRange struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Timezone string `json:"timezone"`
}

// Answer returns the range as the answer states it.
func (r UsageRange) Answer() DateRange {
	const layout = "2006-01-02T15:04:05.000Z07:00"
	return DateRange{From: r.From.In(r.Loc).Format(layout), To: r.To.Add(-time.Millisecond).In(r.Loc).Format(layout), Timezone: r.Loc.String()}
}

// FilePath is where the export is stored, as the seed names it:
// {type}-usage/{workspace id}/{type}-usage-{from}-{to}-{8 hex}.{ext}.
func (r UsageRange) FilePath(dataType string, workspaceID int64, suffix string, f Format) string {
	from, to := r.days()
	return fmt.Sprintf("%s-usage/%d/%s-usage-%s-%s-%s.%s", dataType, workspaceID, dataType, from, to, suffix, f)
}

// FileName is the name a download of the export dataType of the range is
// given: its file's, without the path and the suffix.
func (r UsageRange) FileName(dataType string, f Format) string {
	from, to := r.days()
	return fmt.Sprintf("%s-usage-%s-%s.%s", dataType, from, to, f)
}

// days are the range's first and last day in its zone.
func (r UsageRange) days() (from, to string) {
	return r.From.In(r.Loc).Format(time.DateOnly), r.To.Add(-time.Millisecond).In(r.Loc).Format(time.DateOnly)
}
