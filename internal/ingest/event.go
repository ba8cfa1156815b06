// Package ingest decodes events of the ingest contract from NDJSON, JSON
// arrays and CSV, one record at a time, so that a body is never held whole.
package ingest

import (
	"errors"
	"fmt"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/usagelog/usagelog/internal/usage"
)

// MaxIDLength bounds event ids; an id is a key, not a payload.
const MaxIDLength = 256

// MaxFieldLength bounds every string field, so one event cannot be a
// megabyte of user agent.
const MaxFieldLength = 8192

// wire is an event as it arrives. Pointers tell a missing field from a
// zero. The kind tag says which kind a field belongs to, and whether it is
// required there, for the API description (Fields).
type wire struct {
	Kind *string `json:"kind" kind:"all,required"`
	ID   *string `json:"id" kind:"all,required"`
	Time *string `json:"time" kind:"all,required"`

	Method         string `json:"method" kind:"api_request"`
	URL            string `json:"url" kind:"api_request"`
	Endpoint       string `json:"endpoint" kind:"api_request"`
	Status         *int   `json:"status" kind:"api_request,required"`
	GatewayCode    int    `json:"gateway_code" kind:"api_request"`
	StatusDetails  string `json:"status_details" kind:"api_request"`
	Community      string `json:"community" kind:"api_request"`
	Collection     string `json:"collection" kind:"api_request"`
	CollectionType string `json:"collection_type" kind:"api_request"`
	Client         string `json:"client" kind:"api_request"`
	MemberID       string `json:"member_id" kind:"api_request"`
	MemberName     string `json:"member_name" kind:"api_request"`
	IP             string `json:"ip" kind:"api_request"`
	UserAgent      string `json:"user_agent" kind:"api_request"`
	TimingMS       int64  `json:"timing_ms" kind:"api_request"`
	DelayMS        int64  `json:"delay_ms" kind:"api_request"`
	JobURL         string `json:"job_url" kind:"api_request"`

	UserID       *string `json:"user_id" kind:"activity,required"`
	UserEmail    string  `json:"user_email" kind:"activity"`
	UserName     string  `json:"user_name" kind:"activity"`
	Feature      string  `json:"feature" kind:"activity"`
	AssistantID  string  `json:"assistant_id" kind:"activity"`
	Assistant    string  `json:"assistant" kind:"activity"`
	WorkflowID   string  `json:"workflow_id" kind:"activity"`
	Workflow     string  `json:"workflow" kind:"activity"`
	ProjectID    string  `json:"project_id" kind:"activity"`
	Project      string  `json:"project" kind:"activity"`
	Model        string  `json:"model" kind:"activity"`
	APIKey       string  `json:"api_key" kind:"activity"`
	Messages     *int64  `json:"messages" kind:"activity"`
	InputTokens  int64   `json:"input_tokens" kind:"activity"`
	OutputTokens int64   `json:"output_tokens" kind:"activity"`

	Integration          string `json:"integration" kind:"sync"`
	System1              string `json:"system1" kind:"sync"`
	System2              string `json:"system2" kind:"sync"`
	Project1             string `json:"project1" kind:"sync"`
	Project2             string `json:"project2" kind:"sync"`
	EndSystem            string `json:"end_system" kind:"sync"`
	EntityType           string `json:"entity_type" kind:"sync"`
	EntityID             string `json:"entity_id" kind:"sync"`
	IntegrationStatus    string `json:"integration_status" kind:"sync"`
	IntegrationUpdatedAt string `json:"integration_updated_at" kind:"sync"`
	Outcome              string `json:"outcome" kind:"sync"`

	System         *string `json:"system" kind:"user_seen,required"`
	Email          string  `json:"email" kind:"user_seen"`
	Username       string  `json:"username" kind:"user_seen"`
	DisplayName    string  `json:"display_name" kind:"user_seen"`
	Interaction    string  `json:"interaction" kind:"user_seen"`
	ServiceAccount bool    `json:"service_account" kind:"user_seen"`
}

