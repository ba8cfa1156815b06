package apidoc

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

type thing struct {
	ID      string     `json:"id"`
	Note    string     `json:"note,omitempty"`
	Done    *time.Time `json:"done" jsonschema:"nullable"`
	Parts   []part     `json:"parts"`
	private int
}

type part struct {
	Name string `json:"name"`
}

type thingBody struct {
	Name string `json:"name" jsonschema:"required"`
	Note string `json:"note"`
}

func build(t *testing.T, ops ...Operation) map[string]any {
	t.Helper()
	raw, err := Build(Info{Title: "t", Version: "1", Examples: map[string]map[string]json.RawMessage{
		"getThing": {"200": json.RawMessage(`{"id":"x","done":null,"parts":[]}`)},
	}}, ops)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func TestBuild(t *testing.T) {
	doc := build(t,
		Operation{Method: "GET", Path: "/things/{id}", ID: "getThing", Summary: "A thing", Auth: true, Scope: "READ",
			Params:    []Param{{Name: "id", In: "path"}, {Name: "status", Repeat: true, Enum: []string{"a", "b"}}},
			Responses: []Response{{Status: 200, Description: "OK", Content: []Content{{Media: "application/json", Type: thing{}}}}}},
		Operation{Method: "POST", Path: "/things", ID: "createThing", Summary: "Make one",
			Body:      &Body{Required: true, Content: []Content{{Media: "application/json", Type: thingBody{}}}},
			Responses: []Response{{Status: 201, Description: "Made", Content: []Content{{Media: "application/json", Type: thing{}}}}, {Description: "Error"}}},
	)
	tests := []struct {
		name string
		path []string
		want string
	}{
		{"version", []string{"openapi"}, `"3.1.0"`},
		{"scope", []string{"paths", "/things/{id}", "get", "x-usagelog-scope"}, `"READ"`},
		{"bearer", []string{"paths", "/things/{id}", "get", "security"}, `[{"bearerAuth":[]}]`},
		{"no key", []string{"paths", "/things", "post", "security"}, `[]`},
		{"answer ref", []string{"paths", "/things/{id}", "get", "responses", "200", "content", "application/json", "schema"}, `{"$ref":"#/components/schemas/ApidocThing"}`},
		{"example", []string{"paths", "/things/{id}", "get", "responses", "200", "content", "application/json", "example"}, `{"done":null,"id":"x","parts":[]}`},
		{"closed", []string{"components", "schemas", "ApidocThing", "additionalProperties"}, `false`},
		{"required but omitempty", []string{"components", "schemas", "ApidocThing", "required"}, `["id","done","parts"]`},
		{"nullable", []string{"components", "schemas", "ApidocThing", "properties", "done", "oneOf"}, `[{"format":"date-time","type":"string"},{"type":"null"}]`},
		{"nested", []string{"components", "schemas", "ApidocPart", "required"}, `["name"]`},
		{"request: only tagged required", []string{"components", "schemas", "ApidocThingBody", "required"}, `["name"]`},
		{"repeated param", []string{"paths", "/things/{id}", "get", "parameters"}, `[{"in":"path","name":"id","required":true,"schema":{"type":"string"}},{"explode":true,"in":"query","name":"status","required":false,"schema":{"items":{"enum":["a","b"],"type":"string"},"type":"array"},"style":"form"}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := json.Marshal(dig(doc, tt.path...))
			if string(got) != tt.want {
				t.Errorf("%v = %s, want %s", tt.path, got, tt.want)
			}
		})
	}
}

func TestBuildRefusesDuplicates(t *testing.T) {
	op := Operation{Method: "GET", Path: "/x", ID: "x", Responses: []Response{{Status: 204, Description: "Done"}}}
	if _, err := Build(Info{}, []Operation{op, op}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("two descriptions of one route: %v", err)
	}
}

func TestReadReference(t *testing.T) {
	raw, err := Build(Info{Title: "usagelog API", Version: "1"}, []Operation{
		{Method: "DELETE", Path: "/things/{id}", ID: "deleteThing", Tag: "Things", Summary: "Delete", Auth: true, Scope: "ADMIN",
			Params: []Param{{Name: "id", In: "path"}}, Responses: []Response{{Status: 204, Description: "Done"}}},
		{Method: "GET", Path: "/things/{id}", ID: "getThing", Tag: "Things", Summary: "Get",
			Params:    []Param{{Name: "id", In: "path"}, {Name: "status", Repeat: true, Enum: []string{"a"}}},
			Responses: []Response{{Status: 200, Description: "OK", Content: []Content{{Media: "application/json", Type: thing{}}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := ReadReference(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(ref.Tags) != 1 || len(ref.Tags[0].Operations) != 2 {
		t.Fatalf("tags %+v", ref.Tags)
	}
	get, del := ref.Tags[0].Operations[0], ref.Tags[0].Operations[1]
	if get.ID != "getThing" || del.ID != "deleteThing" {
		t.Errorf("order: %s, %s (GET before DELETE)", get.ID, del.ID)
	}
	if !del.Auth || del.Scope != "ADMIN" || get.Auth {
		t.Errorf("auth: %+v %+v", del, get)
	}
	if p := get.Params[1]; !p.Repeat || p.Type != "string" || p.Enum[0] != "a" {
		t.Errorf("param %+v", p)
	}
	if c := get.Responses[0].Content[0]; c.Ref != "ApidocThing" {
		t.Errorf("content %+v", c)
	}
	if len(ref.Schemas) != 2 || ref.Schemas[1].Name != "ApidocThing" || !strings.Contains(ref.Schemas[1].JSON, `"additionalProperties": false`) {
		t.Errorf("schemas %+v", ref.Schemas)
	}
	if _, err := ReadReference([]byte("not json")); err == nil {
		t.Error("read a document that is not JSON")
	}
}

// FuzzReadReference: any bytes are read or refused, never a panic.
func FuzzReadReference(f *testing.F) {
	f.Add([]byte(`{"openapi":"3.1.0","paths":{"/x":{"get":{"operationId":"x","parameters":[{"name":"a","schema":{"type":"array","items":{"type":"string"}}}],"responses":{"200":{"description":"OK","content":{"application/json":{"schema":{"$ref":"#/components/schemas/X"}}}}}}}},"components":{"schemas":{"X":{"type":"object"}}}}`))
	f.Add([]byte(`{"paths":{"/x":{"get":{"responses":{"default":{"content":{"text/csv":{"schema":{"type":"string"},"example":"a,b"}}}}}}}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		ReadReference(doc)
	})
}
