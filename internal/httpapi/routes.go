package httpapi

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/usagelog/usagelog/internal/alerts"
	"github.com/usagelog/usagelog/internal/apidoc"
	"github.com/usagelog/usagelog/internal/buildinfo"
	"github.com/usagelog/usagelog/internal/erasure"
	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/gateway"
	"github.com/usagelog/usagelog/internal/jobs"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// route is one entry of the API's table: what serves it and how the API
// description gives it. The mux and the description are both made from
// the table, so they cannot drift apart.
type route struct {
	pattern string
	// An API route: a key with scope (anyScope: the handler checks the
	// report's), rate-limited in group.
	scope usage.Scope
	group group
	api   apiHandler
	// statusErrors: its errors, the key's and the rate limit's too, are
	// google.rpc.Status messages (OTLP's exporters read no other), not
	// the error envelope.
	statusErrors bool
	// Or a route that answers without a key, or checks one itself.
	plain http.HandlerFunc
	doc   opDoc
}

// opDoc is an operation's description, built up by the methods below.
type opDoc apidoc.Operation

func (d opDoc) tag(t string) opDoc { d.Tag = t; return d }

func (d opDoc) params(ps ...apidoc.Param) opDoc {
	d.Params = append(slices.Clone(d.Params), ps...)
	return d
}

func (d opDoc) body(b apidoc.Body) opDoc { d.Body = &b; return d }

// auth marks a route that checks its key itself.
func (d opDoc) auth(scope usage.Scope) opDoc { d.Auth, d.Scope = true, string(scope); return d }

// reportScope is what x-usagelog-scope says of routes whose scope is that
// of the report they run.
const reportScope = "REPORT"

