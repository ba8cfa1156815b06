// Package usage holds usagelog's domain: events, filters, errors and the
// interfaces its stores implement.
package usage

import (
	"time"
)

// Kind names what an event records.
type Kind string

// The event kinds of the ingest contract.
const (
	KindAPIRequest Kind = "api_request"
	KindActivity   Kind = "activity"
	KindSync       Kind = "sync"
	KindUserSeen   Kind = "user_seen"
)

// Kinds lists every kind, in a fixed order.
var Kinds = []Kind{KindAPIRequest, KindActivity, KindSync, KindUserSeen}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	switch k {
	case KindAPIRequest, KindActivity, KindSync, KindUserSeen:
		return true
	}
	return false
}

// Event is one ingested observation. It is flat: the fields of every kind
// live side by side and a kind uses only its own, so one table (and one
// ClickHouse ReplacingMergeTree) can hold them all.
type Event struct {
	Kind Kind
	ID   string
	Time time.Time // UTC, millisecond precision

	// api_request
	Method         string
	URL            string
	Endpoint       string
	Status         int
	GatewayCode    int
	StatusDetails  string
	Community      string
	Collection     string
	CollectionType string
	Client         string
	MemberID       string
	MemberName     string
	IP             string
	UserAgent      string
	TimingMS       int64
	DelayMS        int64
	JobURL         string
	// Derived from URL and UserAgent at ingest, stored for filtering.
	ClientClass ClientClass
	UsageType   Type

	// activity
	UserID       string
	UserEmail    string
	UserName     string
	Feature      string
	AssistantID  string
	Assistant    string
	WorkflowID   string
	Workflow     string
	ProjectID    string
	Project      string
	Model        string
	APIKey       string
	Messages     int64
	InputTokens  int64
	OutputTokens int64

	// sync
	Integration          string
	System1              string
	System2              string
	Project1             string
	Project2             string
	EndSystem            string
	EntityType           string
	EntityID             string
	IntegrationStatus    string
	IntegrationUpdatedAt time.Time
	Outcome              string

	// user_seen
	System         string
	Email          string
	Username       string
	DisplayName    string
	Interaction    string
	ServiceAccount bool
}

// Enumerated field values of the ingest contract.
var (
	CollectionTypes     = []string{"recipe", "proxy"}
	Features            = []string{"chat", "agent", "workflow", "api"}
	IntegrationStatuses = []string{"active", "inactive"}
	Outcomes            = []string{"synced", "failed"}
	Interactions        = []string{"comment_author", "attachment_author", "mapped_user_field", "mention", "update_author"}
)

// Success reports whether an api_request succeeded (status below 400).
func (e *Event) Success() bool { return e.Status < 400 }

// TypeText is the seed 002 "Type" column: Success below 400, else Error.
func TypeText(status int) string {
	if status < 400 {
		return "Success"
	}
	return "Error"
}

// TruncateMS drops precision below a millisecond and converts to UTC, the
// form in which every time is stored.
func TruncateMS(t time.Time) time.Time {
	return time.UnixMilli(t.UnixMilli()).UTC()
}
