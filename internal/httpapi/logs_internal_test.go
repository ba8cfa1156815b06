package httpapi

import (
	"testing"

	"github.com/usagelog/usagelog/internal/usage"
)

// TestLogItemShowsEveryField: a field added to api_request events is in
// the logs API's answer, or this fails.
func TestLogItemShowsEveryField(t *testing.T) {
	shown := map[string]bool{"kind": true, "time": true} // kind is implied, time has its own format
	for _, f := range logItemFields {
		shown[f.Name] = true
	}
	for _, f := range usage.KindFields(usage.KindAPIRequest) {
		if !shown[f.Name] {
			t.Errorf("api_request field %q has no LogItem field of that JSON name", f.Name)
		}
	}
}
