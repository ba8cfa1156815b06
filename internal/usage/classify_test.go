package usage

import "testing"

func TestClassify(t *testing.T) {
	tests := []struct {
		url, ua string
		class   ClientClass
		usage   Type
	}{
		// The seed's own examples.
		{"/a/rest/chat/ideas", "Java/21.0.5", ClientSlack, TypeOther},
		{"/a/rest/backend/v1/summary", "axios/1.7.7", ClientAIBackend, TypeOther},
		{"/a/rest/v1/ideas", "ideascale-mcp-server/1.0.0", ClientMCP, TypeMCP},
		{"/a/rest/v1/ideas", "PostmanRuntime/7.43.3", ClientRESTClient, TypeOther},
		// Any *-mcp-server is MCP, whatever the URL.
		{"/a/rest/chat/x", "acme-mcp-server/0.1", ClientMCP, TypeMCP},
		{"/anything", "Github-MCP-Server/2.0 (linux)", ClientMCP, TypeMCP},
		// The URL decides when the User-Agent says nothing known.
		{"/a/rest/chat/x", "", ClientSlack, TypeOther},
		{"https://acme.example/a/rest/backend/v1/x?y=1", "curl/8.0", ClientAIBackend, TypeOther},
		{"/a/rest/v1/members", "python-requests/2.32", ClientRESTClient, TypeOther},
		{"/other", "", ClientOther, TypeOther},
		{"", "mcp-server", ClientOther, TypeOther},   // no version: not a product token
		{"/a/rest/chat", "", ClientOther, TypeOther}, // the prefix needs its slash
	}
	for _, tt := range tests {
		c, u := Classify(tt.url, tt.ua)
		if c != tt.class || u != tt.usage {
			t.Errorf("Classify(%q, %q) = %s, %s; want %s, %s", tt.url, tt.ua, c, u, tt.class, tt.usage)
		}
	}
}
