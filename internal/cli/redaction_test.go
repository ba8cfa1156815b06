package cli_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRedactionEveryCapturePath sets a workspace's redaction rules through
// the API and then captures calls holding secrets, an email and an address
// through ingest, OTLP, `usagelog ingest` and self-logging, on the embedded
// store and on ClickHouse + PostgreSQL + S3: the logs show REDACTED where
// the secrets were and the /24 of the address, and no secret at all.
func TestRedactionEveryCapturePath(t *testing.T) {
	for _, stack := range []string{"sqlite", "clickhouse+postgres+s3"} {
		t.Run(stack, func(t *testing.T) {
			args := []string{"--data", t.TempDir()} // the stores, for serve and the CLI
			serve := args
			if stack != "sqlite" {
				args = append(args, "--meta", postgresDatabase(t), "--events", clickhouseDatabase(t))
				serve = append(args, "--files", s3Bucket(t))
			}
			s := startServer(t, serve...)
			defer s.stop(t)
			key := run(t, nil, append([]string{"keys", "create", "--name", "redaction", "--scope", "WORKSPACE_ADMIN", "--scope", "EVENTS_WRITE", "--scope", "LOGS_READ"}, args...)...)
			token := strings.TrimSpace(key.stdout)
			if key.code != 0 || token == "" {
				t.Fatalf("keys create: %+v", key)
			}
			call := func(method, path, media, body string) (int, string) {
				t.Helper()
				req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				if media != "" {
					req.Header.Set("Content-Type", media)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				out, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(out)
			}
			if code, body := call("GET", "/api/v1/workspace/redaction", "", ""); code != 200 || !strings.Contains(body, `"default":true`) || !strings.Contains(body, `"access_token"`) {
				t.Fatalf("defaults: %d %s", code, body)
			}
			if code, body := call("PUT", "/api/v1/workspace/redaction", "application/json", `{"ip":"truncated","path_patterns":["^[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{4}$","@","^[0-9a-f]{32}$"]}`); code != 200 || !strings.Contains(body, `"ip":"truncated"`) || !strings.Contains(body, `"token"`) {
				t.Fatalf("put: %d %s", code, body)
			}
			now := time.Now().UTC().Add(-time.Minute)
			ndjson := fmt.Sprintf(`{"kind":"api_request","id":"nd-1","time":%q,"method":"GET","url":"/v1/cards/4111-1111-1111-1111?token=secret-one&page=2","status":401,"status_details":"denied: Bearer secret-two","user_agent":"cli/1 apikey=secret-three","ip":"203.0.113.7"}`, now.Format(time.RFC3339))
			if code, body := call("POST", "/api/v1/events", "application/x-ndjson", ndjson); code != 200 {
				t.Fatalf("ingest: %d %s", code, body)
			}
			otlp := fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},"scopeSpans":[{"spans":[{"traceId":"0123456789abcdef0123456789abcdef","spanId":"0123456789abcdef","name":"GET","kind":2,"startTimeUnixNano":"%d","endTimeUnixNano":"%d","attributes":[
				{"key":"http.request.method","value":{"stringValue":"GET"}},{"key":"url.path","value":{"stringValue":"/v1/users/ann@example.com"}},
				{"key":"http.response.status_code","value":{"intValue":"200"}},{"key":"client.address","value":{"stringValue":"2001:db8:abcd:12::1"}},
				{"key":"user_agent.original","value":{"stringValue":"svc/1 password=secret-four"}}]}]}]}]}`, now.UnixNano(), now.Add(5*time.Millisecond).UnixNano())
			if code, body := call("POST", "/v1/traces", "application/json", otlp); code != 200 {
				t.Fatalf("otlp: %d %s", code, body)
			}
			file := filepath.Join(t.TempDir(), "calls.ndjson")
			line := fmt.Sprintf(`{"kind":"api_request","id":"file-1","time":%q,"method":"POST","url":"https://ann:secret-five@api.example.com/v1/hooks?signature=secret-six","status":200,"ip":"198.51.100.23"}`, now.Format(time.RFC3339))
			os.WriteFile(file, []byte(line+"\n"), 0o600)
			if r := run(t, nil, append([]string{"ingest", file}, args...)...); r.code != 0 {
				t.Fatalf("usagelog ingest: %+v", r)
			}
			// Self-logging records this call's path (never its query).
			if code, body := call("GET", "/api/v1/exports/fedcba9876543210fedcba9876543210", "", ""); code != 404 {
				t.Fatalf("self-logged call: %d %s", code, body)
			}

			wants := []string{
				`/v1/cards/REDACTED?token=REDACTED\u0026page=2`, `denied: Bearer REDACTED`, `cli/1 apikey=REDACTED`, `"ip":"203.0.113.0"`,
				`/v1/users/REDACTED`, `svc/1 password=REDACTED`, `"ip":"2001:db8:abcd::"`,
				`https://ann:REDACTED@api.example.com/v1/hooks?signature=REDACTED`, `"ip":"198.51.100.0"`,
				`"url":"/api/v1/exports/REDACTED"`,
			}
			var logs string
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(250 * time.Millisecond) {
				// usagelog's own calls are shown when asked for.
				code, calls := call("GET", "/api/v1/logs?period=24h&limit=100", "", "")
				_, own := call("GET", "/api/v1/logs?period=24h&limit=1000&collection=usagelog+API", "", "")
				logs = calls + own
				missing := 0
				for _, w := range wants {
					if !strings.Contains(logs, w) {
						missing++
					}
				}
				if code == 200 && missing == 0 {
					break
				}
				if time.Now().After(deadline) {
					for _, w := range wants {
						if !strings.Contains(logs, w) {
							t.Errorf("the logs do not show %s", w)
						}
					}
					t.Fatalf("logs: %d %s", code, logs)
				}
			}
			for _, secret := range []string{"secret-", "4111-1111", "ann@example.com", "fedcba9876543210fedcba9876543210", "203.0.113.7", "198.51.100.23", "2001:db8:abcd:12::1"} {
				if strings.Contains(logs, secret) {
					t.Errorf("the logs hold %q: %s", secret, logs)
				}
			}
		})
	}
}

