package apidoc

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Reference is an OpenAPI document as a reader of the console's API
// reference page sees it: operations by tag, then the named schemas.
type Reference struct {
	Title, Version, Description string
	Tags                        []Tag
	Schemas                     []NamedSchema
}

// Tag is a group of operations.
type Tag struct {
	Name       string
	Operations []RefOperation
}

// RefOperation is one operation of the reference.
type RefOperation struct {
	ID, Method, Path, Summary, Description string
	// Scope is its x-usagelog-scope; Auth says it takes a key.
	Scope     string
	Auth      bool
	Params    []RefParam
	Body      []RefContent
	Responses []RefResponse
}

// RefParam is a parameter.
type RefParam struct {
	Name, In, Type, Description string
	Required, Repeat            bool
	Enum                        []string
}

// RefContent is a body in one media type: a schema of the document's
// components (Ref) or one of its own (Schema, indented JSON).
type RefContent struct {
	Media, Ref, Schema, Example string
}

// RefResponse is an answer.
type RefResponse struct {
	Status, Description string
	Content             []RefContent
}

// NamedSchema is a schema of the components, as indented JSON.
type NamedSchema struct {
	Name, JSON string
}

// ReadReference reads an OpenAPI 3.1 document into a Reference.
func ReadReference(doc []byte) (*Reference, error) {
	var d struct {
		Info struct {
			Title, Version, Description string
		} `json:"info"`
		Paths      map[string]map[string]operationJSON `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("apidoc: read reference: %w", err)
	}
	ref := &Reference{Title: d.Info.Title, Version: d.Info.Version, Description: d.Info.Description}
	tags := map[string][]RefOperation{}
	for path, ops := range d.Paths {
		for method, o := range ops {
			tag := "Other"
			if len(o.Tags) > 0 {
				tag = o.Tags[0]
			}
			tags[tag] = append(tags[tag], o.reference(strings.ToUpper(method), path))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(tags)) {
		ops := tags[name]
		slices.SortFunc(ops, func(a, b RefOperation) int {
			return cmp.Or(strings.Compare(a.Path, b.Path), strings.Compare(methodRank(a.Method), methodRank(b.Method)))
		})
		ref.Tags = append(ref.Tags, Tag{Name: name, Operations: ops})
	}
	for _, name := range slices.Sorted(maps.Keys(d.Components.Schemas)) {
		ref.Schemas = append(ref.Schemas, NamedSchema{Name: name, JSON: indent(d.Components.Schemas[name])})
	}
	return ref, nil
}

type operationJSON struct {
	ID          string   `json:"operationId"`
	Summary     string   `json:"summary"`
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
	Scope       string   `json:"x-usagelog-scope"`
	Security    []any    `json:"security"`
	Parameters  []struct {
		Name        string `json:"name"`
		In          string `json:"in"`
		Description string `json:"description"`
		Required    bool   `json:"required"`
		Schema      struct {
			Type  string   `json:"type"`
			Enum  []string `json:"enum"`
			Items struct {
				Type string   `json:"type"`
				Enum []string `json:"enum"`
			} `json:"items"`
		} `json:"schema"`
	} `json:"parameters"`
	RequestBody struct {
		Content map[string]mediaJSON `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Description string               `json:"description"`
		Content     map[string]mediaJSON `json:"content"`
	} `json:"responses"`
}

type mediaJSON struct {
	Schema  json.RawMessage `json:"schema"`
	Example json.RawMessage `json:"example"`
}

func (o operationJSON) reference(method, path string) RefOperation {
	r := RefOperation{ID: o.ID, Method: method, Path: path, Summary: o.Summary, Description: o.Description,
		Scope: o.Scope, Auth: len(o.Security) > 0}
	for _, p := range o.Parameters {
		rp := RefParam{Name: p.Name, In: p.In, Description: p.Description, Required: p.Required, Type: p.Schema.Type, Enum: p.Schema.Enum}
		if p.Schema.Type == "array" {
			rp.Repeat, rp.Type, rp.Enum = true, p.Schema.Items.Type, p.Schema.Items.Enum
		}
		r.Params = append(r.Params, rp)
	}
	r.Body = contents(o.RequestBody.Content)
	for _, status := range slices.Sorted(maps.Keys(o.Responses)) {
		resp := o.Responses[status]
		r.Responses = append(r.Responses, RefResponse{Status: status, Description: resp.Description, Content: contents(resp.Content)})
	}
	return r
}

func contents(m map[string]mediaJSON) []RefContent {
	var out []RefContent
	for _, media := range slices.Sorted(maps.Keys(m)) {
		c := RefContent{Media: media}
		var only struct {
			Ref string `json:"$ref"`
		}
		if json.Unmarshal(m[media].Schema, &only) == nil && only.Ref != "" && !strings.Contains(string(m[media].Schema), ",") {
			c.Ref = strings.TrimPrefix(only.Ref, "#/components/schemas/")
		} else if len(m[media].Schema) > 0 {
			c.Schema = indent(m[media].Schema)
		}
		if len(m[media].Example) > 0 {
			c.Example = indent(m[media].Example)
		}
		out = append(out, c)
	}
	return out
}

func indent(raw json.RawMessage) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return string(raw)
	}
	return string(out)
}

// methodRank orders an operation's methods as people read them.
func methodRank(m string) string {
	return fmt.Sprint(slices.Index([]string{"GET", "POST", "PUT", "PATCH", "DELETE"}, m))
}