// ParseJSON decodes and validates one event given as a JSON object. Its
// errors name the field at fault.
func ParseJSON(data []byte) (usage.Event, error) {
	var w wire
	return parseInto(data, &w)
}

// parseInto is ParseJSON into a zero w that the caller provides: the
// decoder reuses one rather than allocate one an event.
func parseInto(data []byte, w *wire) (usage.Event, error) {
	if !fastWire(data, w) {
		*w = wire{}
		if err := jsonv2.Unmarshal(data, w, jsonv2.RejectUnknownMembers(true)); err != nil {
			return usage.Event{}, jsonError(err)
		}
	}
	return w.event()
}

// Check validates and normalises an event that is already a struct: the
// same rules and errors as ParseJSON on MarshalJSON's encoding of it
// (FuzzCheckMatchesJSON), without the round trip through JSON. The capture
// package records through it.
func Check(e *usage.Event) (usage.Event, error) {
	v := validUTF8
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		s = v(s)
		return &s
	}
	kind, id, t := v(string(e.Kind)), v(e.ID), e.Time.UTC().Format(rfc3339ms)
	w := wire{
		Kind: &kind, ID: &id, Time: &t,
		Method: v(e.Method), URL: v(e.URL), Endpoint: v(e.Endpoint), GatewayCode: e.GatewayCode,
		StatusDetails: v(e.StatusDetails), Community: v(e.Community), Collection: v(e.Collection), CollectionType: v(e.CollectionType),
		Client: v(e.Client), MemberID: v(e.MemberID), MemberName: v(e.MemberName), IP: v(e.IP), UserAgent: v(e.UserAgent),
		TimingMS: e.TimingMS, DelayMS: e.DelayMS, JobURL: v(e.JobURL),
		UserID: opt(e.UserID), UserEmail: v(e.UserEmail), UserName: v(e.UserName), Feature: v(e.Feature), AssistantID: v(e.AssistantID),
		Assistant: v(e.Assistant), WorkflowID: v(e.WorkflowID), Workflow: v(e.Workflow), ProjectID: v(e.ProjectID), Project: v(e.Project),
		Model: v(e.Model), APIKey: v(e.APIKey), InputTokens: e.InputTokens, OutputTokens: e.OutputTokens,
		Integration: v(e.Integration), System1: v(e.System1), System2: v(e.System2), Project1: v(e.Project1), Project2: v(e.Project2),
		EndSystem: v(e.EndSystem), EntityType: v(e.EntityType), EntityID: v(e.EntityID), IntegrationStatus: v(e.IntegrationStatus),
		Outcome: v(e.Outcome), System: opt(e.System), Email: v(e.Email), Username: v(e.Username), DisplayName: v(e.DisplayName),
		Interaction: v(e.Interaction), ServiceAccount: e.ServiceAccount,
	}
	if e.Status != 0 {
		w.Status = &e.Status
	}
	if e.Kind == usage.KindActivity {
		m := e.Messages
		w.Messages = &m
	}
	if !e.IntegrationUpdatedAt.IsZero() {
		w.IntegrationUpdatedAt = e.IntegrationUpdatedAt.UTC().Format(rfc3339ms)
	}
	return w.event()
}

