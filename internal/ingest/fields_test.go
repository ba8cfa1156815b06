package ingest

import (
	"slices"
	"testing"

	"github.com/usagelog/usagelog/internal/usage"
)

func TestFields(t *testing.T) {
	tests := []struct {
		kind     usage.Kind
		required []string
		has      string
	}{
		{usage.KindAPIRequest, []string{"kind", "id", "time", "status"}, "collection_type"},
		{usage.KindActivity, []string{"kind", "id", "time", "user_id"}, "feature"},
		{usage.KindSync, []string{"kind", "id", "time"}, "integration_updated_at"},
		{usage.KindUserSeen, []string{"kind", "id", "time", "system"}, "service_account"},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			var required, names []string
			for _, f := range Fields(tt.kind) {
				names = append(names, f.Name)
				if f.Required {
					required = append(required, f.Name)
				}
			}
			if !slices.Equal(required, tt.required) {
				t.Errorf("required %v, want %v", required, tt.required)
			}
			if !slices.Contains(names, tt.has) {
				t.Errorf("fields %v lack %s", names, tt.has)
			}
		})
	}
	for _, f := range Fields(usage.KindAPIRequest) {
		switch f.Name {
		case "kind":
			if !slices.Equal(f.Enum, []string{"api_request"}) {
				t.Errorf("kind enum %v", f.Enum)
			}
		case "status", "timing_ms":
			if f.Type != "integer" {
				t.Errorf("%s is %s", f.Name, f.Type)
			}
		case "collection_type":
			if !slices.Equal(f.Enum, usage.CollectionTypes) {
				t.Errorf("collection_type enum %v", f.Enum)
			}
		}
	}
}
