package ingest

import (
	"fmt"
	"math/bits"
	"reflect"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/usagelog/usagelog/internal/usage"
)

// input is a field of the contract as the decoder takes it: a
// usage.Field that clients send, with the JSON value it takes.
type input struct {
	usage.Field
	json fieldKind
	time int // the field's slot in wire.times, or -1
}

// inputs are the fields a client may send (usage.Fields without the
// derived ones), and inputIndex finds one by name.
var inputs, inputIndex = func() ([]input, map[string]int) {
	var in []input
	index := map[string]int{}
	times := 0
	for _, f := range usage.Fields {
		if f.Derived {
			continue
		}
		i := input{Field: f, time: -1}
		switch f.Ptr(&usage.Event{}).(type) {
		case *string, *usage.Kind:
			i.json = kindString
		case *time.Time:
			i.json, i.time = kindString, times
			times++
		case *int, *int64:
			i.json = kindInt
		case *bool:
			i.json = kindBool
		default:
			panic(fmt.Sprintf("ingest: no JSON value for field %q", f.Name))
		}
		index[f.Name] = len(in)
		in = append(in, i)
	}
	if len(in) > 64 || times > len(wire{}.times) {
		panic("ingest: more fields than wire has room for")
	}
	return in, index
}()

// wire is an event as it arrives: the values decoded into an Event, which
// fields were given (a null is not given), and the times as sent, parsed
// once every field is in so that the errors come in the contract's order.
type wire struct {
	e     usage.Event
	given uint64 // bit i: inputs[i]
	times [2]string
	// parsed holds a time given as a time (fromEvent), when the text of
	// times would parse to it: the round trip through text cost a checked
	// OTLP span a fifth of its mapping (BenchmarkMap in internal/otlp).
	parsed   [2]time.Time
	isParsed [2]bool
}

// time is the time in slot as given, parsed; ok is false when none was
// given.
func (w *wire) time(slot int) (t time.Time, ok bool, err error) {
	if w.isParsed[slot] {
		return w.parsed[slot], true, nil
	}
	if w.times[slot] == "" {
		return time.Time{}, false, nil
	}
	t, err = parseTime(w.times[slot])
	return t, true, err
}

// messagesGiven is the bit of messages, which defaults to 1 when not given.
var messagesGiven uint64 = 1 << inputIndex["messages"]

// kindInputs are, for each kind, its inputs (those of every kind first)
// as indexes, and as a bit set of the same.
var kindInputs = func() map[usage.Kind]struct {
	index []int
	mask  uint64
} {
	m := map[usage.Kind]struct {
		index []int
		mask  uint64
	}{}
	for _, k := range usage.Kinds {
		ki := m[k]
		for i, in := range inputs {
			if in.Kind == "" || in.Kind == k {
				ki.index = append(ki.index, i)
				ki.mask |= 1 << i
			}
		}
		m[k] = ki
	}
	return m
}()

func (w *wire) setString(i int, s string) {
	w.given |= 1 << i
	switch p := inputs[i].Ptr(&w.e).(type) {
	case *string:
		*p = s
	case *usage.Kind:
		*p = usage.Kind(s)
	case *time.Time:
		w.times[inputs[i].time] = s
	}
}

func (w *wire) setInt(i int, n int64) {
	w.given |= 1 << i
	switch p := inputs[i].Ptr(&w.e).(type) {
	case *int:
		*p = int(n)
	case *int64:
		*p = n
	}
}

func (w *wire) setBool(i int, b bool) {
	w.given |= 1 << i
	*inputs[i].Ptr(&w.e).(*bool) = b
}

// clearOthers zeroes the fields given that belong to another kind than
// the event's, of which mask holds the inputs: they are accepted and not
// kept.
func (w *wire) clearOthers(mask uint64) {
	for others := w.given &^ mask; others != 0; others &= others - 1 {
		switch p := inputs[bits.TrailingZeros64(others)].Ptr(&w.e).(type) {
		case *string:
			*p = ""
		case *int:
			*p = 0
		case *int64:
			*p = 0
		case *bool:
			*p = false
		case *time.Time:
			*p = time.Time{}
		}
	}
}

// slowType is a struct of one pointer field per input, tagged with its
// name: jsonv2 decodes into it, so that the slow path refuses and words
// what it refuses exactly as jsonv2 does for a plain struct.
var slowType = func() reflect.Type {
	fields := make([]reflect.StructField, len(inputs))
	for i, in := range inputs {
		var t reflect.Type
		switch in.json {
		case kindString:
			t = reflect.TypeFor[*string]()
		case kindInt:
			t = reflect.TypeFor[*int64]()
			if _, ok := in.Ptr(&usage.Event{}).(*int); ok {
				t = reflect.TypeFor[*int]()
			}
		case kindBool:
			t = reflect.TypeFor[*bool]()
		}
		fields[i] = reflect.StructField{Name: fmt.Sprintf("F%d", i), Type: t, Tag: reflect.StructTag(`json:"` + in.Name + `"`)}
	}
	return reflect.StructOf(fields)
}()

// slowWire decodes data into a zero w with jsonv2: any JSON, and an error
// for whatever the contract refuses.
func slowWire(data []byte, w *wire) error {
	v := reflect.New(slowType)
	if err := jsonv2.Unmarshal(data, v.Interface(), jsonv2.RejectUnknownMembers(true)); err != nil {
		return err
	}
	s := v.Elem()
	for i := range inputs {
		f := s.Field(i)
		if f.IsNil() {
			continue
		}
		switch f = f.Elem(); f.Kind() {
		case reflect.String:
			w.setString(i, f.String())
		case reflect.Int, reflect.Int64:
			w.setInt(i, f.Int())
		case reflect.Bool:
			w.setBool(i, f.Bool())
		}
	}
	return nil
}

// fromEvent sets w as a client would have sent e: every field that is not
// zero (and messages for activity, where zero is a value), strings made
// valid UTF-8 as an encoder makes them.
func (w *wire) fromEvent(e *usage.Event) {
	for i, in := range inputs {
		switch p := in.Ptr(e).(type) {
		case *string:
			if *p != "" {
				w.setString(i, validUTF8(*p))
			}
		case *usage.Kind:
			if *p != "" {
				w.setString(i, validUTF8(string(*p)))
			}
		case *time.Time:
			if in.Name == "time" || !p.IsZero() {
				// What parseTime makes of the text below, without the text;
				// a time it refuses goes as text, for parseTime's error.
				if u := p.UTC(); u.Year() >= 1970 && u.Year() <= 9999 {
					w.given |= 1 << i
					w.parsed[in.time], w.isParsed[in.time] = usage.TruncateMS(u), true
				} else {
					w.setString(i, u.Format(rfc3339ms))
				}
			}
		case *int:
			if *p != 0 {
				w.setInt(i, int64(*p))
			}
		case *int64:
			if *p != 0 || (in.Name == "messages" && e.Kind == usage.KindActivity) {
				w.setInt(i, *p)
			}
		case *bool:
			if *p {
				w.setBool(i, true)
			}
		}
	}
}

// tooLong names the first string field of e, among index, longer than
// MaxFieldLength.
func tooLong(e *usage.Event, index []int) string {
	for _, i := range index {
		if p, ok := inputs[i].Ptr(e).(*string); ok && len(*p) > MaxFieldLength {
			return inputs[i].Name
		}
	}
	return ""
}

// required is the error for a required field that was not given.
func required(name string, k usage.Kind) error {
	if k == "" || name == "kind" || name == "id" || name == "time" {
		return fmt.Errorf("field %q: required", name)
	}
	return fmt.Errorf("field %q: required for %s", name, k)
}