// validUTF8 replaces each byte that is not UTF-8 with U+FFFD, as
// encoding/json does when it writes a string.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// jsonError rewrites decoding errors so that they name the field in the
// contract's words.
func jsonError(err error) error {
	var se *jsonv2.SemanticError
	if errors.As(err, &se) {
		field := strings.TrimPrefix(string(se.JSONPointer), "/")
		if errors.Is(err, jsonv2.ErrUnknownName) {
			return fmt.Errorf("unknown field %q", field)
		}
		got := "this value"
		if se.JSONKind != 0 {
			got = "a " + se.JSONKind.String()
			switch se.JSONKind {
			case '{':
				got = "an object"
			case '[':
				got = "an array"
			case 't', 'f':
				got = "a boolean"
			}
		}
		if field == "" {
			return fmt.Errorf("an event must be a JSON object, not %s", got)
		}
		want := "a string"
		if se.GoType != nil {
			t := se.GoType
			if t.Kind() == reflect.Pointer {
				t = t.Elem()
			}
			switch t.Kind() {
			case reflect.Int, reflect.Int64:
				want = "a whole number"
			case reflect.Bool:
				want = "true or false"
			}
		}
		return fmt.Errorf("field %q: must be %s, not %s", field, want, got)
	}
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return errors.New("malformed JSON: unexpected end of input")
		}
		msg := strings.TrimPrefix(syn.Err.Error(), "jsontext: ")
		return fmt.Errorf("malformed JSON at byte %d: %s", syn.ByteOffset, msg)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("malformed JSON: unexpected end of input")
	}
	return fmt.Errorf("malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

func (w *wire) event() (usage.Event, error) {
	var e usage.Event
	if w.Kind == nil || *w.Kind == "" {
		return e, errors.New(`field "kind": required`)
	}
	e.Kind = usage.Kind(*w.Kind)
	if !e.Kind.Valid() {
		return e, fmt.Errorf(`field "kind": unknown kind %q (want api_request, activity, sync or user_seen)`, *w.Kind)
	}
	if w.ID == nil || strings.TrimSpace(*w.ID) == "" {
		return e, errors.New(`field "id": required`)
	}
	if len(*w.ID) > MaxIDLength {
		return e, fmt.Errorf(`field "id": longer than %d bytes`, MaxIDLength)
	}
	e.ID = *w.ID
	if w.Time == nil || *w.Time == "" {
		return e, errors.New(`field "time": required`)
	}
	t, err := parseTime(*w.Time)
	if err != nil {
		return e, fmt.Errorf(`field "time": %w`, err)
	}
	e.Time = t

	switch e.Kind {
	case usage.KindAPIRequest:
		if w.Status == nil {
			return e, errors.New(`field "status": required for api_request`)
		}
		if *w.Status < 100 || *w.Status > 599 {
			return e, fmt.Errorf(`field "status": %d is not an HTTP status code (100-599)`, *w.Status)
		}
		if err := oneOf("collection_type", w.CollectionType); err != nil {
			return e, err
		}
		if w.TimingMS < 0 || w.DelayMS < 0 {
			return e, errors.New(`fields "timing_ms" and "delay_ms": must not be negative`)
		}
		e.Method, e.URL, e.Endpoint, e.Status = strings.ToUpper(w.Method), w.URL, w.Endpoint, *w.Status
		e.GatewayCode, e.StatusDetails, e.Community, e.Collection = w.GatewayCode, w.StatusDetails, w.Community, w.Collection
		e.CollectionType, e.Client, e.MemberID, e.MemberName = w.CollectionType, w.Client, w.MemberID, w.MemberName
		e.IP, e.UserAgent, e.TimingMS, e.DelayMS, e.JobURL = w.IP, w.UserAgent, w.TimingMS, w.DelayMS, w.JobURL
		e.ClientClass, e.UsageType = usage.Classify(e.URL, e.UserAgent)
	case usage.KindActivity:
		if w.UserID == nil || *w.UserID == "" {
			return e, errors.New(`field "user_id": required for activity`)
		}
		if err := oneOf("feature", w.Feature); err != nil {
			return e, err
		}
		e.UserID, e.UserEmail, e.UserName, e.Feature = *w.UserID, w.UserEmail, w.UserName, w.Feature
		e.AssistantID, e.Assistant, e.WorkflowID, e.Workflow = w.AssistantID, w.Assistant, w.WorkflowID, w.Workflow
		e.ProjectID, e.Project, e.Model, e.APIKey = w.ProjectID, w.Project, w.Model, w.APIKey
		e.Messages = 1
		if w.Messages != nil {
			e.Messages = *w.Messages
		}
		if e.Messages < 0 || w.InputTokens < 0 || w.OutputTokens < 0 {
			return e, errors.New(`fields "messages", "input_tokens" and "output_tokens": must not be negative`)
		}
		e.InputTokens, e.OutputTokens = w.InputTokens, w.OutputTokens
	case usage.KindSync:
		if err := oneOf("integration_status", w.IntegrationStatus); err != nil {
			return e, err
		}
		if err := oneOf("outcome", w.Outcome); err != nil {
			return e, err
		}
		if w.IntegrationUpdatedAt != "" {
			t, err := parseTime(w.IntegrationUpdatedAt)
			if err != nil {
				return e, fmt.Errorf(`field "integration_updated_at": %w`, err)
			}
			e.IntegrationUpdatedAt = t
		}
		e.Integration, e.System1, e.System2, e.Project1, e.Project2 = w.Integration, w.System1, w.System2, w.Project1, w.Project2
		e.EndSystem, e.EntityType, e.EntityID = w.EndSystem, w.EntityType, w.EntityID
		e.IntegrationStatus, e.Outcome = w.IntegrationStatus, w.Outcome
	case usage.KindUserSeen:
		if w.System == nil || strings.TrimSpace(*w.System) == "" {
			return e, errors.New(`field "system": required for user_seen`)
		}
		if err := oneOf("interaction", w.Interaction); err != nil {
			return e, err
		}
		e.System, e.Email, e.Username, e.DisplayName = *w.System, w.Email, w.Username, w.DisplayName
		e.Interaction, e.ServiceAccount = w.Interaction, w.ServiceAccount
	}
	if name := tooLong(&e); name != "" {
		return e, fmt.Errorf("field %q: longer than %d bytes", name, MaxFieldLength)
	}
	return e, nil
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time with offset (e.g. 2026-01-31T09:30:00Z)", s)
	}
	if t.Year() < 1970 || t.Year() > 9999 {
		return time.Time{}, fmt.Errorf("%q is out of range", s)
	}
	return usage.TruncateMS(t), nil
}

