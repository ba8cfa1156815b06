package export

import (
	"strings"
	"time"
)

// timeLayout is a time layout read once, for the writers' hot path:
// time.Time.AppendFormat reads its layout anew for every cell, which was
// most of the tenth of a million-row CSV export spent on its times
// (BenchmarkTimeLayout). It knows the elements the reports use; a layout
// with any other, or a year outside 0–9999, goes to AppendFormat, and so
// does any layout whose output differs from AppendFormat's on a set of
// instants (compileLayout). FuzzTimeLayout compares the two.
type timeLayout struct {
	layout string
	elems  []timeElem // nil: AppendFormat
	// The date of the last day written: an export's times come in order.
	days             int64
	year, month, day int
}

type timeElem struct {
	kind elemKind
	lit  string
}

type elemKind int

const (
	elemLit elemKind = iota
	elemYear
	elemMonth
	elemDay
	elemHour
	elemMinute
	elemSecond
	elemMillis // .000
	elemZone   // Z07:00
)

// layoutElems are the elements known, longest first where one begins
// another.
var layoutElems = []struct {
	text string
	kind elemKind
}{
	{"Z07:00", elemZone}, {".000", elemMillis}, {"2006", elemYear},
	{"01", elemMonth}, {"02", elemDay}, {"15", elemHour}, {"04", elemMinute}, {"05", elemSecond},
}

// compileLayout reads layout into elements, or leaves it to AppendFormat.
func compileLayout(layout string) timeLayout {
	l := timeLayout{layout: layout}
	var elems []timeElem
	rest := layout
scan:
	for rest != "" {
		for _, e := range layoutElems {
			if strings.HasPrefix(rest, e.text) {
				elems = append(elems, timeElem{kind: e.kind})
				rest = rest[len(e.text):]
				continue scan
			}
		}
		// Literal text: only bytes that begin no element of Go's layouts
		// (a '-' does, of -07:00, unless a digit but 0 follows).
		switch c := rest[0]; {
		case c == '/' || c == ':' || c == ' ' || c == 'T' || c == ',':
		case c == '-' && !strings.HasPrefix(rest, "-07"):
		default:
			return l
		}
		if n := len(elems); n > 0 && elems[n-1].kind == elemLit {
			elems[n-1].lit += rest[:1]
		} else {
			elems = append(elems, timeElem{kind: elemLit, lit: rest[:1]})
		}
		rest = rest[1:]
	}
	l.elems = elems
	// A check that the reading is right, on instants that differ in every
	// element and zone sign.
	for _, t := range []time.Time{
		time.Date(2026, 12, 31, 23, 59, 58, 999_999_999, time.UTC),
		time.Date(1999, 1, 2, 3, 4, 5, 6_000_000, time.FixedZone("", -(9*3600+30*60))),
		time.Date(2001, 10, 11, 12, 13, 14, 150_000_000, time.FixedZone("", 5*3600+45*60)),
	} {
		if string(l.append(nil, t)) != t.Format(layout) {
			l.elems = nil
			break
		}
	}
	return l
}

// append appends t as the layout writes it.
func (l *timeLayout) append(b []byte, t time.Time) []byte {
	_, offset := t.Zone()
	// The wall clock from Unix seconds, the zone looked up once (Date and
	// Clock would each look it up again).
	secs := t.Unix() + int64(offset)
	days := secs / 86400
	if secs%86400 < 0 {
		days--
	}
	sod := int(secs - days*86400)
	hour, minute, sec := sod/3600, sod/60%60, sod%60
	if days != l.days || l.month == 0 {
		l.days = days
		l.year, l.month, l.day = civil(days)
	}
	year, month, day := l.year, l.month, l.day
	if l.elems == nil || year < 0 || year > 9999 {
		return t.AppendFormat(b, l.layout)
	}
	for _, e := range l.elems {
		switch e.kind {
		case elemLit:
			b = append(b, e.lit...)
		case elemYear:
			b = append(b, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10))
		case elemMonth:
			b = append2(b, month)
		case elemDay:
			b = append2(b, day)
		case elemHour:
			b = append2(b, hour)
		case elemMinute:
			b = append2(b, minute)
		case elemSecond:
			b = append2(b, sec)
		case elemMillis:
			ms := t.Nanosecond() / 1_000_000
			b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
		case elemZone:
			// As AppendFormat: Z for UTC, else the offset in whole minutes.
			if offset == 0 {
				b = append(b, 'Z')
				break
			}
			zone := offset / 60
			if zone < 0 {
				b = append(b, '-')
				zone = -zone
			} else {
				b = append(b, '+')
			}
			b = append2(b, zone/60)
			b = append(b, ':')
			b = append2(b, zone%60)
		}
	}
	return b
}

// civil is the proleptic Gregorian date of days since 1970-01-01 (Howard
// Hinnant's days_from_civil, inverted).
func civil(days int64) (year, month, day int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day = int(doy - (153*mp+2)/5 + 1)
	month = int(mp + 3)
	if month > 12 {
		month -= 12
	}
	year = int(yoe + era*400)
	if month <= 2 {
		year++
	}
	return year, month, day
}

func append2(b []byte, n int) []byte {
	return append(b, byte('0'+n/10), byte('0'+n%10))
}
