package cli_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/usagelog/usagelog/internal/cli"
)

// form is an HTML form as a browser without JavaScript submits it.
type form struct {
	id, method, action string
	values             url.Values
}

// parseForms reads the forms of a page: each field's value as a plain
// browser sends it (checked boxes only, the selected options or a
// single select's first), required empty fields filled as a user would.
func parseForms(t *testing.T, page string) []form {
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	attr := func(n *html.Node, k string) (string, bool) {
		for _, a := range n.Attr {
			if a.Key == k {
				return a.Val, true
			}
		}
		return "", false
	}
	var forms []form
	var walk func(n *html.Node, f *form)
	walk = func(n *html.Node, f *form) {
		if n.Type == html.ElementNode {
			name, _ := attr(n, "name")
			_, disabled := attr(n, "disabled")
			_, required := attr(n, "required")
			fill := func(v string) string {
				if v == "" && required {
					if name == "tz" || name == "timezone" {
						return "UTC"
					}
					return "plain browser"
				}
				return v
			}
			switch {
			case n.Data == "form":
				id, _ := attr(n, "id")
				method, _ := attr(n, "method")
				action, _ := attr(n, "action")
				forms = append(forms, form{id: id, method: strings.ToUpper(method), action: action, values: url.Values{}})
				f = &forms[len(forms)-1]
			case f == nil || name == "" || disabled:
			case n.Data == "input":
				typ, _ := attr(n, "type")
				v, _ := attr(n, "value")
				_, checked := attr(n, "checked")
				switch typ {
				case "checkbox", "radio":
					if checked {
						f.values.Add(name, v)
					}
				case "submit", "button":
				default:
					f.values.Add(name, fill(v))
				}
			case n.Data == "textarea":
				text := ""
				if n.FirstChild != nil {
					text = n.FirstChild.Data
				}
				f.values.Add(name, fill(text))
				return
			case n.Data == "select":
				_, multiple := attr(n, "multiple")
				var first string
				picked, haveFirst := false, false
				for o := n.FirstChild; o != nil; o = o.NextSibling {
					if o.Type != html.ElementNode || o.Data != "option" {
						continue
					}
					v, ok := attr(o, "value")
					if !ok && o.FirstChild != nil {
						v = o.FirstChild.Data
					}
					if !haveFirst {
						first, haveFirst = v, true
					}
					if _, sel := attr(o, "selected"); sel {
						f.values.Add(name, v)
						picked = true
					}
				}
				if !picked && !multiple {
					f.values.Add(name, first)
				}
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, f)
		}
	}
	walk(doc, nil)
	return forms
}

// TestFormsWithoutJavaScript submits every form of the console's pages
// as a browser without JavaScript would: each works, and each export form
// downloads its file.
func TestFormsWithoutJavaScript(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, "--data", data, "--demo", "--demo-scale", "0.02")
	defer srv.stop(t)
	code := cli.Run(context.Background(), []string{"members", "create", "--data", data, "--email", "admin@example.com", "--role", "admin", "--password-stdin"},
		cli.Env{Stdin: strings.NewReader("correct horse battery\n"), Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, Getenv: func(string) string { return "" }})
	if code != 0 {
		t.Fatalf("members create: exit %d", code)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	get := func(path string) (*http.Response, string) {
		resp, err := client.Get(srv.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	submit := func(f form) (*http.Response, string) {
		var resp *http.Response
		var err error
		if f.method == "POST" {
			resp, err = client.PostForm(srv.url+f.action, f.values)
		} else {
			resp, err = client.Get(srv.url + f.action + "?" + f.values.Encode())
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	_, page := get("/login")
	login := parseForms(t, page)[0]
	login.values.Set("email", "admin@example.com")
	login.values.Set("password", "correct horse battery")
	if resp, body := submit(login); resp.StatusCode != 200 || !strings.Contains(body, "admin@example.com") {
		t.Fatalf("sign in: %d", resp.StatusCode)
	}

	downloads := map[string]string{"api-usage-form": ".xlsx", "usage-export-form": ".csv", "usage-reports-form": ".zip"}
	tried := map[string]bool{}
	for _, path := range []string{"/", "/logs", "/export/api-usage", "/export/usage", "/licenses", "/keys", "/settings"} {
		_, page := get(path)
		for _, f := range parseForms(t, page) {
			if f.action == "/logout" || strings.HasSuffix(f.action, "/revoke") || tried[f.id+f.action] {
				continue // signing out and revoking end what the next forms need
			}
			tried[f.id+f.action] = true
			if f.id == "create-key" {
				f.values.Add("scope", "LOGS_READ") // a user ticks one
			}
			resp, body := submit(f)
			if resp.StatusCode/100 != 2 {
				t.Errorf("%s form %q (%s %s?%s): %d %.300s", path, f.id, f.method, f.action, f.values.Encode(), resp.StatusCode, body)
				continue
			}
			if ext, ok := downloads[f.id]; ok {
				cd := resp.Header.Get("Content-Disposition")
				if !strings.HasPrefix(cd, "attachment") || !strings.Contains(cd, ext) {
					t.Errorf("%s form %q: Content-Disposition %q, want an attachment %s", path, f.id, cd, ext)
				}
			}
		}
	}
	// The classification form kept the rules it showed.
	if r, _ := get("/api/v1/workspace/classification"); r.StatusCode != 200 {
		t.Errorf("classification: %d", r.StatusCode)
	}
	for _, id := range []string{"log-filters", "api-usage-form", "usage-export-form", "usage-reports-form", "create-key"} {
		if !tried[id+map[string]string{"log-filters": "/logs", "create-key": "/keys"}[id]] && !tried[id+"/export/download"] {
			t.Errorf("form %s was not found", id)
		}
	}
}
