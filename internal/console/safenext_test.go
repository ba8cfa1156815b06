package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzSafeNext checks that the redirect after sign-in stays on this site
// as a browser reads it: the Location http.Redirect writes for safeNext's
// answer, with tabs and newlines dropped and backslashes read as slashes
// (as the WHATWG URL standard has browsers do), resolves to this host.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "/logs?x=1", "/\t/evil.example", "//evil.example", "/\\evil.example", "https://evil.example", "/%2F/evil", "/.//evil", "/a/..//evil", "/\u3002evil", "\\\\evil", "/@evil.example"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://usagelog.example/login")
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if !strings.HasPrefix(got, "/") {
			t.Fatalf("safeNext(%q) = %q: not a path", next, got)
		}
		rec := httptest.NewRecorder()
		http.Redirect(rec, httptest.NewRequest("POST", "/login", nil), got, http.StatusSeeOther)
		loc := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(rec.Header().Get("Location"))
		u, err := base.Parse(loc)
		if err != nil {
			return // a browser refuses it and stays
		}
		if u.Host != base.Host || u.Scheme != base.Scheme {
			t.Fatalf("safeNext(%q) = %q: Location %q goes to %s://%s", next, got, loc, u.Scheme, u.Host)
		}
	})
}
