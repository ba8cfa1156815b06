package usage_test

import (
	"strings"
	"testing"

	"github.com/usagelog/usagelog/internal/usage"
)

func defaultRedactor(t testing.TB) *usage.Redactor {
	t.Helper()
	rd, err := usage.DefaultRedaction().Redactor()
	if err != nil || rd == nil {
		t.Fatalf("default redactor: %v, %v", rd, err)
	}
	return rd
}

func TestRedactURL(t *testing.T) {
	rd := defaultRedactor(t)
	for _, tt := range []struct{ in, want string }{
		{"/api/v1/items?page=2&sort=name", "/api/v1/items?page=2&sort=name"},
		{"/api/v1/items", "/api/v1/items"},
		{"", ""},
		{"/api/v1/items?token=abc123&page=2", "/api/v1/items?token=REDACTED&page=2"},
		{"/api/v1/items?Access_Token=abc&API_KEY=k&apikey=x", "/api/v1/items?Access_Token=REDACTED&API_KEY=REDACTED&apikey=REDACTED"},
		{"/cb?code=4%2F0Ad&state=s", "/cb?code=REDACTED&state=s"},
		{"/a?acc%65ss_token=x", "/a?acc%65ss_token=REDACTED"},
		{"/a?token=&page=1", "/a?token=&page=1"}, // nothing to hide
		{"/a?token", "/a?token"},
		{"/a?keys=1&monkey=2", "/a?keys=1&monkey=2"}, // whole names only
		{"/a?email=ann%40example.com", "/a?email=REDACTED"},
		{"/users/ann@example.com/orders", "/users/REDACTED/orders"},
		{"/users/ann%40example.com/orders", "/users/REDACTED/orders"},
		{"/files/0123456789abcdef0123456789abcdef", "/files/REDACTED"},
		{"/files/0123456789abcdef", "/files/0123456789abcdef"},
		{"/v/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_-x/next", "/v/REDACTED/next"},
		{"/reset/Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4", "/reset/REDACTED"},
		{"/items/550e8400-e29b-41d4-a716-446655440000", "/items/550e8400-e29b-41d4-a716-446655440000"},
		{"https://ann:s3cret@api.example.com/x?page=1", "https://ann:REDACTED@api.example.com/x?page=1"},
		{"https://ann@api.example.com/x", "https://ann@api.example.com/x"},
		{"https://api.example.com", "https://api.example.com"},
		{"https://api.example.com/cb#access_token=abc&token_type=bearer", "https://api.example.com/cb#access_token=REDACTED&token_type=bearer"},
		{"/docs#section-2", "/docs#section-2"},
		{"/a//b/", "/a//b/"},
		{"/x?password=a&password=b", "/x?password=REDACTED&password=REDACTED"},
		{"/x?redirect=/y?token=1", "/x?redirect=/y?token=REDACTED"},
	} {
		if got := rd.URL(tt.in); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactText(t *testing.T) {
	rd := defaultRedactor(t)
	for _, tt := range []struct{ in, want string }{
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"},
		{"upstream said 401 for GET /x?token=abc&page=1", "upstream said 401 for GET /x?token=REDACTED&page=1"},
		{"auth failed: Authorization: Bearer abc.def.ghi", "auth failed: Authorization: Bearer REDACTED"},
		{"mailer (ops@example.com) failed", "mailer (REDACTED) failed"},
		{"bot/1.0 key=0123456789abcdef0123456789abcdef0123", "bot/1.0 key=REDACTED"},
		{"password=hunter2, retrying", "password=REDACTED, retrying"},
		{"no secrets here", "no secrets here"},
		{"", ""},
	} {
		if got := rd.Text(tt.in); got != tt.want {
			t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactEventIP(t *testing.T) {
	for _, tt := range []struct {
		mode     usage.IPMode
		in, want string
	}{
		{usage.IPFull, "203.0.113.7", "203.0.113.7"},
		{usage.IPTruncated, "203.0.113.7", "203.0.113.0"},
		{usage.IPTruncated, "2001:db8:abcd:12::1", "2001:db8:abcd::"},
		{usage.IPTruncated, "::ffff:203.0.113.7", "203.0.113.0"},
		{usage.IPTruncated, "not an address", ""},
		{usage.IPTruncated, "", ""},
		{usage.IPNone, "203.0.113.7", ""},
	} {
		rd, err := usage.Redaction{IP: tt.mode}.Redactor()
		if err != nil {
			t.Fatal(err)
		}
		e := usage.Event{Kind: usage.KindAPIRequest, IP: tt.in, URL: "/x?token=1"}
		rd.Event(&e)
		if e.IP != tt.want {
			t.Errorf("%s %q: %q, want %q", tt.mode, tt.in, e.IP, tt.want)
		}
		if e.URL != "/x?token=1" {
			t.Errorf("%s: URL %q redacted with no parameters named", tt.mode, e.URL)
		}
	}
	if rd, err := (usage.Redaction{IP: usage.IPFull}).Redactor(); rd != nil || err != nil {
		t.Errorf("a redaction that removes nothing: %v, %v; want nil", rd, err)
	}
}

func TestRedactEventFields(t *testing.T) {
	rd := defaultRedactor(t)
	e := usage.Event{Kind: usage.KindAPIRequest, URL: "/a?token=t1", JobURL: "https://x/jobs/1?signature=s1",
		StatusDetails: "denied token=t2", UserAgent: "cli/2 apikey=t3", IP: "203.0.113.7"}
	rd.Event(&e)
	for _, v := range []string{e.URL, e.JobURL, e.StatusDetails, e.UserAgent} {
		for _, secret := range []string{"t1", "s1", "t2", "t3"} {
			if strings.Contains(v, secret) {
				t.Errorf("%q still holds %q", v, secret)
			}
		}
	}
	if e.IP != "203.0.113.7" {
		t.Errorf("ip %q, want it kept (full)", e.IP)
	}
}

func TestRedactionValidate(t *testing.T) {
	long := strings.Repeat("a", usage.MaxPatternLength+1)
	for _, tt := range []struct {
		r    usage.Redaction
		want string // "" when valid
	}{
		{usage.DefaultRedaction(), ""},
		{usage.Redaction{IP: usage.IPNone}, ""},
		{usage.Redaction{IP: "partial"}, `ip: "partial" is not full, truncated or none`},
		{usage.Redaction{IP: ""}, `ip: "" is not`},
		{usage.Redaction{QueryParams: []string{"token", ""}, IP: usage.IPFull}, "query_params[1]: empty"},
		{usage.Redaction{QueryParams: []string{"a=b"}, IP: usage.IPFull}, "query_params[0]"},
		{usage.Redaction{PathPatterns: []string{"^(ab$"}, IP: usage.IPFull}, "path_patterns[0]: error parsing regexp"},
		{usage.Redaction{PathPatterns: []string{long}, IP: usage.IPFull}, "path_patterns[0]: 501 bytes"},
		{usage.Redaction{QueryParams: make([]string, usage.MaxRedactionParams+1), IP: usage.IPFull}, "query_params: 101 names"},
	} {
		err := tt.r.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%v: %v", tt.r, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%v: %v, want %q", tt.r, err, tt.want)
		case err != nil && usage.ErrorCode(err) != usage.EInvalid:
			t.Errorf("%v: code %s", tt.r, usage.ErrorCode(err))
		}
	}
}

// FuzzRedactURL: redaction never panics, is done once (redacting again
// changes nothing), and no value of a named parameter survives.
func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{"/a?token=x", "https://u:p@h/p?code=1#access_token=2", "/u/a@b.co/x", "/%zz?%zz=1", "?=&=#"} {
		f.Add(s)
	}
	rd := defaultRedactor(f)
	f.Fuzz(func(t *testing.T, s string) {
		once := rd.URL(s)
		if twice := rd.URL(once); twice != once {
			t.Fatalf("URL(%q) = %q, then %q", s, once, twice)
		}
		base, _, _ := strings.Cut(once, "#")
		if q := strings.IndexByte(base, '?'); q >= 0 {
			query := base[q+1:]
			for pair := range strings.SplitSeq(query, "&") {
				name, value, ok := strings.Cut(pair, "=")
				if ok && value != "" && value != usage.Redacted && strings.EqualFold(name, "token") {
					t.Fatalf("URL(%q) = %q keeps a token", s, once)
				}
			}
		}
		_ = rd.Text(s)
	})
}
