package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/cli"
	"github.com/usagelog/usagelog/internal/ingest"
	"github.com/usagelog/usagelog/internal/storetest"
)

// syncBuffer is a bytes.Buffer safe for a server goroutine and a test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs the usagelog command line in-process.
func run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb syncBuffer
	code := cli.Run(context.Background(), args, cli.Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] },
	})
	return result{code, out.String(), errb.String()}
}

func TestWorkspacesAndKeys(t *testing.T) {
	data := t.TempDir()
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // regexp
		stderr string // substring
	}{
		{"create workspace", []string{"workspaces", "create", "acme", "--data", data}, 0, `^\d+\tacme\n$`, ""},
		{"create it again", []string{"workspaces", "create", "acme", "--data", data}, 1, `^$`, `workspace "acme" already exists`},
		{"hostile name", []string{"workspaces", "create", "../x", "--data", data}, 2, `^$`, `may hold only letters`},
		{"list", []string{"workspaces", "list", "--data", data}, 0, `(?m)^1\tdefault\t.*\n2\tacme\t`, ""},
		{"key without scope", []string{"keys", "create", "--name", "bot", "--data", data}, 2, `^$`, "at least one --scope"},
		{"key with unknown scope", []string{"keys", "create", "--name", "bot", "--scope", "ROOT", "--data", data}, 2, `^$`, `unknown scope "ROOT"`},
		{"key in unknown workspace", []string{"keys", "create", "--name", "bot", "--scope", "LOGS_READ", "--workspace", "nope", "--data", data}, 2, `^$`, `workspace "nope" does not exist`},
		{"key", []string{"keys", "create", "--name", "bot", "--scope", "LOGS_READ", "--scope", "EVENTS_WRITE", "--workspace", "acme", "--data", data}, 0, `^ulk_[A-Za-z0-9_-]{43}\n$`, "shown once"},
		{"unknown command", []string{"frobnicate"}, 2, `^$`, `unknown command "frobnicate"`},
		{"unknown flag", []string{"keys", "list", "--colour"}, 2, `^$`, "flag provided but not defined"},
		{"revoke unknown", []string{"keys", "revoke", "key_nope", "--workspace", "acme", "--data", data}, 1, `^$`, `key "key_nope" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, tt.args...)
			if r.code != tt.code || !regexp.MustCompile(tt.stdout).MatchString(r.stdout) || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("exit %d stdout %q stderr %q; want exit %d, stdout ~ %s, stderr with %q", r.code, r.stdout, r.stderr, tt.code, tt.stdout, tt.stderr)
			}
		})
	}
	// USAGELOG_DATA stands in for --data; list shows id first, revoke takes it.
	env := map[string]string{"USAGELOG_DATA": data, "USAGELOG_WORKSPACE": "acme"}
	r := run(t, env, "keys", "list")
	id := strings.Fields(r.stdout)[0]
	if r.code != 0 || !strings.HasPrefix(id, "key_") || !strings.Contains(r.stdout, "EVENTS_WRITE,LOGS_READ") || !strings.Contains(r.stdout, "last used never") {
		t.Fatalf("keys list: %+v", r)
	}
	if r := run(t, env, "keys", "revoke", id); r.code != 0 {
		t.Fatalf("revoke: %+v", r)
	}
	if r := run(t, env, "keys", "list"); !strings.Contains(r.stdout, "revoked") {
		t.Errorf("after revoke: %q", r.stdout)
	}
}

func TestIngestLocalFiles(t *testing.T) {
	data := t.TempDir()
	r := run(t, nil, "ingest", "--data", data, "testdata/mixed.ndjson", "testdata/events.csv", "testdata/array.json")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (lines were rejected): %+v", r.code, r)
	}
	if r.stdout != "accepted 8, duplicates 1, rejected 2\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	for _, want := range []string{`testdata/mixed.ndjson:3: field "time"`, `testdata/mixed.ndjson:7: field "system": required`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q: %s", want, r.stderr)
		}
	}
	// Again, an event a transaction: everything is a duplicate now,
	// nothing is stored twice.
	r = run(t, nil, "ingest", "--data", data, "--batch", "1", "testdata/events.csv", "testdata/array.json")
	if r.code != 0 || r.stdout != "accepted 0, duplicates 4, rejected 0\n" {
		t.Errorf("second run: %+v", r)
	}
	if r := run(t, nil, "ingest", "--data", data, "testdata/missing.ndjson"); r.code != 1 || !strings.Contains(r.stderr, "no such file") {
		t.Errorf("missing file: %+v", r)
	}
	if r := run(t, nil, "ingest", "--data", data); r.code != 2 {
		t.Errorf("no file: %+v", r)
	}
	if r := run(t, nil, "ingest", "--data", data, "--batch", "-5", "testdata/events.csv"); r.code != 2 || !strings.Contains(r.stderr, "--batch must be positive") {
		t.Errorf("negative batch: %+v", r)
	}
}

// server is a usagelog serve running in-process.
type server struct {
	url    string
	cancel context.CancelFunc
	done   chan int
	stdout *syncBuffer
	stderr *syncBuffer
}

func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errb := &syncBuffer{}, &syncBuffer{}
	s := &server{cancel: cancel, done: make(chan int, 1), stdout: out, stderr: errb}
	go func() {
		s.done <- cli.Run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), cli.Env{
			Stdin: strings.NewReader(""), Stdout: out, Stderr: errb, Getenv: func(string) string { return "" },
		})
	}()
	re := regexp.MustCompile(`listening on (http://\S+)`)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			s.url = m[1]
			return s
		}
		select {
		case code := <-s.done:
			t.Fatalf("serve exited %d: %s %s", code, out, errb)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start: %s %s", out, errb)
	return nil
}

func (s *server) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.done:
		if code != 0 {
			t.Errorf("serve exited %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func get(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestServeDemoIngestShutdownRestart(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, "--data", data, "--demo", "--demo-scale", "0.02", "--demo-seed", "7")
	if !strings.Contains(s.stdout.String(), "demo: generated") || !strings.Contains(s.stdout.String(), "usagelog keys create") {
		t.Errorf("serve output does not say what it did and how to get a key: %s", s.stdout)
	}
	// A key made by the CLI while the server runs works at once.
	k := run(t, nil, "keys", "create", "--data", data, "--name", "cli", "--scope", "EVENTS_WRITE", "--scope", "LOGS_READ")
	if k.code != 0 {
		t.Fatalf("keys create while serving: %+v", k)
	}
	token := strings.TrimSpace(k.stdout)
	code, body := get(t, s.url+"/api/v1/logs?period=30d&limit=5", token)
	if code != 200 || !bytes.Contains(body, []byte(`"next_cursor"`)) {
		t.Fatalf("demo logs: %d %s", code, body)
	}

	// The CLI sends files to the running server.
	r := run(t, nil, "ingest", "--server", s.url, "--token", token, "testdata/events.csv")
	if r.code != 0 || r.stdout != "accepted 2, duplicates 0, rejected 0\n" {
		t.Fatalf("ingest --server: %+v", r)
	}
	r = run(t, nil, "ingest", "--server", s.url, "--token", "ulk_wrong", "testdata/events.csv")
	if r.code != 1 || !strings.Contains(r.stderr, "401") || !strings.Contains(r.stderr, "Unrecognized token") {
		t.Errorf("ingest with a wrong token: %+v", r)
	}

	// Shutdown while a request is in flight: the request finishes, its
	// events are acknowledged and survive the restart.
	events := storetest.Fixture(3000)
	pr, pw := io.Pipe()
	answer := make(chan string, 1)
	// The request is in flight once its headers are sent: the server
	// then waits for it on shutdown.
	wrote := make(chan struct{})
	go func() {
		trace := &httptrace.ClientTrace{WroteHeaders: func() { close(wrote) }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "POST", s.url+"/api/v1/events", pr)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answer <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answer <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	w := bufio.NewWriter(pw)
	for i := range events {
		line, _ := ingest.MarshalJSON(&events[i])
		w.Write(line)
		w.WriteByte('\n')
		if i == 1500 {
			w.Flush()
			select {
			case <-wrote:
			case <-time.After(10 * time.Second):
				t.Fatal("the request's headers were not sent in 10 s")
			}
			s.cancel()
			// The rest of the body goes once the server is shutting down.
			for deadline := time.Now().Add(10 * time.Second); !strings.Contains(s.stderr.String(), "shutting down"); time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the server did not start shutting down in 10 s: %s", s.stderr)
				}
			}
		}
	}
	w.Flush()
	pw.Close()
	got := <-answer
	if !strings.HasPrefix(got, `200 {"accepted":3000,`) {
		t.Fatalf("in-flight ingest during shutdown answered %s", got)
	}
	s.stop(t)

	s = startServer(t, "--data", data, "--demo", "--demo-scale", "0.02")
	defer s.stop(t)
	if !strings.Contains(s.stdout.String(), "already holds events") {
		t.Errorf("restart with --demo should not add demo data again: %s", s.stdout)
	}
	code, body = get(t, s.url+"/api/v1/logs?from=2026-03-08&to=2026-03-08&limit=1000", token)
	var page struct{ Items []map[string]any }
	if err := json.Unmarshal(body, &page); err != nil || code != 200 {
		t.Fatalf("logs after restart: %d %s", code, body)
	}
	if len(page.Items) != 1000 {
		t.Errorf("after restart the day holds %d events, want the page full (3000 acknowledged)", len(page.Items))
	}
	// The console is served beside the API, and the API log holds
	// usagelog's own calls, refusals included.
	if code, body := get(t, s.url+"/login", ""); code != 200 || !bytes.Contains(body, []byte(`<form method="post" action="/login">`)) {
		t.Errorf("console sign-in page: %d", code)
	}
	get(t, s.url+"/api/v1/logs", "")
	// The recorder flushes every 250 ms: wait for the refusal, with a deadline.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, body = get(t, s.url+"/api/v1/logs?collection=usagelog+API&status=401", token)
		if code == 200 && bytes.Contains(body, []byte(`"gateway_code":4012`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("self-logged refusal missing after 10 s: %d %.400s", code, body)
			break
		}
	}
	code, body = get(t, s.url+"/metrics", "")
	if code != 200 || !bytes.Contains(body, []byte(`usagelog_store_operation_duration_seconds_count{op="logs"}`)) {
		t.Errorf("metrics lack store latency: %d", code)
	}
}

func TestServeBadFlags(t *testing.T) {
	data := t.TempDir()
	for _, args := range [][]string{
		{"serve", "--data", data, "--events", "mongodb://localhost/x"},
		{"serve", "--data", data, "--meta", "mysql://localhost/x"},
		{"serve", "--data", data, "--max-body", "0"},
		{"serve", "--data", data, "--log-level", "loud"},
	} {
		if r := run(t, nil, args...); r.code != 2 {
			t.Errorf("%v: exit %d %s, want 2", args, r.code, r.stderr)
		}
	}
	if r := run(t, nil, "serve", "--data", data, "--addr", "256.0.0.1:1"); r.code != 1 || !strings.Contains(r.stderr, "listen") {
		t.Errorf("bad address: %+v", r)
	}
}

func TestMembersCreate(t *testing.T) {
	data := t.TempDir()
	withStdin := func(stdin string, args ...string) result {
		var out, errb syncBuffer
		code := cli.Run(context.Background(), args, cli.Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
		return result{code, out.String(), errb.String()}
	}
	r := withStdin("a long enough secret\n", "members", "create", "--data", data, "--email", "Ann@Acme.example", "--role", "admin", "--password-stdin")
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "created admin ann@acme.example") {
		t.Fatalf("with stdin: %+v", r)
	}
	r = withStdin("", "members", "create", "--data", data, "--email", "bob@acme.example", "--role", "analyst")
	if r.code != 0 || len(strings.TrimSpace(r.stdout)) < 20 || !strings.Contains(r.stderr, "shown once") {
		t.Fatalf("generated password: %+v", r)
	}
	for _, c := range []struct {
		stdin string
		args  []string
		code  int
		msg   string
	}{
		{"", []string{"--email", "not-an-email", "--role", "admin"}, 2, "invalid email"},
		{"", []string{"--email", "c@acme.example", "--role", "owner"}, 2, `unknown role "owner"`},
		{"short\n", []string{"--email", "c@acme.example", "--role", "admin", "--password-stdin"}, 2, "shorter than 12"},
		{"", []string{"--email", "c@acme.example", "--role", "admin", "--password-stdin"}, 2, "no password"},
		{"", []string{"--email", "ann@acme.example", "--role", "admin"}, 1, "already exists"},
	} {
		r := withStdin(c.stdin, append([]string{"members", "create", "--data", data}, c.args...)...)
		if r.code != c.code || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%v: exit %d %q, want %d with %q", c.args, r.code, r.stderr, c.code, c.msg)
		}
	}
}

// TestAlertsCommand: a rule created, listed, tested against the stored
// calls (it would fire) and deleted from the command line; a bad one's
// faults named.
func TestAlertsCommand(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().UTC()
	var body strings.Builder
	for i := range 30 {
		status := 200
		if i%3 == 0 {
			status = 503
		}
		fmt.Fprintf(&body, `{"kind":"api_request","id":"c%d","time":%q,"status":%d,"collection":"Orders"}`+"\n", i, now.Add(-time.Duration(i)*time.Second).Format(time.RFC3339), status)
	}
	file := filepath.Join(dir, "calls.ndjson")
	if err := os.WriteFile(file, []byte(body.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := run(t, nil, "ingest", "--data", dir, file); res.code != 0 {
		t.Fatalf("ingest: %+v", res)
	}
	res := run(t, nil, "alerts", "create", "--data", dir, "--name", "Orders failing", "--metric", "error_rate", "--threshold", "0.05",
		"--filter", "collection=Orders", "--webhook", "https://hooks.example.com/x")
	if res.code != 0 || !strings.Contains(res.stdout, "webhook secret (shown once): whsec_") {
		t.Fatalf("create: %+v", res)
	}
	list := run(t, nil, "alerts", "list", "--data", dir)
	fields := strings.Fields(strings.Split(list.stdout, "\n")[1])
	if list.code != 0 || len(fields) < 5 || fields[len(fields)-2] != "ok" {
		t.Fatalf("list: %+v", list)
	}
	test := run(t, nil, "alerts", "test", fields[0], "--data", dir)
	if test.code != 0 || !strings.Contains(test.stdout, "firing, was ok: this would be sent") ||
		!strings.Contains(test.stdout, "[FIRING] Orders failing: error_rate 33.3%") || !strings.Contains(test.stdout, "http://127.0.0.1:8080/logs?collection=Orders") {
		t.Fatalf("test: %+v", test)
	}
	bad := run(t, nil, "alerts", "create", "--data", dir, "--name", "x", "--metric", "latency", "--window", "1m")
	if bad.code != 2 || !strings.Contains(bad.stderr, `metric: unknown metric "latency"`) || !strings.Contains(bad.stderr, "window: 1m is outside 5m to 7d") {
		t.Fatalf("bad rule: %+v", bad)
	}
	// A webhook to this machine is refused as serve would refuse to post
	// it, unless --webhook-allow lets it.
	loop := []string{"alerts", "create", "--data", dir, "--name", "local", "--metric", "calls", "--threshold", "1", "--webhook", "http://127.0.0.1:9/hook"}
	if res := run(t, nil, loop...); res.code == 0 || !strings.Contains(res.stderr, `--webhook: "http://127.0.0.1:9/hook"`) {
		t.Fatalf("loopback webhook: %+v", res)
	}
	if res := run(t, nil, append(loop, "--webhook-allow", "127.0.0.0/8")...); res.code != 0 {
		t.Fatalf("allowed loopback webhook: %+v", res)
	}
	if res := run(t, nil, "alerts", "delete", fields[0], "--data", dir); res.code != 0 {
		t.Fatalf("delete: %+v", res)
	}
	if res := run(t, nil, "alerts", "delete", fields[0], "--data", dir); res.code == 0 {
		t.Fatalf("delete twice: %+v", res)
	}
}
