// Package apidoc builds the API's OpenAPI 3.1 description from its route
// table and the Go types its handlers read and write, and reads a
// description back into the reference the console shows.
package apidoc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode"

	"github.com/invopop/jsonschema"
)

// Operation is one route as the description gives it.
type Operation struct {
	Method, Path string
	ID           string // operationId
	Tag          string
	Summary      string
	Description  string
	// Scope is the key scope the operation needs (x-usagelog-scope); ""
	// with Auth unset for routes that take no key.
	Scope string
	Auth  bool
	// Params are the query, path and header parameters.
	Params    []Param
	Body      *Body
	Responses []Response
}

// Param is one parameter.
type Param struct {
	Name        string
	In          string // query (default), path or header
	Description string
	Required    bool
	Type        string // string (default), integer or boolean
	Format      string
	Enum        []string
	// Minimum and Maximum bound an integer (both 0: unbounded).
	Minimum, Maximum int
	// Repeat: the parameter may be given more than once (or comma
	// separated, where the description says so).
	Repeat bool
}

// Body is a request body.
type Body struct {
	Description string
	Required    bool
	Content     []Content
}

// Content is one media type of a body.
type Content struct {
	Media string
	// Type is a value of the Go type whose JSON the body is (in a request
	// body, only fields tagged jsonschema:"required" are; in an answer,
	// every field without omitempty); Schema, when
	// set, is the schema instead (a body no Go type describes, such as
	// the events of every kind). Neither: any bytes.
	Type    any
	Schema  map[string]any
	Example any
}

// TagInfo describes a group of operations.
type TagInfo struct{ Name, Description string }

// Response is one answer of an operation.
type Response struct {
	Status      int // 0: the default response, every status not listed
	Description string
	Content     []Content
	Headers     []string
}

// Info heads the document.
type Info struct {
	Title, Version, Description string
	// TokenPrefix begins every key's token, as the bearer scheme says.
	TokenPrefix string
	// License names the terms the API is offered under, LicenseID is
	// their SPDX identifier; Contact names who answers for it.
	License, LicenseID, Contact string
	// Tags describe the operations' tags, in the order a reference shows
	// them.
	Tags []TagInfo
	// Schemas are named schemas that bodies refer to by
	// "#/components/schemas/NAME" (Content.Schema).
	Schemas map[string]map[string]any
	// Types are the schemas of Go types whose JSON is not their fields
	// (a custom MarshalJSON or UnmarshalJSON).
	Types map[reflect.Type]map[string]any
	// Examples are JSON answers by operation id and status, shown with
	// the answer's schema.
	Examples map[string]map[string]json.RawMessage
	// Enums constrain properties of the components' schemas to the values
	// the server takes, where the Go type is a plain string whose values
	// another package knows (a report's name, a format), by schema name
	// and property.
	Enums map[string]map[string][]string
}