// TestRedactionCommand: `usagelog redaction` prints the defaults, changes
// the lists and the address mode of a local store (audited), refuses a bad
// pattern naming it, and goes back to the defaults.
func TestRedactionCommand(t *testing.T) {
	data := t.TempDir()
	r := run(t, nil, "redaction", "--data", data)
	if r.code != 0 || !strings.Contains(r.stdout, "rules\tthe defaults") || !strings.Contains(r.stdout, "access_token") || !strings.Contains(r.stdout, "ip\tfull") {
		t.Fatalf("defaults: %+v", r)
	}
	r = run(t, nil, "redaction", "--data", data, "--query-param", "sid", "--query-param", "token", "--no-path-patterns", "--ip", "truncated")
	if r.code != 0 || !strings.Contains(r.stdout, "rules\tset by the workspace") || !strings.Contains(r.stdout, "query parameters\tsid token\npath patterns\t\nip\ttruncated") {
		t.Fatalf("change: %+v", r)
	}
	if r := run(t, nil, "redaction", "--data", data, "--path-pattern", "(unclosed"); r.code != 2 || !strings.Contains(r.stderr, "path_patterns[0]: error parsing regexp") {
		t.Errorf("a bad pattern: %+v", r)
	}
	if r := run(t, nil, "redaction", "--data", data, "--ip", "partial"); r.code != 2 || !strings.Contains(r.stderr, `ip: "partial" is not full, truncated or none`) {
		t.Errorf("a bad mode: %+v", r)
	}
	if r := run(t, nil, "redaction", "--data", data, "--defaults", "--ip", "none"); r.code != 2 {
		t.Errorf("--defaults with a change: %+v", r)
	}
	if r := run(t, nil, "redaction", "--data", data); !strings.Contains(r.stdout, "query parameters\tsid token") {
		t.Errorf("a refused change was saved: %+v", r)
	}
	if r := run(t, nil, "redaction", "--data", data, "--defaults"); r.code != 0 || !strings.Contains(r.stdout, "rules\tthe defaults") {
		t.Errorf("--defaults: %+v", r)
	}
	if r := run(t, nil, "audit", "--data", data, "--action", "redaction.update"); r.code != 0 || strings.Count(r.stdout, "redaction.update") != 2 {
		t.Errorf("audit: %+v", r)
	}
}
