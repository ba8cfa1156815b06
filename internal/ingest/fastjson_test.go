package ingest

import (
	"reflect"
	"strings"
	"testing"
)

const fastBase = `"kind":"api_request","id":"r1","time":"2026-01-01T00:00:00Z","status":200`

// TestFastWire: which objects the fast path takes itself and which it
// leaves to jsonv2; FuzzFastWireMatchesJSON checks the values.
func TestFastWire(t *testing.T) {
	tests := []struct {
		name string
		line string
		fast bool
	}{
		{"plain", `{` + fastBase + `}`, true},
		{"every kind of field", `{` + fastBase + `,"gateway_code":-4011,"messages":0,"service_account":false,"user_id":"u","system":"J"}`, true},
		{"whitespace", " \t{ \"kind\" : \"sync\" ,\r\n\"id\":\"1\" } \n", true},
		{"empty object", `{}`, true},
		{"non-ASCII", `{"kind":"user_seen","member_name":"Zoë 名前 🚀"}`, true},
		{"escape", `{"kind":"api_request","url":"/a\/b"}`, false},
		{"invalid UTF-8", "{\"kind\":\"api_request\",\"url\":\"\xff\"}", false},
		{"control character", "{\"kind\":\"api_request\",\"url\":\"a\tb\"}", false},
		{"duplicate", `{"kind":"sync","kind":"sync"}`, false},
		{"unknown field", `{"kind":"sync","colour":"red"}`, false},
		{"name in another case", `{"Kind":"sync"}`, false},
		{"null", `{"kind":null}`, false},
		{"fraction", `{"status":200.0}`, false},
		{"exponent", `{"status":2e2}`, false},
		{"leading zero", `{"status":0200}`, false},
		{"19 digits", `{"timing_ms":1000000000000000000}`, false},
		{"string for a number", `{"status":"200"}`, false},
		{"number for a string", `{"kind":1}`, false},
		{"trailing comma", `{"kind":"sync",}`, false},
		{"trailing garbage", `{"kind":"sync"} x`, false},
		{"two objects", `{"kind":"sync"}{}`, false},
		{"unterminated", `{"kind":"sync"`, false},
		{"array", `[]`, false},
		{"truex", `{"service_account":truex}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w wire
			if got := fastWire([]byte(tt.line), &w); got != tt.fast {
				t.Fatalf("fastWire(%q) = %v, want %v", tt.line, got, tt.fast)
			}
		})
	}
}

// FuzzFastWireMatchesJSON: whenever the fast path takes a line, jsonv2
// takes it too and reads the very same wire struct.
func FuzzFastWireMatchesJSON(f *testing.F) {
	for _, s := range []string{
		`{` + fastBase + `}`,
		`{` + fastBase + `,"gateway_code":-4011,"messages":0,"service_account":true,"user_agent":"Zoë/1.0"}`,
		`{"kind":"activity","id":"a","time":"2026-01-01T00:00:00+05:30","user_id":"u","messages":3,"input_tokens":-0}`,
		` { "kind" : "user_seen" , "system" : "J" , "service_account" : false } `,
		`{"kind":"sync","kind":"sync"}`, `{"status":007}`, `{"status":-}`, `{}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		var fast wire
		if !fastWire([]byte(line), &fast) {
			return
		}
		var slow wire
		if err := slowWire([]byte(line), &slow); err != nil {
			t.Fatalf("fast path took %q, jsonv2 refused it: %v", line, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q:\nfast  %+v\njsonv2 %+v", line, fast, slow)
		}
	})
}

// TestFastWireEveryField: each field of the contract, alone with the
// required ones, goes the fast way and reads as jsonv2 reads it.
func TestFastWireEveryField(t *testing.T) {
	for _, in := range inputs {
		name := in.Name
		var v string
		switch in.json {
		case kindString:
			v = `"` + strings.Repeat("v", 3) + `"`
		case kindInt:
			v = "-42"
		case kindBool:
			v = "true"
		}
		line := `{"` + name + `":` + v + `}`
		var fast, slow wire
		if !fastWire([]byte(line), &fast) {
			t.Errorf("%s: not taken by the fast path", line)
			continue
		}
		if err := slowWire([]byte(line), &slow); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Errorf("%s: fast %+v, jsonv2 %+v", line, fast, slow)
		}
	}
}
