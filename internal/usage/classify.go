package usage

import (
	"strings"
)

// ClientClass is the kind of client behind an API call, as seed 000 tells it
// from the URL prefix and the User-Agent.
type ClientClass string

// Client classes of seed 000.
const (
	ClientSlack      ClientClass = "slack"
	ClientAIBackend  ClientClass = "ai_backend"
	ClientMCP        ClientClass = "mcp"
	ClientRESTClient ClientClass = "rest_client"
	ClientOther      ClientClass = "other"
)

// Label is the name the exports print for a class ("Remote System Info").
func (c ClientClass) Label() string {
	switch c {
	case ClientSlack:
		return "Slack"
	case ClientAIBackend:
		return "AI backend"
	case ClientMCP:
		return "MCP server"
	case ClientRESTClient:
		return "REST client"
	}
	return "Other"
}

// Type splits API usage into MCP and everything else (seed 000 "Type").
type Type string

// Usage types.
const (
	TypeMCP   Type = "mcp"
	TypeOther Type = "other"
)

// userAgentRules are checked first: the User-Agent names the program that
// called, which is more specific than the URL it called.
var userAgentRules = []struct {
	match func(product string) bool
	class ClientClass
}{
	{func(p string) bool { return strings.HasSuffix(p, "-mcp-server") }, ClientMCP},
	{func(p string) bool { return p == "java" }, ClientSlack},
	{func(p string) bool { return p == "axios" }, ClientAIBackend},
	{func(p string) bool { return p == "postmanruntime" }, ClientRESTClient},
}

// urlRules apply when the User-Agent says nothing known. /a/rest/v1/ is used by
// both REST tools and MCP servers, so it maps to a REST client only as a
// fallback.
var urlRules = []struct {
	prefix string
	class  ClientClass
}{
	{"/a/rest/chat/", ClientSlack},
	{"/a/rest/backend/v1/", ClientAIBackend},
	{"/a/rest/v1/", ClientRESTClient},
}

// Classify derives the client class and usage type of an API call from the
// path it called and its User-Agent header.
func Classify(url, userAgent string) (ClientClass, Type) {
	class := classify(url, userAgent)
	if class == ClientMCP {
		return class, TypeMCP
	}
	return class, TypeOther
}

func classify(url, userAgent string) ClientClass {
	if product := uaProduct(userAgent); product != "" {
		for _, r := range userAgentRules {
			if r.match(product) {
				return r.class
			}
		}
	}
	path := url
	if i := strings.Index(path, "://"); i >= 0 {
		// A full URL: keep the path only.
		rest := path[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			path = rest[j:]
		} else {
			path = "/"
		}
	}
	for _, r := range urlRules {
		if strings.HasPrefix(path, r.prefix) {
			return r.class
		}
	}
	return ClientOther
}

// uaProduct returns the lower-cased product token of a User-Agent, the part
// before the first "/" of its first word: "Java/21.0.5" gives "java".
func uaProduct(ua string) string {
	ua = strings.TrimSpace(ua)
	if i := strings.IndexAny(ua, " \t("); i >= 0 {
		ua = ua[:i]
	}
	i := strings.IndexByte(ua, '/')
	if i <= 0 {
		return ""
	}
	return strings.ToLower(ua[:i])
}
