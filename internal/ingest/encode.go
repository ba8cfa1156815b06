package ingest

import (
	"encoding/json"

	"github.com/usagelog/usagelog/internal/usage"
)

// out is an event as it is sent: the contract's names, empty fields left out.
type out struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	Time string `json:"time"`

	Method         string `json:"method,omitempty"`
	URL            string `json:"url,omitempty"`
	Endpoint       string `json:"endpoint,omitempty"`
	Status         int    `json:"status,omitempty"`
	GatewayCode    int    `json:"gateway_code,omitempty"`
	StatusDetails  string `json:"status_details,omitempty"`
	Community      string `json:"community,omitempty"`
	Collection     string `json:"collection,omitempty"`
	CollectionType string `json:"collection_type,omitempty"`
	Client         string `json:"client,omitempty"`
	MemberID       string `json:"member_id,omitempty"`
	MemberName     string `json:"member_name,omitempty"`
	IP             string `json:"ip,omitempty"`
	UserAgent      string `json:"user_agent,omitempty"`
	TimingMS       int64  `json:"timing_ms,omitempty"`
	DelayMS        int64  `json:"delay_ms,omitempty"`
	JobURL         string `json:"job_url,omitempty"`

	UserID       string `json:"user_id,omitempty"`
	UserEmail    string `json:"user_email,omitempty"`
	UserName     string `json:"user_name,omitempty"`
	Feature      string `json:"feature,omitempty"`
	AssistantID  string `json:"assistant_id,omitempty"`
	Assistant    string `json:"assistant,omitempty"`
	WorkflowID   string `json:"workflow_id,omitempty"`
	Workflow     string `json:"workflow,omitempty"`
	ProjectID    string `json:"project_id,omitempty"`
	Project      string `json:"project,omitempty"`
	Model        string `json:"model,omitempty"`
	APIKey       string `json:"api_key,omitempty"`
	Messages     *int64 `json:"messages,omitempty"`
	InputTokens  int64  `json:"input_tokens,omitempty"`
	OutputTokens int64  `json:"output_tokens,omitempty"`

	Integration          string `json:"integration,omitempty"`
	System1              string `json:"system1,omitempty"`
	System2              string `json:"system2,omitempty"`
	Project1             string `json:"project1,omitempty"`
	Project2             string `json:"project2,omitempty"`
	EndSystem            string `json:"end_system,omitempty"`
	EntityType           string `json:"entity_type,omitempty"`
	EntityID             string `json:"entity_id,omitempty"`
	IntegrationStatus    string `json:"integration_status,omitempty"`
	IntegrationUpdatedAt string `json:"integration_updated_at,omitempty"`
	Outcome              string `json:"outcome,omitempty"`

	System         string `json:"system,omitempty"`
	Email          string `json:"email,omitempty"`
	Username       string `json:"username,omitempty"`
	DisplayName    string `json:"display_name,omitempty"`
	Interaction    string `json:"interaction,omitempty"`
	ServiceAccount bool   `json:"service_account,omitempty"`
}

const rfc3339ms = "2006-01-02T15:04:05.000Z07:00"

// MarshalJSON encodes e in the ingest contract's form, so that ParseJSON
// gives it back.
func MarshalJSON(e *usage.Event) ([]byte, error) {
	o := out{
		Kind: string(e.Kind), ID: e.ID, Time: e.Time.UTC().Format(rfc3339ms),
		Method: e.Method, URL: e.URL, Endpoint: e.Endpoint, Status: e.Status, GatewayCode: e.GatewayCode,
		StatusDetails: e.StatusDetails, Community: e.Community, Collection: e.Collection, CollectionType: e.CollectionType,
		Client: e.Client, MemberID: e.MemberID, MemberName: e.MemberName, IP: e.IP, UserAgent: e.UserAgent,
		TimingMS: e.TimingMS, DelayMS: e.DelayMS, JobURL: e.JobURL,
		UserID: e.UserID, UserEmail: e.UserEmail, UserName: e.UserName, Feature: e.Feature, AssistantID: e.AssistantID,
		Assistant: e.Assistant, WorkflowID: e.WorkflowID, Workflow: e.Workflow, ProjectID: e.ProjectID, Project: e.Project,
		Model: e.Model, APIKey: e.APIKey, InputTokens: e.InputTokens, OutputTokens: e.OutputTokens,
		Integration: e.Integration, System1: e.System1, System2: e.System2, Project1: e.Project1, Project2: e.Project2,
		EndSystem: e.EndSystem, EntityType: e.EntityType, EntityID: e.EntityID, IntegrationStatus: e.IntegrationStatus,
		Outcome: e.Outcome, System: e.System, Email: e.Email, Username: e.Username, DisplayName: e.DisplayName,
		Interaction: e.Interaction, ServiceAccount: e.ServiceAccount,
	}
	if e.Kind == usage.KindActivity {
		m := e.Messages
		o.Messages = &m
	}
	if !e.IntegrationUpdatedAt.IsZero() {
		o.IntegrationUpdatedAt = e.IntegrationUpdatedAt.UTC().Format(rfc3339ms)
	}
	return json.Marshal(o)
}
