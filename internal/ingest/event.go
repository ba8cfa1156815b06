// Package ingest decodes events of the ingest contract from NDJSON, JSON
// arrays and CSV, one record at a time, so that a body is never held whole.
package ingest

import (
	"errors"
	"fmt"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/usagelog/usagelog/internal/usage"
)

// MaxIDLength bounds event ids; an id is a key, not a payload.
const MaxIDLength = 256

// MaxFieldLength bounds every string field, so one event cannot be a
// megabyte of user agent.
const MaxFieldLength = 8192

// ParseJSON decodes and validates one event given as a JSON object. Its
// errors name the field at fault.
func ParseJSON(data []byte) (usage.Event, error) {
	var w wire
	return parseInto(data, &w)
}

// parseInto is ParseJSON into a zero w that the caller provides: the
// decoder reuses one rather than allocate one an event.
func parseInto(data []byte, w *wire) (usage.Event, error) {
	if !fastWire(data, w) {
		*w = wire{}
		if err := slowWire(data, w); err != nil {
			return usage.Event{}, jsonError(err)
		}
	}
	return w.event()
}

// Check validates and normalises an event that is already a struct: the
// same rules and errors as ParseJSON on MarshalJSON's encoding of it
// (FuzzCheckMatchesJSON), without the round trip through JSON. The capture
// package records through it.
func Check(e *usage.Event) (usage.Event, error) {
	var w wire
	w.fromEvent(e)
	return w.event()
}

// Checker is Check for many events one after another: it keeps its
// working copy of an event between calls, and CheckInPlace writes the
// result over its argument, so that checking an event allocates nothing
// of its size (BenchmarkMap in internal/otlp).
type Checker struct{ w wire }

// CheckInPlace is Check, with the checked event written over *e; on an
// error *e is left as it was.
func (c *Checker) CheckInPlace(e *usage.Event) error {
	c.w = wire{}
	c.w.fromEvent(e)
	checked, err := c.w.event()
	if err != nil {
		return err
	}
	*e = checked
	return nil
}

// validUTF8 replaces each byte that is not UTF-8 with U+FFFD, as
// encoding/json does when it writes a string.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// jsonError rewrites decoding errors so that they name the field in the
// contract's words.
func jsonError(err error) error {
	var se *jsonv2.SemanticError
	if errors.As(err, &se) {
		field := strings.TrimPrefix(string(se.JSONPointer), "/")
		if errors.Is(err, jsonv2.ErrUnknownName) {
			return fmt.Errorf("unknown field %q", field)
		}
		got := "this value"
		if se.JSONKind != 0 {
			got = "a " + se.JSONKind.String()
			switch se.JSONKind {
			case '{':
				got = "an object"
			case '[':
				got = "an array"
			case 't', 'f':
				got = "a boolean"
			}
		}
		if field == "" {
			return fmt.Errorf("an event must be a JSON object, not %s", got)
		}
		want := "a string"
		if se.GoType != nil {
			t := se.GoType
			if t.Kind() == reflect.Pointer {
				t = t.Elem()
			}
			switch t.Kind() {
			case reflect.Int, reflect.Int64:
				want = "a whole number"
			case reflect.Bool:
				want = "true or false"
			}
		}
		return fmt.Errorf("field %q: must be %s, not %s", field, want, got)
	}
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return errors.New("malformed JSON: unexpected end of input")
		}
		msg := strings.TrimPrefix(syn.Err.Error(), "jsontext: ")
		return fmt.Errorf("malformed JSON at byte %d: %s", syn.ByteOffset, msg)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("malformed JSON: unexpected end of input")
	}
	return fmt.Errorf("malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

func (w *wire) event() (usage.Event, error) {
	e := &w.e
	if e.Kind == "" {
		return usage.Event{}, required("kind", "")
	}
	if !e.Kind.Valid() {
		return usage.Event{}, fmt.Errorf(`field "kind": unknown kind %q (want api_request, activity, sync or user_seen)`, e.Kind)
	}
	if strings.TrimSpace(e.ID) == "" {
		return usage.Event{}, required("id", "")
	}
	if len(e.ID) > MaxIDLength {
		return usage.Event{}, fmt.Errorf(`field "id": longer than %d bytes`, MaxIDLength)
	}
	t, ok, err := w.time(0)
	if !ok {
		return usage.Event{}, required("time", "")
	}
	if err != nil {
		return usage.Event{}, fmt.Errorf(`field "time": %w`, err)
	}
	e.Time = t
	ki := kindInputs[e.Kind]
	w.clearOthers(ki.mask)
	for _, i := range ki.index {
		if f := inputs[i]; f.Required && (w.given&(1<<i) == 0 || blank(f.Ptr(e))) {
			return usage.Event{}, required(f.Name, e.Kind)
		}
	}
	if e.Kind == usage.KindAPIRequest && (e.Status < 100 || e.Status > 599) {
		return usage.Event{}, fmt.Errorf(`field "status": %d is not an HTTP status code (100-599)`, e.Status)
	}
	for _, i := range ki.index {
		if f := inputs[i]; f.Enum != nil {
			if err := oneOf(f.Field, *f.Ptr(e).(*string)); err != nil {
				return usage.Event{}, err
			}
		}
	}

	switch e.Kind {
	case usage.KindAPIRequest:
		if e.TimingMS < 0 || e.DelayMS < 0 {
			return usage.Event{}, errors.New(`fields "timing_ms" and "delay_ms": must not be negative`)
		}
		e.Method = strings.ToUpper(e.Method)
		e.ClientClass, e.UsageType = usage.Classify(e.URL, e.UserAgent)
	case usage.KindActivity:
		if w.given&messagesGiven == 0 {
			e.Messages = 1
		}
		if e.Messages < 0 || e.InputTokens < 0 || e.OutputTokens < 0 {
			return usage.Event{}, errors.New(`fields "messages", "input_tokens" and "output_tokens": must not be negative`)
		}
	case usage.KindSync:
		if t, ok, err := w.time(1); ok {
			if err != nil {
				return usage.Event{}, fmt.Errorf(`field "integration_updated_at": %w`, err)
			}
			e.IntegrationUpdatedAt = t
		}
	}
	if name := tooLong(e, ki.index); name != "" {
		return usage.Event{}, fmt.Errorf("field %q: longer than %d bytes", name, MaxFieldLength)
	}
	return *e, nil
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time with offset (e.g. 2026-01-31T09:30:00Z)", s)
	}
	if t.Year() < 1970 || t.Year() > 9999 {
		return time.Time{}, fmt.Errorf("%q is out of range", s)
	}
	return usage.TruncateMS(t), nil
}

// blank reports whether a required string is empty or only spaces: a
// name of spaces names nothing.
func blank(p any) bool {
	s, ok := p.(*string)
	return ok && strings.TrimSpace(*s) == ""
}

func oneOf(f usage.Field, value string) error {
	if value == "" || f.Enum == nil || slices.Contains(f.Enum, value) {
		return nil
	}
	return fmt.Errorf("field %q: unknown value %q (want %s)", f.Name, value, strings.Join(f.Enum, ", "))
}