// table is every route the API serves, but the console's.
func (s *Server) table() []route {
	rs := []route{
		{pattern: "GET /healthz", plain: s.handleHealthz, doc: op("health", "Liveness", "Answers while the process runs.",
			ok(health{})).tag("Service")},
		{pattern: "GET /readyz", plain: s.handleReadyz, doc: op("ready", "Readiness", "Whether both stores answer; 503 when one does not.",
			ok(readiness{}), apidoc.Response{Status: 503, Description: "A store did not answer.", Content: jsonOf(readiness{})}).tag("Service")},
		{pattern: "GET /version", plain: s.handleVersion, doc: op("version", "The running build", "Version, commit, build date and Go version.",
			ok(buildinfo.Info{})).tag("Service")},
		{pattern: "GET /api/v1/openapi.json", plain: s.handleOpenAPI, doc: op("openapi", "This description", "The OpenAPI 3.1 description of the API.",
			apidoc.Response{Status: 200, Description: "The document.", Content: []apidoc.Content{{Media: "application/json", Schema: map[string]any{"type": "object"}}}}).tag("Service")},

		{pattern: "POST /api/v1/events", scope: usage.ScopeEventsWrite, group: groupIngest, api: s.handleIngest,
			doc: op("ingestEvents", "Ingest events", "One event per NDJSON line, a JSON array (or one object), or CSV with a header row. "+
				"Valid events are stored even when others are rejected; a re-sent id counts as a duplicate. "+
				"The body may be gzip or zstd (Content-Encoding). No valid event is a 400; a body over the server's limit a 413 (gateway code 4131); "+
				"a store out of reach for now (a ClickHouse cluster's shard, or its ZooKeeper) a 503 with Retry-After.",
				ok(IngestResult{})).body(apidoc.Body{Required: true, Content: []apidoc.Content{
				// NDJSON is a stream of lines, not a JSON document: a
				// generated client sends it as the bytes it is given.
				{Media: "application/x-ndjson", Schema: ndjsonOf("an Event (#/components/schemas/Event)")},
				{Media: "application/json", Schema: map[string]any{"oneOf": []any{ref("Event"), map[string]any{"type": "array", "items": ref("Event")}}}},
				{Media: "text/csv"},
			}}).tag("Events")},
		{pattern: "POST /v1/traces", scope: usage.ScopeEventsWrite, group: groupIngest, api: s.handleTraces, statusErrors: true,
			doc: op("ingestTraces", "Record OpenTelemetry spans (OTLP/HTTP)",
				"An OTLP ExportTraceServiceRequest, protobuf (application/x-protobuf) or the OTLP JSON encoding (application/json), plain, gzip or zstd: "+
					"point an OpenTelemetry SDK's or Collector's OTLP/HTTP trace exporter here. Each SERVER span with HTTP attributes is stored as an api_request "+
					"(the README's table gives the attributes each field is read from; service.name is the collection, created as a proxy collection when new; "+
					"the event id is otel-TRACEID-SPANID, so an exporter's retry is a duplicate). Every other span is counted in partialSuccess.rejectedSpans, "+
					"the first one's reason in errorMessage. The answer, and every error (a google.rpc.Status, as OTLP asks), come in the request's encoding; 429 and 503 carry Retry-After.",
				apidoc.Response{Status: 200, Description: "The spans were taken (those rejected are counted).", Content: []apidoc.Content{
					{Media: "application/x-protobuf", Schema: map[string]any{"type": "string", "format": "binary", "description": "opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse"}},
					{Media: "application/json", Type: otlpResponse{}},
				}},
			).body(apidoc.Body{Required: true, Content: []apidoc.Content{
				{Media: "application/x-protobuf", Schema: map[string]any{"type": "string", "format": "binary", "description": "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest"}},
				{Media: "application/json", Schema: map[string]any{"type": "object", "description": "ExportTraceServiceRequest in the OTLP JSON encoding (resourceSpans, …)"}},
			}}).tag("Events")},
		{pattern: "GET /api/v1/logs", scope: usage.ScopeLogsRead, group: groupReads, api: s.handleLogs,
			doc: op("listLogs", "The API log", "API calls, newest first, a page at a time. usagelog's own calls only when collection=usagelog API is asked for.",
				ok(logsPage{})).params(logFilters...).params(limit(1000, 100), cursor).tag("Logs")},
		{pattern: "GET /api/v1/logs.csv", scope: usage.ScopeLogsRead, group: groupExports, api: s.handleLogsCSV,
			doc: op("logsCSV", "The API logs CSV", "The API log as CSV, streamed; more rows than the row limit is a 422.",
				file("text/csv")).params(logFilters...).tag("Logs")},
		{pattern: "GET /api/v1/logs/facets", scope: usage.ScopeLogsRead, group: groupReads, api: s.handleFacets,
			doc: op("logFacets", "What the log filters can pick", "Statuses with their text, clients, collections and communities over a period, most calls first, from the summaries.",
				ok(summary.Facets{})).params(windowed(logFilters, "1h", "24h", "7d", "30d", "90d")...).tag("Logs")},
		{pattern: "GET /api/v1/summary", scope: usage.ScopeLogsRead, group: groupReads, api: s.handleSummary,
			doc: op("summary", "The overview's numbers", "Calls, errors, p95 timing, MCP and other calls, the series and the top clients of a period, from the summaries; exact in every zone.",
				ok(summary.Answer{})).params(windowed(logFilters, "24h", "7d", "30d", "90d")...).tag("Logs")},
	}
	// Every report of the catalogue, synchronously; the exact paths win
	// over {id}.
	for _, rep := range export.Catalogue {
		rs = append(rs, route{pattern: "GET /api/v1/exports/" + rep.Name, scope: rep.Scope, group: groupExports, api: s.handleReportExport,
			doc: op("export"+camel(rep.Name), rep.Title, rep.About+" Streamed as a download; more rows than the row limit is a 422.",
				download(rep)).params(reportParams(rep)...).tag("Exports")})
	}
	rs = append(rs, []route{
		{pattern: "POST /api/v1/exports", scope: anyScope, group: groupExports, api: s.handleCreateJob,
			doc: op("createExportJob", "Start an export job", "Runs a report of the catalogue in the background; needs the report's scope.",
				apidoc.Response{Status: 202, Description: "The job, queued.", Content: jsonOf(jobs.View{}), Headers: []string{"Location"}}).
				body(jsonBody(usage.ExportSpec{})).tag("Export jobs")},
		{pattern: "GET /api/v1/exports", scope: anyScope, group: groupReads, api: s.handleJobs,
			doc: op("listExportJobs", "Export jobs", "The workspace's jobs whose reports the key may run, newest first.",
				ok(list[jobs.View]{})).params(limit(1000, 100)).tag("Export jobs")},
		{pattern: "GET /api/v1/exports/{id}", scope: anyScope, group: groupReads, api: s.handleExportsItem,
			doc: op("getExportJob", "An export job", "Its status, progress and, once it succeeded, a signed download link.",
				ok(jobs.View{})).params(pathID).tag("Export jobs")},
		{pattern: "DELETE /api/v1/exports/{id}", scope: anyScope, group: groupExports, api: s.handleCancelJob,
			doc: op("cancelExportJob", "Cancel an export job", "Cancels a queued or running job and removes its partial file; a finished job is a 409.",
				ok(jobs.View{})).params(pathID).tag("Export jobs")},
		{pattern: "POST /api/v1/schedules", scope: anyScope, group: groupAdmin, api: s.handleCreateSchedule,
			doc: op("createSchedule", "Schedule an export", "A report run every day, week or month; the webhook secret is shown this once.",
				apidoc.Response{Status: 201, Description: "The schedule.", Content: jsonOf(scheduleJSON{})}).
				body(jsonBody(ScheduleRequest{})).tag("Export jobs")},
		{pattern: "GET /api/v1/schedules", scope: anyScope, group: groupReads, api: s.handleSchedules,
			doc: op("listSchedules", "Scheduled exports", "The workspace's schedules whose reports the key may run.",
				ok(list[usage.Schedule]{})).tag("Export jobs")},
		{pattern: "GET /api/v1/schedules/{id}", scope: anyScope, group: groupReads, api: s.handleSchedule,
			doc: op("getSchedule", "A scheduled export", "Its report, filters, cadence, webhook and next run; never the webhook's secret.", ok(usage.Schedule{})).params(pathID).tag("Export jobs")},
		{pattern: "DELETE /api/v1/schedules/{id}", scope: anyScope, group: groupAdmin, api: s.handleDeleteSchedule,
			doc: op("deleteSchedule", "Delete a scheduled export", "Its jobs and files stay.", noContent).params(pathID).tag("Export jobs")},

		{pattern: "GET /export/usage-reports", plain: s.handleUsageReports,
			doc: op("usageReports", "Usage Reports.zip", "Two workbooks for licensing, the last 6 months and the last year; for SERVER_MANAGEMENT_READ or an admin's console session.",
				file("application/zip")).auth(usage.ScopeServerMgmtRead).tag("Usage export API")},
		{pattern: "POST /export/{dataType}", scope: usage.ScopeUsageExportAPI, group: groupExports, api: s.handleUsageExport,
			doc: op("usageExport", "Usage export", "Aggregates the workspace's activity of a data type over a range, stores the file and answers where to download it.",
				ok(usageExportAnswer{})).params(
				apidoc.Param{Name: "dataType", In: "path", Enum: slices.Sorted(maps.Keys(export.UsageExports)), Description: "What to export."},
				apidoc.Param{Name: "format", Enum: formatNames(export.Formats), Description: "The file's format; CSV by default."},
			).body(jsonBody(export.UsageRequest{})).tag("Usage export API")},
		{pattern: "GET /files/{path...}", plain: s.handleFile,
			doc: op("downloadFile", "Download a stored export", "A signed link of an export job or the usage export API; a tampered link is a 403, an expired one a 410. Range requests work. "+
				"The path holds slashes: use the link as it is given.",
				storedFile(200, "The file."), storedFile(206, "The range asked for.")).
				params(apidoc.Param{Name: "path", In: "path", Description: "The file's path, as the link gives it."},
					apidoc.Param{Name: "expires", Required: true, Type: "integer", Description: "When the link expires (Unix seconds)."},
					apidoc.Param{Name: "signature", Required: true, Description: "The link's signature."},
					apidoc.Param{Name: "Range", In: "header", Description: "One byte range (bytes=FROM-TO, bytes=FROM- or bytes=-LAST) for a 206 of that part."}).tag("Usage export API")},

		{pattern: "GET /api/v1/keys", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handleKeys,
			doc: op("listKeys", "API keys", "The workspace's keys, never their tokens.", ok(list[keyJSON]{})).tag("Administration")},
		{pattern: "POST /api/v1/keys", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handleCreateKey,
			doc: op("createKey", "Create an API key", "The token is in this answer only.",
				apidoc.Response{Status: 201, Description: "The key and its token.", Content: jsonOf(createdKey{})}).
				body(jsonBody(keyRequest{})).tag("Administration")},
		{pattern: "DELETE /api/v1/keys/{id}", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handleRevokeKey,
			doc: op("revokeKey", "Revoke an API key", "Its token stops working at once; the key stays listed, revoked.", noContent).params(pathID).tag("Administration")},
		{pattern: "GET /api/v1/collections", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handleCollections,
			doc: op("listCollections", "Gateway API collections", "The collections the recording gateway records calls under: each one's type, declared endpoints and whether it is active.", ok(list[gateway.CollectionJSON]{})).tag("Gateway")},
		{pattern: "POST /api/v1/collections", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handleCreateCollection,
			doc: op("createCollection", "Create an API collection", "A collection the recording gateway records calls under, with its type and declared endpoints; a name taken is a 409.",
				apidoc.Response{Status: 201, Description: "The collection.", Content: jsonOf(gateway.CollectionJSON{})}).
				body(jsonBody(collectionBody{})).tag("Gateway")},
		{pattern: "GET /api/v1/collections/{name}", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handleCollection,
			doc: op("getCollection", "An API collection", "One collection by its name.", ok(gateway.CollectionJSON{})).params(pathName).tag("Gateway")},
		{pattern: "PATCH /api/v1/collections/{name}", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handlePatchCollection,
			doc: op("patchCollection", "Change an API collection", "Changes the fields the body carries, not the name.",
				ok(gateway.CollectionJSON{})).params(pathName).body(jsonBody(collectionBody{})).tag("Gateway")},
		{pattern: "GET /api/v1/clients", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handleClients,
			doc: op("listClients", "Gateway clients", "The clients that may call the gateway's collections; never their tokens.", ok(list[gateway.ClientJSON]{})).
				params(apidoc.Param{Name: "collection", Description: "Only the clients of this collection."}).tag("Gateway")},
		{pattern: "POST /api/v1/clients", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handleCreateClient,
			doc: op("createClient", "Create a gateway client", "The token is in this answer only.",
				apidoc.Response{Status: 201, Description: "The client and its token.", Content: jsonOf(createdClient{})}).
				body(jsonBody(clientRequest{})).tag("Gateway")},
		{pattern: "DELETE /api/v1/clients/{id}", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handleRevokeClient,
			doc: op("revokeClient", "Revoke a gateway client", "Its token stops working at the gateway at once.", noContent).params(pathID).tag("Gateway")},
		{pattern: "GET /api/v1/gateway/directory", scope: usage.ScopeEventsWrite, group: groupReads, api: s.handleGatewayDirectory,
			doc: op("gatewayDirectory", "A gateway's directory", "What a remote gateway checks its callers against: the collection and its clients' token hashes.",
				ok(gateway.DirectoryJSON{})).params(apidoc.Param{Name: "collection", Required: true, Description: "The gateway's collection."}).tag("Gateway")},
		{pattern: "GET /api/v1/workspace/settings", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handleSettings,
			doc: op("getSettings", "Workspace settings", "Privacy, timezone, export row limit and retention.", ok(settingsJSON{})).tag("Administration")},
		{pattern: "PATCH /api/v1/workspace/settings", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handlePatchSettings,
			doc: op("patchSettings", "Change workspace settings", "Changes only the fields the body carries.",
				ok(settingsJSON{})).body(jsonBody(SettingsPatch{})).tag("Administration")},
		{pattern: "GET /api/v1/audit", scope: usage.ScopeWorkspaceAdmin, group: groupReads, api: s.handleAudit,
			doc: op("audit", "The audit log", "Who did what, newest first.", ok(auditPage{})).params(
				apidoc.Param{Name: "action", Enum: usage.AuditActions},
				apidoc.Param{Name: "from", Description: "RFC 3339 time or YYYY-MM-DD (UTC)."},
				apidoc.Param{Name: "to", Description: "RFC 3339 time or YYYY-MM-DD (UTC, the whole day)."},
				limit(1000, 100), cursor).tag("Administration")},
		{pattern: "POST /api/v1/alerts", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handleCreateAlert,
			doc: op("createAlert", "Create an alert rule", "A metric of the summaries over a window, a threshold and whom to tell; at most 100 a workspace. The webhook's secret is shown this once.",
				apidoc.Response{Status: 201, Description: "The rule.", Content: jsonOf(alertJSON{}), Headers: []string{"Location"}}).
				body(jsonBody(alerts.Input{})).tag("Alerts")},
		{pattern: "GET /api/v1/alerts", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handleAlerts,
			doc: op("listAlerts", "Alert rules", "The workspace's rules by name, each with its state and latest measurement.", ok(list[alertJSON]{})).tag("Alerts")},
		{pattern: "GET /api/v1/alerts/{id}", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handleAlert,
			doc: op("getAlert", "An alert rule", "Its definition, state and latest measurement; never its webhook's secret.", ok(alertJSON{})).params(pathID).tag("Alerts")},
		{pattern: "PUT /api/v1/alerts/{id}", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handlePutAlert,
			doc: op("putAlert", "Replace an alert rule", "Its definition replaced; its state, history and webhook secret kept. It is measured again at once.",
				ok(alertJSON{})).params(pathID).body(jsonBody(alerts.Input{})).tag("Alerts")},
		{pattern: "DELETE /api/v1/alerts/{id}", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handleDeleteAlert,
			doc: op("deleteAlert", "Delete an alert rule", "The rule and its history.", noContent).params(pathID).tag("Alerts")},
		{pattern: "GET /api/v1/alerts/{id}/events", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handleAlertEvents,
			doc: op("listAlertEvents", "An alert rule's history", "Every change of its state and every notification, with the value measured, newest first.",
				ok(list[alertEventJSON]{})).params(pathID, limit(1000, 100)).tag("Alerts")},
		{pattern: "POST /api/v1/erasures", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handleCreateErasure,
			doc: op("createErasure", "Erase a person", "Deletes every event of the workspace that names the person (API calls by member_id or ip, activity by user_id or user_email, user observations by user_email) on the event store, corrects the summaries, keeps the erased events' ids so that a retry is refused as a duplicate, and lists the export files written before that may hold the person (deleting them with delete_files). Runs in the background: GET its Location for progress and then the receipt. The audit log records erasure.create and erasure.done with a keyed hash of the value, never the value.",
				apidoc.Response{Status: 202, Description: "The erasure, queued.", Content: jsonOf(erasureJSON{}), Headers: []string{"Location"}}).
				body(jsonBody(erasure.Input{})).tag("Administration")},
		{pattern: "GET /api/v1/erasures", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handleErasures,
			doc: op("listErasures", "Erasures", "The workspace's erasures, newest first, each with its progress or receipt.", ok(list[erasureJSON]{})).params(limit(1000, 100)).tag("Administration")},
		{pattern: "GET /api/v1/erasures/{id}", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handleErasure,
			doc: op("getErasure", "An erasure", "Its progress, then its receipt: how many events of each kind it removed and which export files may have held the person.", ok(erasureJSON{})).params(pathID).tag("Administration")},
		{pattern: "GET /api/v1/workspace/classification", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handleClassification,
			doc: op("getClassification", "Classification rules", "The rules that name a call's system and usage type; the defaults until a PUT replaces them.",
				ok(classificationJSON{})).tag("Administration")},
		{pattern: "PUT /api/v1/workspace/classification", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handlePutClassification,
			doc: op("putClassification", "Replace the classification rules", "At most 200 rules; {\"rules\":null} goes back to the defaults. Applies to the calls stored after it at once, and to those stored before it by a reclassification in the background, whose progress GET shows.",
				ok(classificationJSON{})).body(jsonBody(classificationRequest{})).tag("Administration")},
		{pattern: "GET /api/v1/workspace/redaction", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handleRedaction,
			doc: op("getRedaction", "Redaction rules", "What capture removes from the workspace's events before any store sees them: the values of query parameters by name, path segments and query values by pattern (in URLs, status details and user agents), and how much of the caller's address is kept. The defaults until a PUT replaces them.",
				ok(redactionJSON{})).tag("Administration")},
		{pattern: "PUT /api/v1/workspace/redaction", scope: usage.ScopeWorkspaceAdmin, group: groupAdmin, api: s.handlePutRedaction,
			doc: op("putRedaction", "Replace the redaction rules", "A field left out takes its default; {} goes back to the defaults. Applies to the events captured after it on every capture path (ingest, OTLP, the gateway, self-logging, `usagelog ingest`); stored events keep what they hold.",
				ok(redactionJSON{})).body(jsonBody(redactionRequest{})).tag("Administration")},
	}...)
	if s.metrics != nil {
		rs = append(rs, route{pattern: "GET /metrics", plain: s.metrics.Handler().ServeHTTP,
			doc: op("metrics", "Prometheus metrics", "Requests, ingest and exports, in Prometheus' text format.", file("text/plain")).tag("Service")})
	}
	for i := range rs {
		r := &rs[i]
		r.doc.Method, r.doc.Path, _ = strings.Cut(r.pattern, " ")
		r.doc.Path = strings.ReplaceAll(r.doc.Path, "...}", "}")
		if r.api != nil {
			r.doc.Auth, r.doc.Scope = true, string(r.scope)
			if r.scope == anyScope {
				r.doc.Scope = reportScope
			}
		}
		var body any = errorBody{}
		if r.statusErrors {
			body = otlpStatus{}
		}
		for _, st := range r.errorStatuses() {
			r.doc.Responses = append(r.doc.Responses, apidoc.Response{Status: st, Description: errorText[st], Content: jsonOf(body)})
		}
		r.doc.Responses = append(r.doc.Responses, apidoc.Response{Description: "Any other error (a 500 says no more than that): its code and a message.", Content: jsonOf(body)})
	}
	return rs
}

