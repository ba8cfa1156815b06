package ingest

import (
	"reflect"
	"strings"

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
// first: read from the decoder's own struct, so that the API description
// cannot drift from what is decoded.
func Fields(k usage.Kind) []Field {
	var out []Field
	t := reflect.TypeFor[wire]()
	for i := range t.NumField() {
		f := t.Field(i)
		kind, req := strings.CutSuffix(f.Tag.Get("kind"), ",required")
		if kind != "all" && kind != string(k) {
			continue
		}
		name := f.Tag.Get("json")
		fd := Field{Name: name, Required: req, Enum: enums[name], Time: name == "time" || strings.HasSuffix(name, "_at")}
		switch ft := f.Type; {
		case ft.Kind() == reflect.Pointer:
			fd.Type = typeName(ft.Elem().Kind())
		default:
			fd.Type = typeName(ft.Kind())
		}
		if name == "kind" {
			fd.Enum = []string{string(k)}
		}
		out = append(out, fd)
	}
	return out
}

func typeName(k reflect.Kind) string {
	switch k {
	case reflect.Int, reflect.Int64:
		return "integer"
	case reflect.Bool:
		return "boolean"
	default:
		return "string"
	}
}
