package summary

import (
	"reflect"
	"slices"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// RolledFields are the usage.LogFilter fields the rollups keep, besides
// the times and the zone: a filter on any other field is answered from the
// events alone (PlanFilter). A field added to the filter therefore counts
// right at once, from the events; it joins this list when the rollups of
// every store keep it.
var RolledFields = []string{"Statuses", "StatusClasses", "Clients", "Collections", "CollectionType", "Communities", "UsageType"}

// timeFields are the filter's window and zone, which plans split rather
// than answer.
var timeFields = []string{"From", "To", "TZ"}

// Rolled reports whether the rollups can answer f: it filters on nothing
// but RolledFields.
func Rolled(f *usage.LogFilter) bool {
	v := reflect.ValueOf(f).Elem()
	t := v.Type()
	for i := range t.NumField() {
		name := t.Field(i).Name
		if !v.Field(i).IsZero() && !slices.Contains(RolledFields, name) && !slices.Contains(timeFields, name) {
			return false
		}
	}
	return true
}

// Plan is how a count, summary or facets of a filter over a window is
// answered: Rolled's span of whole quarter hours from the rollups (none
// when Rolled is nil), the rest from the events, filter by filter (each
// with its From and To).
type Plan struct {
	Rolled *RolledSpan
	Scans  []usage.LogFilter
}

// RolledSpan is the part of a plan the rollups answer: the calls that
// match Filter (its times unset) between Lo and Hi, quarter-hour aligned
// Unix milliseconds.
type RolledSpan struct {
	Filter usage.LogFilter
	Lo, Hi int64
}

// PlanFilter plans f over [from, to) (Unix milliseconds; f's own times
// are ignored). The rollups leave usagelog's own calls out
// (usage.SelfCollection): when f names that collection, its calls are
// read from the events over the whole window, the other collections it
// names from the rollups. A window of no whole quarter hour, and a filter
// the rollups cannot answer (Rolled), are read from the events whole.
func PlanFilter(f usage.LogFilter, from, to int64) Plan {
	scan := func(f usage.LogFilter, from, to int64) usage.LogFilter {
		f.From, f.To = time.UnixMilli(from).UTC(), time.UnixMilli(to).UTC()
		return f
	}
	var p Plan
	if from >= to {
		return p
	}
	if !Rolled(&f) {
		p.Scans = []usage.LogFilter{scan(f, from, to)}
		return p
	}
	rest, self, selfOnly := f.SplitSelf()
	if self != nil {
		p.Scans = append(p.Scans, scan(*self, from, to))
	}
	if selfOnly {
		return p
	}
	lo, hi := Ceil(from, QuarterMS), Floor(to, QuarterMS)
	if lo >= hi {
		p.Scans = append(p.Scans, scan(rest, from, to))
		return p
	}
	rest.From, rest.To = time.Time{}, time.Time{}
	p.Rolled = &RolledSpan{Filter: rest, Lo: lo, Hi: hi}
	for _, e := range [][2]int64{{from, lo}, {hi, to}} {
		if e[0] < e[1] {
			p.Scans = append(p.Scans, scan(rest, e[0], e[1]))
		}
	}
	return p
}
