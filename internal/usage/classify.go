package usage

import (
	"fmt"
	"strings"
)

// ClientClass is the system behind an API call, as the workspace's
// classification rules tell it from the URL prefix and the User-Agent.
type ClientClass string

// The client classes stored before classification rules existed (events
// stored since hold the rule's system).
const (
	ClientSlack      ClientClass = "slack"
	ClientAIBackend  ClientClass = "ai_backend"
	ClientMCP        ClientClass = "mcp"
	ClientRESTClient ClientClass = "rest_client"
	ClientOther      ClientClass = "other"
)

// Label is the name the exports print for a class ("Remote System Info"):
// the system a rule named, or for the codes stored before classification
// rules existed, their names.
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
	case ClientOther, "":
		return NoMatchSystem
	}
	return string(c)
}

// Type splits API usage into MCP and everything else (seed 000 "Type").
type Type string

// Usage types.
const (
	TypeMCP   Type = "mcp"
	TypeOther Type = "other"
)

// Rule classifies the API calls it matches: a rule matches when every
// prefix it gives matches (at least one is given); the first rule that
// matches decides. System is what the API usage export's Remote System
// Info names.
type Rule struct {
	URLPrefix       string `json:"url_prefix"`
	UserAgentPrefix string `json:"user_agent_prefix"`
	System          string `json:"system"`
	UsageType       Type   `json:"usage_type"`
}

// DefaultRules are the classification of a workspace that set none: what
// a User-Agent names is more specific than the URL it called, so those
// rules come first; /a/rest/v1/ is used by both REST tools and MCP
// servers, so it names a REST client only when the User-Agent did not.
var DefaultRules = []Rule{
	{UserAgentPrefix: "ideascale-mcp-server/", System: "MCP server", UsageType: TypeMCP},
	{UserAgentPrefix: "Java/", System: "Slack", UsageType: TypeOther},
	{UserAgentPrefix: "axios/", System: "AI backend", UsageType: TypeOther},
	{UserAgentPrefix: "PostmanRuntime/", System: "REST client", UsageType: TypeOther},
	{URLPrefix: "/a/rest/chat/", System: "Slack", UsageType: TypeOther},
	{URLPrefix: "/a/rest/backend/v1/", System: "AI backend", UsageType: TypeOther},
	{URLPrefix: "/a/rest/v1/", System: "REST client", UsageType: TypeOther},
}

// Limits of a workspace's rules.
const (
	MaxRules      = 200
	MaxRuleLength = 500
)

// NoMatchSystem is the system of a call no rule matches.
const NoMatchSystem = "Other"

// ValidateRules checks a list of rules and returns the first problem,
// naming the rule: usage.EInvalid.
func ValidateRules(rules []Rule) error {
	if len(rules) > MaxRules {
		return Errorf(EInvalid, "rules: %d rules, at most %d", len(rules), MaxRules)
	}
	for i, r := range rules {
		if field, problem := r.problem(); problem != "" {
			return Errorf(EInvalid, "rules[%d]%s: %s", i, field, problem)
		}
	}
	return nil
}

// Problem says what is wrong with r, "" when nothing is: the field (".system")
// or "" for the rule, and the problem.
func (r Rule) problem() (field, problem string) {
	switch {
	case r.URLPrefix == "" && r.UserAgentPrefix == "":
		return "", "give a url_prefix, a user_agent_prefix or both"
	case r.URLPrefix != "" && !strings.HasPrefix(r.URLPrefix, "/"):
		return ".url_prefix", fmt.Sprintf("%q must start with / (a path)", r.URLPrefix)
	case strings.TrimSpace(r.System) == "":
		return ".system", "name the system the calls come from"
	case r.UsageType != TypeMCP && r.UsageType != TypeOther:
		return ".usage_type", fmt.Sprintf("unknown usage type %q (want mcp or other)", r.UsageType)
	case len(r.URLPrefix) > MaxRuleLength || len(r.UserAgentPrefix) > MaxRuleLength || len(r.System) > MaxRuleLength:
		return "", fmt.Sprintf("a prefix or system longer than %d bytes", MaxRuleLength)
	}
	return "", ""
}

// Validate is what is wrong with r, for a caller that names rules its own
// way (the console's lines): usage.EInvalid, or nil.
func (r Rule) Validate() error {
	field, problem := r.problem()
	if problem == "" {
		return nil
	}
	if field != "" {
		return Errorf(EInvalid, "%s: %s", strings.TrimPrefix(field, "."), problem)
	}
	return Errorf(EInvalid, "%s", problem)
}

// Classifier classifies calls by a list of rules.
type Classifier []Rule

// Classify derives the system (stored as the call's client class) and
// usage type of an API call from the path it called and its User-Agent:
// the first rule that matches, else Other and other. User-Agent prefixes
// match whatever the case of their ASCII letters, after ASCII white space
// around the User-Agent; bytes otherwise, so that the stores can classify
// stored calls again in SQL exactly as this does (Reclassify).
func (c Classifier) Classify(url, userAgent string) (ClientClass, Type) {
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
	ua := strings.Trim(userAgent, ASCIISpace)
	for _, r := range c {
		if r.URLPrefix != "" && !strings.HasPrefix(path, r.URLPrefix) {
			continue
		}
		if r.UserAgentPrefix != "" && !hasPrefixFold(ua, r.UserAgentPrefix) {
			continue
		}
		return ClientClass(r.System), r.UsageType
	}
	return ClientClass(NoMatchSystem), TypeOther
}

// ASCIISpace is the white space trimmed around a User-Agent before it is
// matched.
const ASCIISpace = " \t\n\v\f\r"

// hasPrefixFold reports whether s begins with prefix, ASCII letters of
// either case matching.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if lowerASCII(s[i]) != lowerASCII(prefix[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// Classify classifies a call by DefaultRules.
func Classify(url, userAgent string) (ClientClass, Type) {
	return Classifier(DefaultRules).Classify(url, userAgent)
}