// Build writes the OpenAPI 3.1 document of ops. Every Go type of a body
// becomes a named schema in components, with additionalProperties false:
// an answer with a field the type does not have does not validate.
func Build(info Info, ops []Operation) ([]byte, error) {
	b := &builder{schemas: map[string]any{}}
	b.answers = &jsonschema.Reflector{Namer: schemaName, Mapper: mapper(info.Types), Anonymous: true}
	b.requests = &jsonschema.Reflector{Namer: inputName, Mapper: mapper(info.Types), Anonymous: true, RequiredFromJSONSchemaTags: true}
	for name, s := range info.Schemas {
		b.schemas[name] = s
	}
	paths := map[string]map[string]any{}
	seen := map[string]bool{}
	for _, op := range ops {
		key := op.Method + " " + op.Path
		if seen[key] || seen[op.ID] {
			return nil, fmt.Errorf("apidoc: %s (%s) is described twice", key, op.ID)
		}
		seen[key], seen[op.ID] = true, true
		o, err := b.operation(op, info.Examples[op.ID])
		if err != nil {
			return nil, fmt.Errorf("apidoc: %s: %w", key, err)
		}
		if paths[op.Path] == nil {
			paths[op.Path] = map[string]any{}
		}
		paths[op.Path][strings.ToLower(op.Method)] = o
	}
	for name, props := range info.Enums {
		s, _ := b.schemas[name].(map[string]any)
		ps, _ := s["properties"].(map[string]any)
		for prop, values := range props {
			p, ok := ps[prop].(map[string]any)
			if !ok {
				return nil, fmt.Errorf("apidoc: enum of %s.%s: no such property", name, prop)
			}
			p["enum"] = values
		}
	}
	var tags []any
	for _, t := range info.Tags {
		tags = append(tags, map[string]any{"name": t.Name, "description": t.Description})
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": info.Title, "version": info.Version, "description": info.Description,
			"license": map[string]any{"name": info.License, "identifier": info.LicenseID}, "contact": map[string]any{"name": info.Contact}},
		// Relative: the document is served by the server it describes, so
		// a client takes the address it read it from.
		"servers": []any{map[string]any{"url": "/", "description": "The usagelog server that serves this document."}},
		"tags":    tags,
		"paths":   paths,
		"components": map[string]any{
			"schemas": b.schemas,
			"securitySchemes": map[string]any{"bearerAuth": map[string]any{
				"type": "http", "scheme": "bearer",
				"description": "An API key's token (`Authorization: Bearer " + info.TokenPrefix + "…`). The console's pages call the API with their session instead."}},
		},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("apidoc: %w", err)
	}
	return buf.Bytes(), nil
}

type builder struct {
	answers, requests *jsonschema.Reflector
	schemas           map[string]any
}

func (b *builder) operation(op Operation, examples map[string]json.RawMessage) (map[string]any, error) {
	o := map[string]any{"operationId": op.ID, "summary": op.Summary}
	if op.Description != "" {
		o["description"] = op.Description
	}
	if op.Tag != "" {
		o["tags"] = []string{op.Tag}
	}
	if op.Auth {
		o["security"] = []any{map[string]any{"bearerAuth": []string{}}}
		o["x-usagelog-scope"] = op.Scope
	} else {
		o["security"] = []any{}
	}
	var params []any
	for _, p := range op.Params {
		params = append(params, parameter(p))
	}
	if len(params) > 0 {
		o["parameters"] = params
	}
	if op.Body != nil {
		content, err := b.content(op.Body.Content, b.requests)
		if err != nil {
			return nil, err
		}
		body := map[string]any{"required": op.Body.Required, "content": content}
		if op.Body.Description != "" {
			body["description"] = op.Body.Description
		}
		o["requestBody"] = body
	}
	responses := map[string]any{}
	for _, r := range op.Responses {
		resp := map[string]any{"description": r.Description}
		if len(r.Content) > 0 {
			content, err := b.content(r.Content, b.answers)
			if err != nil {
				return nil, err
			}
			resp["content"] = content
		}
		if len(r.Headers) > 0 {
			h := map[string]any{}
			for _, name := range r.Headers {
				h[name] = map[string]any{"schema": map[string]any{"type": "string"}}
			}
			resp["headers"] = h
		}
		key := "default"
		if r.Status != 0 {
			key = strconv.Itoa(r.Status)
		}
		if ex, ok := examples[key]; ok {
			if c, ok := resp["content"].(map[string]any)["application/json"].(map[string]any); ok {
				c["example"] = ex
			}
		}
		responses[key] = resp
	}
	o["responses"] = responses
	return o, nil
}

func parameter(p Param) map[string]any {
	in := p.In
	if in == "" {
		in = "query"
	}
	s := map[string]any{"type": "string"}
	if p.Type != "" {
		s["type"] = p.Type
	}
	if p.Format != "" {
		s["format"] = p.Format
	}
	if len(p.Enum) > 0 {
		s["enum"] = p.Enum
	}
	if p.Minimum != 0 || p.Maximum != 0 {
		s["minimum"], s["maximum"] = p.Minimum, p.Maximum
	}
	out := map[string]any{"name": p.Name, "in": in, "required": p.Required || in == "path"}
	if p.Description != "" {
		out["description"] = p.Description
	}
	if p.Repeat {
		out["schema"] = map[string]any{"type": "array", "items": s}
		out["style"], out["explode"] = "form", true
	} else {
		out["schema"] = s
	}
	return out
}

