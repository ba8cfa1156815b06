package usage

// Field is one field of Event as the ingest contract, the stores and the
// API name it. This table is the one place an event's fields are listed:
// the ingest decoder and encoder, the length checks, the events table's
// columns and the API's log items are made from it (TestFieldsCoverEvent
// fails when an Event field is missing here).
type Field struct {
	Name string
	Kind Kind // "" for the fields every kind has
	// Required: an event of Kind is refused without it.
	Required bool
	// Derived: computed at ingest (from the URL and user agent), stored
	// and shown, never taken from a client.
	Derived bool
	Enum    []string // the values it may take, when it is an enumeration
	// Ptr is the field in e: *string, *int, *int64, *bool, *time.Time,
	// *Kind, *ClientClass or *Type. Readers and writers share it, so they
	// cannot disagree.
	Ptr func(e *Event) any
}

const (
	api  = KindAPIRequest
	act  = KindActivity
	syn  = KindSync
	seen = KindUserSeen
)

// Fields lists every field of Event, those of every kind first, then each
// kind's in the order the contract gives them.
var Fields = []Field{
	{Name: "kind", Required: true, Ptr: func(e *Event) any { return &e.Kind }},
	{Name: "id", Required: true, Ptr: func(e *Event) any { return &e.ID }},
	{Name: "time", Required: true, Ptr: func(e *Event) any { return &e.Time }},

	{Name: "method", Kind: api, Ptr: func(e *Event) any { return &e.Method }},
	{Name: "url", Kind: api, Ptr: func(e *Event) any { return &e.URL }},
	{Name: "endpoint", Kind: api, Ptr: func(e *Event) any { return &e.Endpoint }},
	{Name: "status", Kind: api, Required: true, Ptr: func(e *Event) any { return &e.Status }},
	{Name: "gateway_code", Kind: api, Ptr: func(e *Event) any { return &e.GatewayCode }},
	{Name: "status_details", Kind: api, Ptr: func(e *Event) any { return &e.StatusDetails }},
	{Name: "community", Kind: api, Ptr: func(e *Event) any { return &e.Community }},
	{Name: "collection", Kind: api, Ptr: func(e *Event) any { return &e.Collection }},
	{Name: "collection_type", Kind: api, Enum: CollectionTypes, Ptr: func(e *Event) any { return &e.CollectionType }},
	{Name: "client", Kind: api, Ptr: func(e *Event) any { return &e.Client }},
	{Name: "member_id", Kind: api, Ptr: func(e *Event) any { return &e.MemberID }},
	{Name: "member_name", Kind: api, Ptr: func(e *Event) any { return &e.MemberName }},
	{Name: "ip", Kind: api, Ptr: func(e *Event) any { return &e.IP }},
	{Name: "user_agent", Kind: api, Ptr: func(e *Event) any { return &e.UserAgent }},
	{Name: "timing_ms", Kind: api, Ptr: func(e *Event) any { return &e.TimingMS }},
	{Name: "delay_ms", Kind: api, Ptr: func(e *Event) any { return &e.DelayMS }},
	{Name: "job_url", Kind: api, Ptr: func(e *Event) any { return &e.JobURL }},
	{Name: "client_class", Kind: api, Derived: true, Ptr: func(e *Event) any { return &e.ClientClass }},
	{Name: "usage_type", Kind: api, Derived: true, Ptr: func(e *Event) any { return &e.UsageType }},

	{Name: "user_id", Kind: act, Required: true, Ptr: func(e *Event) any { return &e.UserID }},
	{Name: "user_email", Kind: act, Ptr: func(e *Event) any { return &e.UserEmail }},
	{Name: "user_name", Kind: act, Ptr: func(e *Event) any { return &e.UserName }},
	{Name: "feature", Kind: act, Enum: Features, Ptr: func(e *Event) any { return &e.Feature }},
	{Name: "assistant_id", Kind: act, Ptr: func(e *Event) any { return &e.AssistantID }},
	{Name: "assistant", Kind: act, Ptr: func(e *Event) any { return &e.Assistant }},
	{Name: "workflow_id", Kind: act, Ptr: func(e *Event) any { return &e.WorkflowID }},
	{Name: "workflow", Kind: act, Ptr: func(e *Event) any { return &e.Workflow }},
	{Name: "project_id", Kind: act, Ptr: func(e *Event) any { return &e.ProjectID }},
	{Name: "project", Kind: act, Ptr: func(e *Event) any { return &e.Project }},
	{Name: "model", Kind: act, Ptr: func(e *Event) any { return &e.Model }},
	{Name: "api_key", Kind: act, Ptr: func(e *Event) any { return &e.APIKey }},
	{Name: "messages", Kind: act, Ptr: func(e *Event) any { return &e.Messages }},
	{Name: "input_tokens", Kind: act, Ptr: func(e *Event) any { return &e.InputTokens }},
	{Name: "output_tokens", Kind: act, Ptr: func(e *Event) any { return &e.OutputTokens }},

	{Name: "integration", Kind: syn, Ptr: func(e *Event) any { return &e.Integration }},
	{Name: "system1", Kind: syn, Ptr: func(e *Event) any { return &e.System1 }},
	{Name: "system2", Kind: syn, Ptr: func(e *Event) any { return &e.System2 }},
	{Name: "project1", Kind: syn, Ptr: func(e *Event) any { return &e.Project1 }},
	{Name: "project2", Kind: syn, Ptr: func(e *Event) any { return &e.Project2 }},
	{Name: "end_system", Kind: syn, Ptr: func(e *Event) any { return &e.EndSystem }},
	{Name: "entity_type", Kind: syn, Ptr: func(e *Event) any { return &e.EntityType }},
	{Name: "entity_id", Kind: syn, Ptr: func(e *Event) any { return &e.EntityID }},
	{Name: "integration_status", Kind: syn, Enum: IntegrationStatuses, Ptr: func(e *Event) any { return &e.IntegrationStatus }},
	{Name: "integration_updated_at", Kind: syn, Ptr: func(e *Event) any { return &e.IntegrationUpdatedAt }},
	{Name: "outcome", Kind: syn, Enum: Outcomes, Ptr: func(e *Event) any { return &e.Outcome }},

	{Name: "system", Kind: seen, Required: true, Ptr: func(e *Event) any { return &e.System }},
	{Name: "email", Kind: seen, Ptr: func(e *Event) any { return &e.Email }},
	{Name: "username", Kind: seen, Ptr: func(e *Event) any { return &e.Username }},
	{Name: "display_name", Kind: seen, Ptr: func(e *Event) any { return &e.DisplayName }},
	{Name: "interaction", Kind: seen, Enum: Interactions, Ptr: func(e *Event) any { return &e.Interaction }},
	{Name: "service_account", Kind: seen, Ptr: func(e *Event) any { return &e.ServiceAccount }},
}

// KindFields are the fields an event of kind k has, those of every kind
// first.
func KindFields(k Kind) []Field { return kindFields[k] }

var kindFields = func() map[Kind][]Field {
	m := map[Kind][]Field{}
	for _, k := range Kinds {
		for _, f := range Fields {
			if f.Kind == "" || f.Kind == k {
				m[k] = append(m[k], f)
			}
		}
	}
	return m
}()
