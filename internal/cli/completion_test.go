package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCompletionBash sources the bash script in bash and completes as a
// shell would.
func TestCompletionBash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("bash is needed: the completion script is bash's") // scripts/test.sh runs under bash
	}
	r := run(t, nil, "completion", "bash")
	if r.code != 0 {
		t.Fatalf("completion bash: %+v", r)
	}
	script := filepath.Join(t.TempDir(), "usagelog.bash")
	if err := os.WriteFile(script, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	for line, want := range map[string]string{
		"usagelog ex":               "export",
		"usagelog export --fo":      "--format",
		"usagelog export usage-r":   "usage-reports",
		"usagelog keys c":           "create",
		"usagelog keys create --sc": "--scope",
		"usagelog serve --webhook-": "--webhook-allow",
		"usagelog completion f":     "fish",
	} {
		words := strings.Fields(line)
		cmd := "source " + script + "; COMP_WORDS=(" + strings.Join(words, " ") + "); COMP_CWORD=" + string(rune('0'+len(words)-1)) + "; _usagelog; echo \"${COMPREPLY[*]}\""
		out, err := exec.Command("bash", "-c", cmd).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != want {
			t.Errorf("%q completes to %q (%v), want %q", line, out, err, want)
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"zsh", "fish"} {
		r := run(t, nil, "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, "usage-reports") || !strings.Contains(r.stdout, "durability") {
			t.Errorf("completion %s: %+v", shell, r)
		}
		if path, err := exec.LookPath(shell); err == nil {
			f := filepath.Join(t.TempDir(), "c")
			os.WriteFile(f, []byte(r.stdout), 0o600)
			if out, err := exec.Command(path, "-n", f).CombinedOutput(); err != nil {
				t.Errorf("%s -n: %v %s", shell, err, out)
			}
		}
	}
	if r := run(t, nil, "completion", "powershell"); r.code != 2 {
		t.Errorf("completion powershell: %+v", r)
	}
	if r := run(t, nil, "--version"); r.code != 0 || !strings.HasPrefix(r.stdout, "usagelog ") {
		t.Errorf("--version: %+v", r)
	}
}

// TestHelpNamesFeatures: no help text speaks of the specification's
// document numbers.
func TestHelpNamesFeatures(t *testing.T) {
	spec := regexp.MustCompile(`(?i)\bseeds? ?0\d\d\b|seed's`)
	for _, args := range [][]string{{"help"}, {"serve"}, {"workspaces", "create"}, {"keys", "create"}, {"members", "create"},
		{"ingest"}, {"export"}, {"schedules", "create"}, {"collections", "create"}, {"clients", "create"}, {"gateway"}, {"completion"}} {
		r := run(t, nil, append(args, "-h")...)
		if text := r.stdout + r.stderr; spec.MatchString(text) || len(text) < 20 {
			t.Errorf("%v -h: %q", args, text)
		}
	}
}

// TestAuditCommand: what the CLI does to a local store is in the audit
// log, which `usagelog audit` prints as CSV or JSON, filtered.
func TestAuditCommand(t *testing.T) {
	data := t.TempDir()
	if r := run(t, map[string]string{"USER": "ops"}, "keys", "create", "--data", data, "--name", "bot", "--scope", "LOGS_READ"); r.code != 0 {
		t.Fatalf("keys create: %+v", r)
	}
	if r := run(t, nil, "collections", "create", "Orders", "--data", data); r.code != 0 {
		t.Fatalf("collections create: %+v", r)
	}
	r := run(t, nil, "audit", "--data", data)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Time,Actor type,Actor ID,Actor name,Action,Target,IP,Details\r\n") ||
		!strings.Contains(r.stdout, ",system,cli,usagelog CLI (ops),key.create,key_") || !strings.Contains(r.stdout, "collection.update,Orders") {
		t.Errorf("audit: %+v", r)
	}
	r = run(t, nil, "audit", "--data", data, "--action", "key.create", "--format", "json")
	if r.code != 0 || strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stdout, `"action":"key.create"`) {
		t.Errorf("audit --action --format json: %+v", r)
	}
	if r := run(t, nil, "audit", "--data", data, "--action", "key.delete"); r.code != 2 || !strings.Contains(r.stderr, `unknown action "key.delete"`) {
		t.Errorf("a bad action: %+v", r)
	}
}