// errorText describes each error status an operation declares.
var errorText = map[int]string{
	400: "The request is malformed: the message names the parameter or field and what is wrong with it.",
	401: "No API key, or one that is unknown or revoked.",
	403: "The key lacks the scope the operation needs, or the link's signature does not match.",
	404: "Nothing of that id or name in the key's workspace.",
	409: "The request conflicts with what is stored: a name taken, or a job already finished.",
	410: "The link expired.",
	413: "The body is over the server's limit: the message says what was stored before it.",
	416: "The range asked for is outside the file.",
	422: "Valid, but over a limit: more rows than the workspace's row limit, or a range longer than the server allows.",
	415: "The Content-Type is not one the operation takes.",
	429: "Over the key's rate limit for this kind of call: Retry-After says when to try again.",
	503: "The store did not take the data for now: send it again after Retry-After (what was stored already counts as duplicates).",
}

// errorStatuses are the error answers the route gives besides a 500:
// those of its key, its rate limit, its parameters, body and path, and
// the ones its handler adds (conflicts, limits, signed links).
func (r route) errorStatuses() []int {
	var out []int
	hasPath := false
	for _, p := range r.doc.Params {
		hasPath = hasPath || p.In == "path"
	}
	if len(r.doc.Params) > 0 || r.doc.Body != nil || r.api != nil {
		out = append(out, 400)
	}
	if r.api != nil || r.doc.Auth {
		out = append(out, 401, 403)
	}
	if hasPath {
		out = append(out, 404)
	}
	switch r.doc.ID {
	case "cancelExportJob", "createCollection":
		out = append(out, 409)
	case "downloadFile":
		out = append(out, 403, 404, 410, 416)
	case "logsCSV", "usageExport", "createExportJob":
		out = append(out, 422)
	case "ingestTraces":
		out = append(out, 415, 503)
	case "ingestEvents":
		out = append(out, 503)
	}
	if strings.HasPrefix(r.doc.ID, "export") {
		out = append(out, 422)
	}
	if r.doc.Body != nil {
		out = append(out, 413)
	}
	if r.api != nil {
		out = append(out, 429)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// routes registers the table, and answers every other path with the
// gateway's not-found (or 405 where another method is served).
func (s *Server) routes(table []route) {
	for _, r := range table {
		if r.api != nil {
			s.api(r)
		} else {
			s.registered = append(s.registered, r.pattern)
			s.mux.HandleFunc(r.pattern, r.plain)
		}
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		info(r).api = true
		if allow := s.allowed(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.writeError(w, r, usage.Errorf(usage.EMethodNotAllowed, "%s %s: this endpoint takes %s", r.Method, r.URL.Path, strings.Join(allow, ", ")))
			return
		}
		s.writeError(w, r, usage.Refusal(usage.GatewayEndpointNotFound, ""))
	})
}

// op starts an operation's description.
func op(id, summary, description string, responses ...apidoc.Response) opDoc {
	return opDoc{ID: id, Summary: summary, Description: description, Responses: responses}
}

func ok(v any) apidoc.Response {
	return apidoc.Response{Status: 200, Description: "OK.", Content: jsonOf(v)}
}

func jsonOf(v any) []apidoc.Content { return []apidoc.Content{{Media: "application/json", Type: v}} }

func jsonBody(v any) apidoc.Body {
	return apidoc.Body{Required: true, Content: jsonOf(v)}
}

// file is a download in one of media.
func file(media ...string) apidoc.Response {
	r := apidoc.Response{Status: 200, Description: "The file, streamed.", Headers: []string{"Content-Disposition"}}
	for _, m := range media {
		r.Content = append(r.Content, apidoc.Content{Media: m})
	}
	return r
}

// storedFile is a stored export of any format.
func storedFile(status int, description string) apidoc.Response {
	r := apidoc.Response{Status: status, Description: description, Headers: []string{"Content-Disposition"}}
	for _, f := range append(slices.Clone(export.Formats), "zip") {
		c := apidoc.Content{Media: f.ContentType()}
		switch f {
		case export.JSONFormat:
			c.Schema = map[string]any{"type": "array", "items": map[string]any{"type": "object", "description": "A row: the report's fields by key, as its GET /api/v1/exports/{report} describes them."}}
		case export.NDJSONFormat:
			c.Schema = ndjsonOf("a row of the report, as its GET /api/v1/exports/{report} describes it")
		}
		r.Content = append(r.Content, c)
	}
	return r
}

// ndjsonOf describes an NDJSON body: bytes, one JSON object a line.
func ndjsonOf(line string) map[string]any {
	return map[string]any{"type": "string", "format": "binary", "contentMediaType": "application/x-ndjson",
		"description": "NDJSON: one JSON object a line, each " + line + "."}
}

var noContent = apidoc.Response{Status: 204, Description: "Done."}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

var (
	pathID   = apidoc.Param{Name: "id", In: "path"}
	pathName = apidoc.Param{Name: "name", In: "path"}
	cursor   = apidoc.Param{Name: "cursor", Description: "The next_cursor of the page before."}
)

func limit(most, def int) apidoc.Param {
	return apidoc.Param{Name: "limit", Type: "integer", Minimum: 1, Maximum: most, Description: "Items on a page: 1 to " + strconv.Itoa(most) + ", " + strconv.Itoa(def) + " unless given."}
}

// logFilters are the filters of the API log, its CSV, summary and facets.
var logFilters = params(usage.FilterParams)

// params are the domain's query parameters as the API description's.
func params(ps []usage.Param) []apidoc.Param {
	out := make([]apidoc.Param, len(ps))
	for i, p := range ps {
		out[i] = apidoc.Param{Name: p.Name, Description: p.Description, Enum: p.Enum, Repeat: p.Repeat, Required: p.Required}
	}
	return out
}

// windowed are filters for an answer that needs a window: period (one
// of periods) or from, the one or the other required (OpenAPI cannot say
// "one of two", so both descriptions do; the server answers 400 naming
// them when neither is given).
func windowed(filters []apidoc.Param, periods ...string) []apidoc.Param {
	out := slices.Clone(filters)
	for i, p := range out {
		switch p.Name {
		case "period":
			out[i].Enum = periods
			out[i].Description = "The period up to now. Give period or from: one of the two is required; period is not taken with from or to."
		case "from":
			out[i].Description = "RFC 3339 time, or YYYY-MM-DD: the day's start in tz. Give period or from: one of the two is required."
		}
	}
	return out
}

// reportParams are what GET /api/v1/exports/{report} takes in its query.
func reportParams(rep export.Report) []apidoc.Param {
	format := apidoc.Param{Name: "format", Enum: formatNames(rep.Formats), Description: "The file's format; " + string(rep.Formats[0]) + " unless given."}
	return append(params(rep.Params), format)
}

// download is a report's file in each of its formats; JSON is the array
// of rows whose keys are the report's fields, NDJSON those rows a line.
func download(rep export.Report) apidoc.Response {
	r := file()
	row := map[string]any{"type": "object", "additionalProperties": false}
	props := map[string]any{}
	var keys []string
	for _, f := range rep.Fields {
		t := "string"
		if f.Kind == export.Number {
			t = "number"
		}
		props[f.Key()] = map[string]any{"type": []string{t, "null"}, "description": f.Header}
		keys = append(keys, f.Key())
	}
	row["properties"], row["required"] = props, keys
	for _, f := range rep.Formats {
		c := apidoc.Content{Media: f.ContentType()}
		switch f {
		case export.JSONFormat:
			c.Schema = map[string]any{"type": "array", "items": row}
		case export.NDJSONFormat:
			c.Schema = ndjsonOf("a row with the keys of the JSON format's rows")
		}
		r.Content = append(r.Content, c)
	}
	return r
}

func formatNames(fs []export.Format) []string {
	var out []string
	for _, f := range fs {
		out = append(out, string(f))
	}
	return out
}

// camel turns api-usage into ApiUsage, for operation ids.
func camel(s string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(s, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}
