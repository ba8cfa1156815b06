package ingest

import (
	"github.com/usagelog/usagelog/internal/usage"
)

// Field is one field of an event kind as the ingest contract takes it.
type Field struct {
	Name     string
	Type     string // string, integer or boolean
	Time     bool   // an RFC 3339 time with an offset
	Required bool
	Enum     []string
}

// Fields are the fields an event of kind k takes, those of every kind
// first: read from the decoder's own table, so that the API description
// cannot drift from what is decoded.
func Fields(k usage.Kind) []Field {
	var out []Field
	for _, in := range inputs {
		if in.Kind != "" && in.Kind != k {
			continue
		}
		fd := Field{Name: in.Name, Required: in.Required, Enum: in.Enum, Time: in.time >= 0}
		switch in.json {
		case kindInt:
			fd.Type = "integer"
		case kindBool:
			fd.Type = "boolean"
		default:
			fd.Type = "string"
		}
		if in.Name == "kind" {
			fd.Enum = []string{string(k)}
		}
		out = append(out, fd)
	}
	return out
}
