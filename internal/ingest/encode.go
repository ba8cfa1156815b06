package ingest

import (
	"strconv"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/usagelog/usagelog/internal/usage"
)

const rfc3339ms = "2006-01-02T15:04:05.000Z07:00"

// MarshalJSON encodes e in the ingest contract's form, so that ParseJSON
// gives it back: the fields of its kind in the contract's order, those
// left empty left out (but kind, id and time always, and messages for
// activity, where zero is a value). Strings that are not UTF-8 are sent
// with U+FFFD for each bad byte, as Check reads them.
func MarshalJSON(e *usage.Event) ([]byte, error) {
	b := make([]byte, 0, 512)
	b = append(b, '{')
	for _, in := range inputs {
		if in.Kind != "" && in.Kind != e.Kind {
			continue
		}
		start := len(b)
		if start > 1 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, in.Name) // names are plain ASCII
		b = append(b, ':')
		switch p := in.Ptr(e).(type) {
		case *string:
			if *p == "" {
				b = b[:start]
				continue
			}
			b, _ = jsontext.AppendQuote(b, *p)
		case *usage.Kind:
			b, _ = jsontext.AppendQuote(b, string(*p))
		case *time.Time:
			if p.IsZero() && in.Name != "time" {
				b = b[:start]
				continue
			}
			b = append(b, '"')
			b = p.UTC().AppendFormat(b, rfc3339ms)
			b = append(b, '"')
		case *int:
			if *p == 0 {
				b = b[:start]
				continue
			}
			b = strconv.AppendInt(b, int64(*p), 10)
		case *int64:
			if *p == 0 && in.Name != "messages" {
				b = b[:start]
				continue
			}
			b = strconv.AppendInt(b, *p, 10)
		case *bool:
			if !*p {
				b = b[:start]
				continue
			}
			b = append(b, "true"...)
		}
	}
	return append(b, '}'), nil
}
