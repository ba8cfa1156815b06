package httpapi_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/content"

	"github.com/usagelog/usagelog/internal/audit"
	"github.com/usagelog/usagelog/internal/httpapi"
	"github.com/usagelog/usagelog/internal/jobs"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

var updateExamples = flag.Bool("update-examples", false, "record the corpus's answers as the description's examples")

// call is one request of the corpus.
type call struct {
	method, path, token, media string
	body                       string
	want                       int
}

// apiValidator checks requests and answers against the server's own
// description, with libopenapi-validator (OpenAPI 3.1, JSON Schema 2020-12).
type apiValidator struct {
	t *testing.T
	v validator.Validator
	// ops are the described operations ("GET /api/v1/exports/{id}") and
	// the statuses the corpus saw of each.
	ops  map[string][]int
	tmpl []opTemplate
	// ids are the operation ids by operation; examples are the
	// description's (checked as each operation answers) or, with
	// -update-examples, the answers recorded for it.
	ids      map[string]string
	examples map[string]map[string]json.RawMessage
}

type opTemplate struct {
	method string
	re     *regexp.Regexp
	key    string
	exact  bool
}

func newAPIValidator(t *testing.T, doc []byte) *apiValidator {
	t.Helper()
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		t.Fatal(err)
	}
	// NDJSON bodies are described as bytes (a string): each line must be
	// a JSON object; what a line holds is checked by the JSON format of
	// the same body or answer.
	ndjson := content.DecoderFunc(func(in *content.DecodeInput) (any, error) {
		raw, err := io.ReadAll(in.Body)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		for {
			var v map[string]any
			if err := dec.Decode(&v); err == io.EOF {
				return string(raw), nil
			} else if err != nil {
				return nil, fmt.Errorf("a line is not a JSON object: %w", err)
			}
		}
	})
	v, errs := validator.NewValidator(d, config.WithBodyDecoder("application/x-ndjson", ndjson))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("the description is not valid OpenAPI 3.1: %s", e.Error())
		}
		t.FailNow()
	}
	var parsed struct {
		Paths map[string]map[string]struct {
			ID string `json:"operationId"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(doc, &parsed); err != nil {
		t.Fatal(err)
	}
	av := &apiValidator{t: t, v: v, ops: map[string][]int{}, ids: map[string]string{}, examples: map[string]map[string]json.RawMessage{}}
	if !*updateExamples {
		raw, err := os.ReadFile("openapi_examples.json")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &av.examples); err != nil {
			t.Fatal(err)
		}
	}
	for path, ops := range parsed.Paths {
		for m, o := range ops {
			key := strings.ToUpper(m) + " " + path
			av.ops[key] = nil
			av.ids[key] = o.ID
			re := regexp.MustCompile("^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(path), `[^/?]+`) + "$")
			av.tmpl = append(av.tmpl, opTemplate{method: strings.ToUpper(m), re: re, key: key, exact: !strings.Contains(path, "{")})
		}
	}
	// Exact paths win over templates, as in the mux.
	slices.SortFunc(av.tmpl, func(a, b opTemplate) int {
		if a.exact != b.exact {
			if a.exact {
				return -1
			}
			return 1
		}
		return strings.Compare(a.key, b.key)
	})
	return av
}

// do sends c to the server at base, checks its status, validates the
// request and the answer, and returns the answer's body.
func (av *apiValidator) do(base string, c call) []byte {
	av.t.Helper()
	req, err := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
	if err != nil {
		av.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.media != "" {
		req.Header.Set("Content-Type", c.media)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		av.t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		av.t.Fatal(err)
	}
	if resp.StatusCode != c.want {
		av.t.Fatalf("%s %s: %d, want %d: %s", c.method, c.path, resp.StatusCode, c.want, body)
	}
	// The validator reads both bodies again.
	// A file's path holds slashes, which OpenAPI's one path parameter
	// cannot: its operation is found by the path's escaped form.
	vpath := c.path
	if rest, ok := strings.CutPrefix(vpath, "/files/"); ok {
		p, q, _ := strings.Cut(rest, "?")
		vpath = "/files/" + strings.ReplaceAll(p, "/", "%2F") + "?" + q
	}
	vreq, _ := http.NewRequest(c.method, base+vpath, strings.NewReader(c.body))
	vreq.Header = req.Header.Clone()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.Request = vreq
	// A request the server refuses may break the description on purpose
	// (an unknown enum value, no key): only its answer must follow it.
	validate := av.v.ValidateHttpRequestResponse
	if c.want >= 400 {
		validate = av.v.ValidateHttpResponse
	}
	if ok, errs := validate(vreq, resp); !ok {
		for _, e := range errs {
			msg := e.Error()
			for _, se := range e.SchemaValidationErrors {
				msg += "; " + se.FieldPath + ": " + se.Reason
			}
			av.t.Errorf("%s %s (%d): %s", c.method, c.path, resp.StatusCode, msg)
		}
	}
	path, _, _ := strings.Cut(vpath, "?")
	for _, tp := range av.tmpl {
		if tp.method == c.method && tp.re.MatchString(path) {
			av.ops[tp.key] = append(av.ops[tp.key], resp.StatusCode)
			av.example(tp.key, vreq, resp, body)
			break
		}
	}
	return body
}

// example records a JSON answer as its operation's example or checks the
// operation's recorded example against the description, as an answer to
// the same request.
func (av *apiValidator) example(op string, req *http.Request, resp *http.Response, body []byte) {
	av.t.Helper()
	if resp.Header.Get("Content-Type") != "application/json" || op == "GET /api/v1/openapi.json" {
		return
	}
	id, status := av.ids[op], strconv.Itoa(resp.StatusCode)
	if resp.StatusCode >= 400 {
		status = "default"
	}
	if *updateExamples {
		// The first answer, unless it listed nothing.
		if prev, ok := av.examples[id][status]; !ok || strings.Contains(string(prev), `"items":[]`) {
			if av.examples[id] == nil {
				av.examples[id] = map[string]json.RawMessage{}
			}
			av.examples[id][status] = shortened(av.t, body)
		}
		return
	}
	ex, ok := av.examples[id][status]
	if !ok {
		return
	}
	fake := &http.Response{StatusCode: resp.StatusCode, Header: resp.Header.Clone(), Request: req, Body: io.NopCloser(bytes.NewReader(ex))}
	if ok, errs := av.v.ValidateHttpResponse(req, fake); !ok {
		av.t.Errorf("the example of %s (%s) no longer fits the description: %v; record new ones with -update-examples", id, status, errs)
	}
}

// shortened keeps the first two items of every list of an answer.
func shortened(t *testing.T, body []byte) json.RawMessage {
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	var cut func(v any) any
	cut = func(v any) any {
		switch x := v.(type) {
		case []any:
			x = x[:min(len(x), 2)]
			for i := range x {
				x[i] = cut(x[i])
			}
			return x
		case map[string]any:
			for k := range x {
				x[k] = cut(x[k])
			}
		}
		return v
	}
	out, err := json.Marshal(cut(v))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOpenAPIValidation replays a corpus of real requests — every
// operation, its successes and its errors — against the running server and
// validates each request and answer against GET /api/v1/openapi.json.
func TestOpenAPIValidation(t *testing.T) {
	// Job exports pause 10 ms every 100 rows, so that one can be
	// cancelled while it runs.
	h := newJobHarness(t, 10*time.Millisecond, func(c *jobs.RunnerConfig) {
		log, err := audit.New(audit.Config{Store: c.Meta.(usage.AuditStore), FlushEvery: 5 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		c.Audit = log
	}, func(c *httpapi.Config) { c.RateLimits = httpapi.RateLimits{Exports: 1000} })
	doc := h.do("GET", "/api/v1/openapi.json", "", "", nil)
	if doc.status != 200 || doc.header.Get("Content-Type") != "application/json" {
		t.Fatalf("openapi.json: %d %s", doc.status, doc.header.Get("Content-Type"))
	}
	av := newAPIValidator(t, doc.body)
	admin := h.key(h.ws, usage.AllScopes...)
	reader := h.key(h.ws, usage.ScopeLogsRead)
	events := ndjson(t, storetest.Fixture(1000))
	now := time.Now().UTC()
	// One call and one span that is not (partialSuccess).
	otlpTraces := fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"Shop"}}]},"scopeSpans":[{"spans":[
		{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"GET /a","kind":2,"startTimeUnixNano":"%[1]d","endTimeUnixNano":"%[1]d",
		 "attributes":[{"key":"http.request.method","value":{"stringValue":"GET"}},{"key":"url.path","value":{"stringValue":"/a"}},{"key":"http.response.status_code","value":{"intValue":"200"}}]},
		{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060709","name":"query","kind":3,"startTimeUnixNano":"%[1]d","endTimeUnixNano":"%[1]d"}]}]}]}`,
		now.Add(-time.Hour).UnixNano())
	day := now.Format("2006-01-02")
	mixed := strings.Join([]string{
		`{"kind":"activity","id":"a1","time":"` + now.Add(-time.Hour).Format(time.RFC3339) + `","user_id":"u1","user_email":"u1@example.com","feature":"chat","model":"gpt"}`,
		`{"kind":"sync","id":"s1","time":"` + now.Add(-time.Hour).Format(time.RFC3339) + `","integration":"jira","system1":"Jira","outcome":"synced","entity_type":"issue","entity_id":"I-1"}`,
		`{"kind":"user_seen","id":"us1","time":"` + now.Add(-time.Hour).Format(time.RFC3339) + `","system":"Jira","email":"u1@example.com","interaction":"mention"}`,
		`{"kind":"api_request","id":"r1","time":"` + now.Add(-time.Hour).Format(time.RFC3339) + `","method":"GET","url":"/a/rest/v1/ideas","status":200,"client":"Cursor IDE"}`,
	}, "\n")
	corpus := []call{
		{method: "GET", path: "/healthz", want: 200},
		{method: "GET", path: "/readyz", want: 200},
		{method: "GET", path: "/version", want: 200},
		{method: "GET", path: "/metrics", want: 200},
		{method: "GET", path: "/api/v1/openapi.json", want: 200},

		{method: "POST", path: "/api/v1/events", token: admin, media: "application/x-ndjson", body: events, want: 200},
		{method: "POST", path: "/v1/traces", token: admin, media: "application/json", body: otlpTraces, want: 200},
		{method: "POST", path: "/v1/traces", token: admin, media: "text/plain", body: "spans", want: 415},
		{method: "POST", path: "/v1/traces", token: reader, media: "application/json", body: otlpTraces, want: 403},
		{method: "POST", path: "/api/v1/events", token: admin, media: "application/x-ndjson", body: mixed, want: 200},
		{method: "POST", path: "/api/v1/events", token: admin, media: "application/json", body: `[` + strings.ReplaceAll(mixed, "\n", ",") + `]`, want: 200},
		{method: "POST", path: "/api/v1/events", token: admin, media: "text/csv", body: "kind,id,time,status\napi_request,c1," + now.Format(time.RFC3339) + ",404\n", want: 200},
		{method: "POST", path: "/api/v1/events", token: admin, media: "application/x-ndjson", body: `{"kind":"nope"}`, want: 400},
		{method: "POST", path: "/api/v1/events", token: reader, media: "application/x-ndjson", body: events, want: 403},
		{method: "POST", path: "/api/v1/events", media: "application/x-ndjson", body: events, want: 401},

		{method: "GET", path: "/api/v1/logs?limit=5", token: reader, want: 200},
		{method: "GET", path: "/api/v1/logs?period=7d&status=200&status=404&client=Cursor+IDE&tz=Asia/Kathmandu", token: reader, want: 200},
		{method: "GET", path: "/api/v1/logs?period=2d", token: reader, want: 400},
		{method: "GET", path: "/api/v1/logs.csv?period=90d", token: reader, want: 200},
		{method: "GET", path: "/api/v1/logs.csv?format=xlsx", token: reader, want: 400},
		{method: "GET", path: "/api/v1/logs/facets?period=30d", token: reader, want: 200},
		{method: "GET", path: "/api/v1/logs/facets", token: reader, want: 400},
		{method: "GET", path: "/api/v1/summary?period=90d&tz=Asia/Kolkata", token: reader, want: 200},
		{method: "GET", path: "/api/v1/summary?period=90d&tz=Mars/Olympus", token: reader, want: 400},

		{method: "GET", path: "/api/v1/exports/api-logs?period=90d&format=json", token: reader, want: 200},
		{method: "GET", path: "/api/v1/exports/api-logs?period=90d&format=xlsx", token: reader, want: 200},
		{method: "GET", path: "/api/v1/exports/api-logs?format=pdf", token: reader, want: 400},
		{method: "GET", path: "/api/v1/exports/api-usage?type=mcp&format=ndjson", token: reader, want: 200},
		{method: "GET", path: "/api/v1/exports/api-usage?type=some", token: reader, want: 400},
		{method: "GET", path: "/api/v1/exports/usage-reports", token: admin, want: 200},
		{method: "GET", path: "/api/v1/exports/usage-reports?from=" + day, token: admin, want: 400},

		{method: "POST", path: "/export/users", token: admin, media: "application/json",
			body: `{"from":{"date":"` + day + `","timezone":"UTC"},"to":{"date":"` + day + `","timezone":"UTC"}}`, want: 200},
		{method: "POST", path: "/export/models?format=json", token: admin, media: "application/json",
			body: `{"from":{"date":"` + day + `","timezone":"Asia/Kathmandu"},"to":{"date":"` + day + `","timezone":"Asia/Kathmandu"}}`, want: 200},
		{method: "POST", path: "/export/users", token: admin, media: "application/json", body: `{"from":{"date":"yesterday"}}`, want: 400},
		{method: "POST", path: "/export/users", token: reader, media: "application/json", body: `{}`, want: 403},
		{method: "GET", path: "/export/usage-reports", token: admin, want: 200},
		{method: "GET", path: "/export/usage-reports", token: reader, want: 403},
		{method: "GET", path: "/files/1/nothing.csv?expires=1&signature=bad", want: 403},

		{method: "POST", path: "/api/v1/exports", token: reader, media: "application/json", body: `{"report":"api-logs","format":"csv","filters":{"period":"7d","status":["200","404"]}}`, want: 202},
		{method: "POST", path: "/api/v1/exports", token: reader, media: "application/json", body: `{"report":"users","filters":{"from":"` + day + `","to":"` + day + `"}}`, want: 403},
		{method: "POST", path: "/api/v1/exports", token: reader, media: "application/json", body: `{"report":"api-logs","format":"pdf"}`, want: 400},
		{method: "GET", path: "/api/v1/exports?limit=10", token: reader, want: 200},
		{method: "GET", path: "/api/v1/exports?limit=0", token: reader, want: 400},
		{method: "GET", path: "/api/v1/exports/exp_missing", token: reader, want: 404},
		{method: "DELETE", path: "/api/v1/exports/exp_missing", token: reader, want: 404},

		{method: "POST", path: "/api/v1/schedules", token: admin, media: "application/json",
			body: `{"name":"daily logs","report":"api-logs","format":"csv","range":"previous_day","cadence":{"every":"daily","at":"06:00","timezone":"UTC"}}`, want: 201},
		{method: "POST", path: "/api/v1/schedules", token: admin, media: "application/json", body: `{"name":"x","report":"api-logs","cadence":{"every":"hour"}}`, want: 400},
		{method: "GET", path: "/api/v1/schedules", token: admin, want: 200},
		{method: "GET", path: "/api/v1/schedules/sch_missing", token: admin, want: 404},
		{method: "DELETE", path: "/api/v1/schedules/sch_missing", token: admin, want: 404},

		{method: "GET", path: "/api/v1/keys", token: admin, want: 200},
		{method: "GET", path: "/api/v1/keys", token: reader, want: 403},
		{method: "POST", path: "/api/v1/keys", token: admin, media: "application/json", body: `{"name":"ci","scopes":["LOGS_READ"]}`, want: 201},
		{method: "POST", path: "/api/v1/keys", token: admin, media: "application/json", body: `{"name":"ci","scopes":["EVERYTHING"]}`, want: 400},
		{method: "DELETE", path: "/api/v1/keys/key_missing", token: admin, want: 404},

		{method: "POST", path: "/api/v1/collections", token: admin, media: "application/json",
			body: `{"name":"Ideas API","type":"proxy","community":"Support","endpoints":["GET /ideas/{id}"]}`, want: 201},
		{method: "POST", path: "/api/v1/collections", token: admin, media: "application/json", body: `{"name":"Bad","type":"tunnel"}`, want: 400},
		{method: "GET", path: "/api/v1/collections", token: admin, want: 200},
		{method: "GET", path: "/api/v1/collections/Ideas%20API", token: admin, want: 200},
		{method: "GET", path: "/api/v1/collections/Nothing", token: admin, want: 404},
		{method: "PATCH", path: "/api/v1/collections/Ideas%20API", token: admin, media: "application/json", body: `{"active":false}`, want: 200},
		{method: "PATCH", path: "/api/v1/collections/Ideas%20API", token: admin, media: "application/json", body: `{"colour":"red"}`, want: 400},
		{method: "POST", path: "/api/v1/clients", token: admin, media: "application/json", body: `{"name":"Cursor IDE","collection":"Ideas API"}`, want: 201},
		{method: "POST", path: "/api/v1/clients", token: admin, media: "application/json", body: `{"name":"Cursor IDE"}`, want: 400},
		{method: "GET", path: "/api/v1/clients?collection=Ideas+API", token: admin, want: 200},
		{method: "DELETE", path: "/api/v1/clients/cl_missing", token: admin, want: 404},
		{method: "GET", path: "/api/v1/gateway/directory?collection=Ideas+API", token: admin, want: 200},
		{method: "GET", path: "/api/v1/gateway/directory", token: admin, want: 400},

		{method: "GET", path: "/api/v1/workspace/settings", token: admin, want: 200},
		{method: "GET", path: "/api/v1/workspace/settings", token: reader, want: 403},
		{method: "GET", path: "/api/v1/workspace/classification", want: 401},
		{method: "GET", path: "/api/v1/schedules", want: 401},
		{method: "GET", path: "/api/v1/collections", token: reader, want: 403},
		{method: "GET", path: "/api/v1/clients", token: reader, want: 403},
		{method: "PATCH", path: "/api/v1/workspace/settings", token: admin, media: "application/json", body: `{"timezone":"Asia/Kathmandu","privacy":{"anonymize_ips":true}}`, want: 200},
		{method: "PATCH", path: "/api/v1/workspace/settings", token: admin, media: "application/json", body: `{"timezone":"Nowhere/Land"}`, want: 400},
		{method: "GET", path: "/api/v1/workspace/classification", token: admin, want: 200},
		{method: "PUT", path: "/api/v1/workspace/classification", token: admin, media: "application/json",
			body: `{"rules":[{"url_prefix":"/mcp","user_agent_prefix":"","system":"MCP","usage_type":"mcp"}]}`, want: 200},
		{method: "PUT", path: "/api/v1/workspace/classification", token: admin, media: "application/json", body: `{"rules":null}`, want: 200},
		{method: "PUT", path: "/api/v1/workspace/classification", token: admin, media: "application/json", body: `{"rules":[{"system":"X","usage_type":"robots"}]}`, want: 400},
		{method: "GET", path: "/api/v1/workspace/redaction", token: admin, want: 200},
		{method: "GET", path: "/api/v1/workspace/redaction", token: reader, want: 403},
		{method: "PUT", path: "/api/v1/workspace/redaction", token: admin, media: "application/json",
			body: `{"query_params":["token","sid"],"path_patterns":["^[0-9]{16}$"],"ip":"truncated"}`, want: 200},
		{method: "PUT", path: "/api/v1/workspace/redaction", token: admin, media: "application/json", body: `{}`, want: 200},
		{method: "PUT", path: "/api/v1/workspace/redaction", token: admin, media: "application/json", body: `{"path_patterns":["(unclosed"]}`, want: 400},
		{method: "GET", path: "/api/v1/audit?limit=5", token: admin, want: 200},
		{method: "GET", path: "/api/v1/audit?action=key.create&from=" + day, token: admin, want: 200},
		{method: "GET", path: "/api/v1/audit?action=everything", token: admin, want: 400},
	}
	for _, name := range []string{"users", "assistants", "workflows", "projects", "models", "api-keys"} {
		corpus = append(corpus,
			call{method: "GET", path: "/api/v1/exports/" + name + "?from=" + day + "&to=" + day + "&format=json&tz=Asia/Kathmandu", token: admin, want: 200},
			call{method: "GET", path: "/api/v1/exports/" + name + "?from=" + day + "&to=" + day + "&format=xlsx", token: admin, want: 200},
			call{method: "GET", path: "/api/v1/exports/" + name + "?from=" + day, token: admin, want: 400},
			call{method: "GET", path: "/api/v1/exports/" + name + "?from=" + day + "&to=" + day, token: reader, want: 403})
	}
	for _, c := range corpus {
		av.do(h.url, c)
	}

	// What needs an id the corpus above made: a job, its file, a
	// schedule, a key, a client.
	var j jobs.View
	json.Unmarshal(av.do(h.url, call{method: "POST", path: "/api/v1/exports", token: reader, media: "application/json", body: `{"report":"api-usage","format":"csv"}`, want: 202}), &j)
	j = h.wait(reader, j.ID, func(v jobs.View) bool { return v.Status.Final() })
	av.do(h.url, call{method: "GET", path: "/api/v1/exports/" + j.ID, token: reader, want: 200})
	av.do(h.url, call{method: "DELETE", path: "/api/v1/exports/" + j.ID, token: reader, want: 409})
	link := strings.TrimPrefix(j.DownloadURL, h.url)
	av.do(h.url, call{method: "GET", path: link, want: 200})
	var queued jobs.View
	json.Unmarshal(av.do(h.url, call{method: "POST", path: "/api/v1/exports", token: admin, media: "application/json", body: `{"report":"usage-reports"}`, want: 202}), &queued)
	if r := h.do("DELETE", "/api/v1/exports/"+queued.ID, admin, "", nil); r.status != 200 && r.status != 409 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	h.wait(admin, queued.ID, func(v jobs.View) bool { return v.Status.Final() })
	var running jobs.View
	json.Unmarshal(av.do(h.url, call{method: "POST", path: "/api/v1/exports", token: admin, media: "application/json", body: `{"report":"api-logs"}`, want: 202}), &running)
	if v := h.job(admin, running.ID); !v.Status.Final() {
		av.do(h.url, call{method: "DELETE", path: "/api/v1/exports/" + running.ID, token: admin, want: 200})
	}

	var sc struct{ ID string }
	json.Unmarshal(av.do(h.url, call{method: "POST", path: "/api/v1/schedules", token: admin, media: "application/json",
		body: `{"name":"weekly users","report":"users","format":"xlsx","range":"previous_week","cadence":{"every":"weekly","weekday":"monday","at":"07:00","timezone":"Europe/Berlin"},"webhookUrl":"https://hooks.example.com/usagelog"}`, want: 201}), &sc)
	av.do(h.url, call{method: "GET", path: "/api/v1/schedules/" + sc.ID, token: admin, want: 200})
	av.do(h.url, call{method: "DELETE", path: "/api/v1/schedules/" + sc.ID, token: admin, want: 204})

	var al struct{ ID string }
	rule := `{"name":"Orders failing","metric":"error_rate","op":">","threshold":0.05,"window":"15m","filters":{"collection":["Orders"]},"min_calls":50,` +
		`"notify":{"webhook":"https://hooks.example.com/alerts","format":"slack","email":["ops@example.com"]},"renotify":"1h"}`
	json.Unmarshal(av.do(h.url, call{method: "POST", path: "/api/v1/alerts", token: admin, media: "application/json", body: rule, want: 201}), &al)
	av.do(h.url, call{method: "POST", path: "/api/v1/alerts", token: admin, media: "application/json", body: `{"name":"x","metric":"latency","window":"5m"}`, want: 400})
	av.do(h.url, call{method: "GET", path: "/api/v1/alerts", token: admin, want: 200})
	av.do(h.url, call{method: "GET", path: "/api/v1/alerts", token: reader, want: 403})
	av.do(h.url, call{method: "GET", path: "/api/v1/alerts/" + al.ID, token: admin, want: 200})
	av.do(h.url, call{method: "GET", path: "/api/v1/alerts/al_missing", token: admin, want: 404})
	av.do(h.url, call{method: "PUT", path: "/api/v1/alerts/" + al.ID, token: admin, media: "application/json",
		body: `{"name":"Orders silent","metric":"silence","window":"1h","filters":{"collection":["Orders"]},"enabled":false}`, want: 200})
	av.do(h.url, call{method: "PUT", path: "/api/v1/alerts/" + al.ID, token: admin, media: "application/json", body: `{"name":"x","metric":"calls","op":">","threshold":1,"window":"9d"}`, want: 400})
	av.do(h.url, call{method: "GET", path: "/api/v1/alerts/" + al.ID + "/events?limit=10", token: admin, want: 200})
	av.do(h.url, call{method: "GET", path: "/api/v1/alerts/" + al.ID + "/events?limit=0", token: admin, want: 400})
	av.do(h.url, call{method: "DELETE", path: "/api/v1/alerts/" + al.ID, token: admin, want: 204})
	av.do(h.url, call{method: "DELETE", path: "/api/v1/alerts/" + al.ID, token: admin, want: 404})
	var er struct{ ID string }
	json.Unmarshal(av.do(h.url, call{method: "POST", path: "/api/v1/erasures", token: admin, media: "application/json",
		body: `{"match":{"member_id":"m-gone"},"reason":"request 42","delete_files":true}`, want: 202}), &er)
	av.do(h.url, call{method: "POST", path: "/api/v1/erasures", token: admin, media: "application/json", body: `{"match":{"member_id":"a","ip":"b"}}`, want: 400})
	av.do(h.url, call{method: "GET", path: "/api/v1/erasures", token: admin, want: 200})
	av.do(h.url, call{method: "GET", path: "/api/v1/erasures", token: reader, want: 403})
	av.do(h.url, call{method: "GET", path: "/api/v1/erasures/" + er.ID, token: admin, want: 200})
	av.do(h.url, call{method: "GET", path: "/api/v1/erasures/er_missing", token: admin, want: 404})

	var key struct{ Key struct{ ID string } }
	json.Unmarshal(av.do(h.url, call{method: "POST", path: "/api/v1/keys", token: admin, media: "application/json", body: `{"name":"to revoke","scopes":["EVENTS_WRITE"]}`, want: 201}), &key)
	av.do(h.url, call{method: "DELETE", path: "/api/v1/keys/" + key.Key.ID, token: admin, want: 204})
	var cl struct{ Client struct{ ID string } }
	json.Unmarshal(av.do(h.url, call{method: "POST", path: "/api/v1/clients", token: admin, media: "application/json", body: `{"name":"Slack","collection":"Ideas API"}`, want: 201}), &cl)
	av.do(h.url, call{method: "DELETE", path: "/api/v1/clients/" + cl.Client.ID, token: admin, want: 204})
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if r := h.do("GET", "/api/v1/audit?action=key.revoke", admin, "", nil); strings.Contains(string(r.body), "key.revoke") {
			break
		}
	}
	av.do(h.url, call{method: "GET", path: "/api/v1/audit?action=key.revoke", token: admin, want: 200})

	// Every operation answered at least once with success, and every one
	// that takes a key or a signature refused at least once.
	for op, statuses := range av.ops {
		if !slices.ContainsFunc(statuses, func(s int) bool { return s < 300 }) {
			t.Errorf("%s: no successful call in the corpus (saw %v)", op, statuses)
		}
		if op == "GET /healthz" || op == "GET /readyz" || op == "GET /version" || op == "GET /metrics" || op == "GET /api/v1/openapi.json" {
			continue
		}
		if !slices.ContainsFunc(statuses, func(s int) bool { return s >= 400 }) {
			t.Errorf("%s: no error in the corpus (saw %v)", op, statuses)
		}
	}
	t.Logf("%d operations, %d calls validated", len(av.ops), countCalls(av.ops))
	if *updateExamples {
		out, err := json.MarshalIndent(av.examples, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("openapi_examples.json", append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func countCalls(ops map[string][]int) int {
	n := 0
	for _, s := range ops {
		n += len(s)
	}
	return n
}

// TestOpenAPIDrift shows that the validation catches an answer the
// description does not allow: a field no type declares.
func TestOpenAPIDrift(t *testing.T) {
	h := newHarness(t, 0)
	av := newAPIValidator(t, h.api.Description())
	var drift testing.T
	av.t = &drift
	req, _ := http.NewRequest("GET", h.url+"/healthz", nil)
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Request: req,
		Body: io.NopCloser(strings.NewReader(`{"status":"ok","version":"devel","uptime_seconds":5}`))}
	ok, errs := av.v.ValidateHttpResponse(req, resp)
	if ok {
		t.Fatal("an answer with an undocumented field validated")
	}
	if msg := fmt.Sprint(errs[0].SchemaValidationErrors); !strings.Contains(msg, "uptime_seconds") {
		t.Errorf("the error does not name the field: %s", msg)
	}
}

// TestEveryOperationDeclaresItsErrors: an operation that takes a key or
// any input declares the 4xx it answers with the error schema (Redocly's
// operation-4xx-response is off only for the service endpoints, which
// take neither).
func TestEveryOperationDeclaresItsErrors(t *testing.T) {
	h := newHarness(t, 0)
	var doc struct {
		Paths map[string]map[string]struct {
			ID          string           `json:"operationId"`
			Security    []map[string]any `json:"security"`
			Parameters  []any            `json:"parameters"`
			RequestBody any              `json:"requestBody"`
			Responses   map[string]struct {
				Content map[string]struct {
					Schema map[string]any `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(h.api.Description(), &doc); err != nil {
		t.Fatal(err)
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			takes := len(op.Security) > 0 || len(op.Parameters) > 0 || op.RequestBody != nil
			var fours []string
			for status, r := range op.Responses {
				if strings.HasPrefix(status, "4") {
					fours = append(fours, status)
					// OTLP's own errors are google.rpc.Status, as its
					// exporters expect; a refused key is usagelog's.
					ref := r.Content["application/json"].Schema["$ref"]
					if ref != "#/components/schemas/ErrorBody" && (path != "/v1/traces" || ref != "#/components/schemas/OtlpStatus") {
						t.Errorf("%s %s: its %s is not the error schema", method, path, status)
					}
				}
			}
			if takes && len(fours) == 0 {
				t.Errorf("%s %s (%s) takes a key or input but declares no 4xx", method, path, op.ID)
			}
			if len(op.Security) > 0 && (!slices.Contains(fours, "401") || !slices.Contains(fours, "403")) {
				t.Errorf("%s %s takes a key but declares %v, not 401 and 403", method, path, fours)
			}
		}
	}
}