func (b *builder) content(cs []Content, r *jsonschema.Reflector) (map[string]any, error) {
	out := map[string]any{}
	for _, c := range cs {
		m := map[string]any{}
		switch {
		case c.Schema != nil:
			m["schema"] = c.Schema
		case c.Type != nil:
			s, err := b.schemaOf(r, c.Type)
			if err != nil {
				return nil, err
			}
			m["schema"] = s
		case strings.HasPrefix(c.Media, "text/"):
			m["schema"] = map[string]any{"type": "string"}
		default:
			m["schema"] = map[string]any{"type": "string", "contentMediaType": c.Media}
		}
		if c.Example != nil {
			m["example"] = c.Example
		}
		out[c.Media] = m
	}
	return out, nil
}

// schemaOf reflects v's type, adds the named schemas it needs to the
// components and returns the schema that refers to them.
func (b *builder) schemaOf(r *jsonschema.Reflector, v any) (map[string]any, error) {
	root := r.Reflect(v)
	for name, def := range root.Definitions {
		m, err := plain(def)
		if err != nil {
			return nil, err
		}
		if prev, ok := b.schemas[name]; ok && !reflect.DeepEqual(prev, m) {
			// Two types of one name, or one type reflected two ways.
			return nil, fmt.Errorf("schema %s is two schemas: give one of them a name of its own", name)
		}
		b.schemas[name] = m
	}
	root.Definitions, root.Version, root.ID = nil, "", ""
	return plain(root)
}

// plain turns a reflected schema into plain JSON values, its references
// pointed at the document's components.
func plain(s *jsonschema.Schema) (map[string]any, error) {
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	raw = bytes.ReplaceAll(raw, []byte(`"#/$defs/`), []byte(`"#/components/schemas/`))
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// schemaName names a Go type's schema: its package and its name, so that
// jobs.View is JobsView and gateway.ClientJSON GatewayClient; the API
// package's own types go by their names alone.
func schemaName(t reflect.Type) string {
	name := t.Name()
	if i := strings.IndexByte(name, '['); i >= 0 {
		// list[….jobs.View] is JobsViewList.
		inner := strings.TrimSuffix(name[i+1:], "]")
		inner = inner[strings.LastIndexByte(inner, '/')+1:]
		pkg, typ, _ := strings.Cut(inner, ".")
		return upper(pkg) + upper(strings.TrimSuffix(typ, "JSON")) + upper(name[:i])
	}
	name = upper(strings.TrimSuffix(name, "JSON"))
	pkg := t.PkgPath()
	pkg = pkg[strings.LastIndexByte(pkg, '/')+1:]
	if pkg == "httpapi" || pkg == "" {
		return name
	}
	return upper(pkg) + name
}

// inputName names a type's schema as a request body has it: a type that
// answers too is required differently there, so the two are apart
// (ExportSpec is UsageExportSpecInput in a request).
func inputName(t reflect.Type) string {
	name := schemaName(t)
	if name == "" {
		return ""
	}
	for _, suffix := range []string{"Request", "Patch", "Body", "Input"} {
		if strings.HasSuffix(name, suffix) {
			return name
		}
	}
	return name + "Input"
}

func upper(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// mapper gives the schemas of types whose JSON is not their fields.
func mapper(types map[reflect.Type]map[string]any) func(reflect.Type) *jsonschema.Schema {
	return func(t reflect.Type) *jsonschema.Schema {
		m, ok := types[t]
		if !ok {
			return nil
		}
		raw, err := json.Marshal(m)
		if err != nil {
			panic(fmt.Sprintf("apidoc: schema of %v: %v", t, err))
		}
		var s jsonschema.Schema
		if err := json.Unmarshal(raw, &s); err != nil {
			panic(fmt.Sprintf("apidoc: schema of %v: %v", t, err))
		}
		return &s
	}
}
