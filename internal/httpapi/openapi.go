package httpapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/usagelog/usagelog/internal/apidoc"
	"github.com/usagelog/usagelog/internal/buildinfo"
	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/ingest"
	"github.com/usagelog/usagelog/internal/usage"
)

// Description is the OpenAPI 3.1 document of the API, made from the
// route table.
func (s *Server) Description() []byte { return s.description }

// examples are real answers, by operation id and status, that
// TestOpenAPIValidation recorded (go test ./internal/httpapi -run
// OpenAPIValidation -update-examples) and checks against the description.
//
//go:embed openapi_examples.json
var examples []byte

// describe is the OpenAPI document of the route table.
func describe(table []route) ([]byte, error) {
	var ex map[string]map[string]json.RawMessage
	if err := json.Unmarshal(examples, &ex); err != nil {
		return nil, fmt.Errorf("httpapi: openapi_examples.json: %w", err)
	}
	var ops []apidoc.Operation
	for _, r := range table {
		ops = append(ops, apidoc.Operation(r.doc))
	}
	schemas := map[string]map[string]any{}
	var kinds []any
	mapping := map[string]any{}
	for _, k := range usage.Kinds {
		name := camel(strings.ReplaceAll(string(k), "_", "-")) + "Event"
		schemas[name] = eventSchema(k)
		kinds = append(kinds, ref(name))
		mapping[string(k)] = "#/components/schemas/" + name
	}
	schemas["Event"] = map[string]any{"oneOf": kinds, "discriminator": map[string]any{"propertyName": "kind", "mapping": mapping}}
	reports, formats := reportNames(), formatNames(allFormats())
	return apidoc.Build(apidoc.Info{
		Title:   "usagelog API",
		Version: buildinfo.Read().Version,
		Description: "Ingest usage events, read the API log and its summaries, export reports, and administer a workspace. " +
			"Every operation that takes a key names the scope it needs in x-usagelog-scope; " + reportScope + " means the scope of the report the call runs " +
			"(LOGS_READ for api-logs and api-usage, USAGE_EXPORT_API for the activity exports, SERVER_MANAGEMENT_READ for usage-reports). " +
			"Errors are {\"error\":{\"code\",\"message\",\"gateway_code\"}}.",
		TokenPrefix: usage.TokenPrefix,
		// No open-source licence is granted: an SPDX reference of its own.
		License:   "Proprietary: all rights reserved by the usagelog authors",
		LicenseID: "LicenseRef-usagelog-proprietary",
		Contact:   "The usagelog team",
		Tags:      tags,
		Enums: map[string]map[string][]string{
			"UsageExportSpecInput": {"report": reports, "format": formats},
			"UsageExportSpec":      {"report": reports, "format": formats},
			"JobsView": {"report": reports, "format": formats,
				"status": {string(usage.JobQueued), string(usage.JobRunning), string(usage.JobSucceeded), string(usage.JobFailed), string(usage.JobCancelled)}},
		},
		Schemas:  schemas,
		Examples: ex,
		Types: map[reflect.Type]map[string]any{
			// The rules are decoded apart (null is "back to the
			// defaults", told apart from a bad rule).
			reflect.TypeFor[json.RawMessage](): {"anyOf": []any{
				map[string]any{"type": "array", "items": ref("UsageRule"), "maxItems": usage.MaxRules}, map[string]any{"type": "null"}}},
			// A filter is given as a string, a number or a list of
			// strings, and answered as a list.
			reflect.TypeFor[usage.FilterValues](): {"type": "object", "additionalProperties": map[string]any{
				"anyOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}, map[string]any{"type": "array", "items": map[string]any{"type": "string"}}}}},
		},
	}, ops)
}

// reportNames are the catalogue's reports.
func reportNames() []string {
	var out []string
	for _, r := range export.Catalogue {
		out = append(out, r.Name)
	}
	return out
}

// allFormats are every format some report is written in.
func allFormats() []export.Format {
	var out []export.Format
	for _, r := range export.Catalogue {
		for _, f := range r.Formats {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	return out
}

// tags group the operations, in the order the reference shows them.
var tags = []apidoc.TagInfo{
	{Name: "Events", Description: "Ingest usage events: API calls, activity, integration syncs and user observations."},
	{Name: "Logs", Description: "The API log, its facets and its summaries, filtered."},
	{Name: "Exports", Description: "Every report of the catalogue, streamed as a download."},
	{Name: "Export jobs", Description: "Reports run in the background, with progress and a signed link; and their schedules."},
	{Name: "Usage export API", Description: "The activity exports and Usage Reports.zip, and the signed downloads of stored files."},
	{Name: "Gateway", Description: "The recording gateway's collections and clients."},
	{Name: "Alerts", Description: "Rules that watch the summaries and notify by webhook and email, with their state and history."},
	{Name: "Administration", Description: "Keys, workspace settings, classification rules and the audit log."},
	{Name: "Service", Description: "Health, readiness, build, metrics and this description."},
}

// eventSchema is the schema of one kind of event, from the decoder's own
// fields.
func eventSchema(k usage.Kind) map[string]any {
	props := map[string]any{}
	var required []string
	for _, f := range ingest.Fields(k) {
		p := map[string]any{"type": f.Type}
		if f.Time {
			p["format"] = "date-time"
		}
		if len(f.Enum) > 0 {
			p["enum"] = f.Enum
		}
		props[f.Name] = p
		if f.Required {
			required = append(required, f.Name)
		}
	}
	return map[string]any{"type": "object", "properties": props, "required": required}
}

// handleOpenAPI serves the description.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.description)
}