// enums are the values a field may take (empty: not given).
var enums = map[string][]string{
	"collection_type":    usage.CollectionTypes,
	"feature":            usage.Features,
	"integration_status": usage.IntegrationStatuses,
	"outcome":            usage.Outcomes,
	"interaction":        usage.Interactions,
}

func oneOf(field, value string) error {
	allowed := enums[field]
	if value == "" || slices.Contains(allowed, value) {
		return nil
	}
	return fmt.Errorf("field %q: unknown value %q (want %s)", field, value, strings.Join(allowed, ", "))
}

func tooLong(e *usage.Event) string {
	fields := []struct {
		name, v string
	}{
		{"url", e.URL}, {"endpoint", e.Endpoint}, {"user_agent", e.UserAgent}, {"status_details", e.StatusDetails},
		{"job_url", e.JobURL}, {"community", e.Community}, {"collection", e.Collection}, {"client", e.Client},
		{"member_name", e.MemberName}, {"ip", e.IP}, {"method", e.Method}, {"member_id", e.MemberID},
		{"user_id", e.UserID}, {"user_email", e.UserEmail}, {"user_name", e.UserName}, {"assistant", e.Assistant},
		{"assistant_id", e.AssistantID}, {"workflow", e.Workflow}, {"workflow_id", e.WorkflowID}, {"project", e.Project},
		{"project_id", e.ProjectID}, {"model", e.Model}, {"api_key", e.APIKey}, {"integration", e.Integration},
		{"system1", e.System1}, {"system2", e.System2}, {"project1", e.Project1}, {"project2", e.Project2},
		{"end_system", e.EndSystem}, {"entity_type", e.EntityType}, {"entity_id", e.EntityID}, {"system", e.System},
		{"email", e.Email}, {"username", e.Username}, {"display_name", e.DisplayName},
	}
	for _, f := range fields {
		if len(f.v) > MaxFieldLength {
			return f.name
		}
	}
	return ""
}
