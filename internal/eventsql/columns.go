// Package eventsql is the events table as SQL stores lay it out: one wide
// table of every kind's columns, the column list of each kind with the
// Event field it holds, the log query with its filters and keyset
// pagination, and the streamed scan. SQLite and ClickHouse share it.
package eventsql

import (
	"time"

	"github.com/usagelog/usagelog/internal/sqltime"
	"github.com/usagelog/usagelog/internal/usage"
)

// kindCodes keep the events index narrow: a small integer instead of a name.
var kindCodes = map[usage.Kind]int64{
	usage.KindAPIRequest: 1,
	usage.KindActivity:   2,
	usage.KindSync:       3,
	usage.KindUserSeen:   4,
}

// KindCode is a kind as stored.
func KindCode(k usage.Kind) int64 { return kindCodes[k] }

// KindOf is the kind stored as code; "" for none.
func KindOf(code int64) usage.Kind {
	for k, c := range kindCodes {
		if c == code {
			return k
		}
	}
	return ""
}

// Column ties an events Column to the Event field it holds. ptr gives the
// scan destination; get the insert value (scan and insert use one pointer,
// so they cannot disagree).
type Column struct {
	Name string
	Kind usage.Kind // "" for the columns every kind has
	Ptr  func(e *usage.Event) any
}

// msTime scans and writes a time as Unix milliseconds.
type msTime = sqltime.Millis

func msOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// boolInt scans an INTEGER 0/1 into a bool.
type boolInt struct{ b *bool }

func (b boolInt) Scan(src any) error {
	n, _ := src.(int64)
	b.SetInt64(n)
	return nil
}

func (b boolInt) SetInt64(n int64) { *b.b = n != 0 }

type classCol struct{ c *usage.ClientClass }

func (c classCol) Scan(src any) error {
	s, _ := src.(string)
	c.SetString(s)
	return nil
}

func (c classCol) SetString(s string) { *c.c = usage.ClientClass(s) }

type usageCol struct{ u *usage.Type }

func (u usageCol) Scan(src any) error {
	s, _ := src.(string)
	u.SetString(s)
	return nil
}

func (u usageCol) SetString(s string) { *u.u = usage.Type(s) }

// StringDest and IntDest are scan destinations that a driver's own rows
// fill without boxing the value in an any, as sql.Scanner takes it: a
// million-row scan would otherwise allocate for every time and class.
type (
	StringDest interface{ SetString(string) }
	IntDest    interface{ SetInt64(int64) }
)

// storedNames are the column names that differ from the contract's: times
// are stored as Unix milliseconds.
var storedNames = map[string]string{
	"time":                   "time_ms",
	"integration_updated_at": "integration_updated_ms",
}

// columns are the events table's columns of the event fields, made from
// usage.Fields (the kind is stored as a code, not a column of this list).
var columns = func() []Column {
	var out []Column
	for _, f := range usage.Fields {
		if f.Name == "kind" {
			continue
		}
		name, ptr := f.Name, f.Ptr
		if n, ok := storedNames[name]; ok {
			name = n
		}
		col := Column{Name: name, Kind: f.Kind, Ptr: ptr}
		switch ptr(&usage.Event{}).(type) {
		case *time.Time:
			col.Ptr = func(e *usage.Event) any { return msTime{T: ptr(e).(*time.Time)} }
		case *bool:
			col.Ptr = func(e *usage.Event) any { return boolInt{ptr(e).(*bool)} }
		case *usage.ClientClass:
			col.Ptr = func(e *usage.Event) any { return classCol{ptr(e).(*usage.ClientClass)} }
		case *usage.Type:
			col.Ptr = func(e *usage.Event) any { return usageCol{ptr(e).(*usage.Type)} }
		}
		out = append(out, col)
	}
	return out
}()

// InsertValue turns a scan destination into the value to insert.
func InsertValue(p any) any {
	switch v := p.(type) {
	case *string:
		return *v
	case *int:
		return int64(*v)
	case *int64:
		return *v
	case msTime:
		return msOf(*v.T)
	case boolInt:
		if *v.b {
			return int64(1)
		}
		return int64(0)
	case classCol:
		return string(*v.c)
	case usageCol:
		return string(*v.u)
	}
	panic("sqlite: no insert value for Column type")
}

// columnsByKind holds the columns each kind writes, the common ones first.
var columnsByKind = func() map[usage.Kind][]Column {
	m := map[usage.Kind][]Column{}
	for _, k := range usage.Kinds {
		for _, c := range columns {
			if c.Kind == "" || c.Kind == k {
				m[k] = append(m[k], c)
			}
		}
	}
	return m
}()

// KindColumns are the columns a kind writes, the common ones first.
func KindColumns(k usage.Kind) []Column { return columnsByKind[k] }
