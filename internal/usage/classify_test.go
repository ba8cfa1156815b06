package usage

import (
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		url, ua string
		system  ClientClass
		usage   Type
	}{
		// The seed's own examples.
		{"/a/rest/chat/ideas", "Java/21.0.5", "Slack", TypeOther},
		{"/a/rest/backend/v1/summary", "axios/1.7.7", "AI backend", TypeOther},
		{"/a/rest/v1/ideas", "ideascale-mcp-server/1.0.0", "MCP server", TypeMCP},
		{"/a/rest/v1/ideas", "PostmanRuntime/7.43.3", "REST client", TypeOther},
		// The User-Agent first, whatever the URL and its case.
		{"/a/rest/chat/x", "IdeaScale-MCP-Server/2.0 (linux)", "MCP server", TypeMCP},
		// The URL decides when the User-Agent says nothing known.
		{"/a/rest/chat/x", "", "Slack", TypeOther},
		{"https://acme.example/a/rest/backend/v1/x?y=1", "curl/8.0", "AI backend", TypeOther},
		{"/a/rest/v1/members", "python-requests/2.32", "REST client", TypeOther},
		{"/other", "", "Other", TypeOther},
		{"/a/rest/chat", "", "Other", TypeOther}, // the prefix needs its slash
	}
	for _, tt := range tests {
		c, u := Classify(tt.url, tt.ua)
		if c != tt.system || u != tt.usage {
			t.Errorf("Classify(%q, %q) = %s, %s; want %s, %s", tt.url, tt.ua, c, u, tt.system, tt.usage)
		}
	}
}

func TestClassifierRules(t *testing.T) {
	c := Classifier{
		{URLPrefix: "/v2/orders/", UserAgentPrefix: "shop-mcp/", System: "Shop MCP", UsageType: TypeMCP},
		{URLPrefix: "/v2/", System: "Shop API", UsageType: TypeOther},
		{UserAgentPrefix: "shop-mcp/", System: "never: the first match wins", UsageType: TypeOther},
	}
	for _, tt := range []struct {
		url, ua string
		system  ClientClass
		usage   Type
	}{
		{"/v2/orders/1", "shop-mcp/1.0", "Shop MCP", TypeMCP}, // both prefixes
		{"/v2/orders/1", "curl/8", "Shop API", TypeOther},     // the first needs both
		{"/v3/x", "shop-mcp/1.0", "never: the first match wins", TypeOther},
		{"/v3/x", "", "Other", TypeOther},
	} {
		if s, u := c.Classify(tt.url, tt.ua); s != tt.system || u != tt.usage {
			t.Errorf("%q %q: %s %s, want %s %s", tt.url, tt.ua, s, u, tt.system, tt.usage)
		}
	}
	if ClientSlack.Label() != "Slack" || ClientClass("Shop MCP").Label() != "Shop MCP" || ClientClass("").Label() != "Other" {
		t.Error("labels of stored classes")
	}
}

func TestValidateRules(t *testing.T) {
	ok := Rule{URLPrefix: "/v1/", System: "S", UsageType: TypeOther}
	many := make([]Rule, MaxRules+1)
	for i := range many {
		many[i] = ok
	}
	for _, c := range []struct {
		rules []Rule
		want  string
	}{
		{[]Rule{ok}, ""},
		{nil, ""},
		{[]Rule{ok, {System: "S", UsageType: TypeOther}}, "rules[1]: give a url_prefix"},
		{[]Rule{{URLPrefix: "/x", System: "S", UsageType: "ai"}}, `rules[0].usage_type: unknown usage type "ai"`},
		{[]Rule{{URLPrefix: "x/", System: "S", UsageType: TypeMCP}}, "rules[0].url_prefix"},
		{[]Rule{{UserAgentPrefix: "x/", UsageType: TypeMCP}}, "rules[0].system"},
		{many, "201 rules, at most 200"},
	} {
		err := ValidateRules(c.rules)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%d rules: %v, want %q", len(c.rules), err, c.want)
		}
	}
}
