package export

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// Entity is one row of a seed 001 usage export: a user, an assistant, a
// workflow, a project, a model or an API key, with its activity over the
// exported range.
type Entity struct {
	ID, Name, Email string
	Messages        int64 // runs, for workflows
	InputTokens     int64
	OutputTokens    int64
	ActiveDays      int
	UniqueUsers     int
	First, Last     time.Time
	Assistants      int    // distinct assistants used (users)
	Models          string // models used, "; "-separated (users)
	Features        string // features used, "; "-separated (users)
}

// entityTime is how the usage exports write times: RFC 3339 in the
// request's timezone.
const entityTime = "2006-01-02T15:04:05Z07:00"

func count(n int64) (int64, bool) { return n, true }

var (
	firstCol = func(h string) Column[*Entity] {
		return TimeColumn(h, entityTime, "yyyy-mm-dd hh:mm:ss", func(r *Entity) time.Time { return r.First })
	}
	lastCol = func(h string) Column[*Entity] {
		return TimeColumn(h, entityTime, "yyyy-mm-dd hh:mm:ss", func(r *Entity) time.Time { return r.Last })
	}
	usersCol = NumberColumn("Unique Users", func(r *Entity) (int64, bool) { return count(int64(r.UniqueUsers)) })
	msgCol   = NumberColumn("Messages", func(r *Entity) (int64, bool) { return count(r.Messages) })
	idCol    = func(h string) Column[*Entity] { return TextColumn(h, func(r *Entity) string { return r.ID }) }
	nameCol  = func(h string) Column[*Entity] { return TextColumn(h, func(r *Entity) string { return r.Name }) }
)

// UsageExport is a seed 001 data type: its report and how activity events
// group into its entities.
type UsageExport struct {
	*Definition[*Entity]
	// key returns the entity an event counts for and its display name;
	// "" skips the event.
	key func(e *usage.Event) (id, name string)
	// runs counts events instead of summing their messages.
	runs bool
}

// UsageExports are the seed 001 data types by name; "agents" is an alias
// of "assistants".
var UsageExports = map[string]*UsageExport{}

func init() {
	for _, u := range []*UsageExport{UsersExport, AssistantsExport, WorkflowsExport, ProjectsExport, ModelsExport, APIKeysExport} {
		UsageExports[u.Name] = u
	}
	UsageExports["agents"] = AssistantsExport
}

// UsageExportNames lists the data types, in the catalogue's order, for
// messages.
func UsageExportNames() string {
	var names []string
	for _, r := range Catalogue {
		if UsageExports[r.Name] == nil {
			continue
		}
		if r.Name == AssistantsExport.Name {
			names = append(names, r.Name+" (or agents)")
			continue
		}
		names = append(names, r.Name)
	}
	return strings.Join(names, ", ")
}

func activity(name string, cols ...Column[*Entity]) *Definition[*Entity] {
	return &Definition[*Entity]{Name: name, Source: "activity events", Aggregates: true, Columns: cols}
}

// The seed 001 data types. Each row is one entity over the whole range;
// README's export reference documents the columns.
var (
	UsersExport = &UsageExport{
		Definition: activity("users",
			idCol("User ID"), nameCol("Name"),
			TextColumn("Email", func(r *Entity) string { return r.Email }),
			msgCol,
			NumberColumn("Active Days", func(r *Entity) (int64, bool) { return count(int64(r.ActiveDays)) }),
			firstCol("First Activity"), lastCol("Last Activity"),
			NumberColumn("Assistants Used", func(r *Entity) (int64, bool) { return count(int64(r.Assistants)) }),
			TextColumn("Models Used", func(r *Entity) string { return r.Models }),
			TextColumn("Features Used", func(r *Entity) string { return r.Features }),
		),
		key: func(e *usage.Event) (string, string) { return e.UserID, e.UserName },
	}
	AssistantsExport = &UsageExport{
		Definition: activity("assistants", idCol("Assistant ID"), nameCol("Assistant"), msgCol, usersCol, lastCol("Last Used")),
		key:        func(e *usage.Event) (string, string) { return e.AssistantID, e.Assistant },
	}
	WorkflowsExport = &UsageExport{
		Definition: activity("workflows", idCol("Workflow ID"), nameCol("Workflow"),
			NumberColumn("Runs", func(r *Entity) (int64, bool) { return count(r.Messages) }),
			usersCol, lastCol("Last Run")),
		key:  func(e *usage.Event) (string, string) { return e.WorkflowID, e.Workflow },
		runs: true,
	}
	ProjectsExport = &UsageExport{
		Definition: activity("projects", idCol("Project ID"), nameCol("Project"), msgCol, usersCol, lastCol("Last Activity")),
		key:        func(e *usage.Event) (string, string) { return e.ProjectID, e.Project },
	}
	ModelsExport = &UsageExport{
		Definition: activity("models", idCol("Model"), msgCol,
			NumberColumn("Input Tokens", func(r *Entity) (int64, bool) { return count(r.InputTokens) }),
			NumberColumn("Output Tokens", func(r *Entity) (int64, bool) { return count(r.OutputTokens) }),
			usersCol),
		key: func(e *usage.Event) (string, string) { return e.Model, e.Model },
	}
	APIKeysExport = &UsageExport{
		Definition: activity("api-keys", idCol("API Key"), msgCol, usersCol, lastCol("Last Used")),
		key:        func(e *usage.Event) (string, string) { return e.APIKey, e.APIKey },
	}
)

// entityState is an entity being aggregated. Its sets grow with distinct
// users, days, assistants, models and features — bounded by the entities'
// variety, not by the number of events.
type entityState struct {
	Entity
	users      map[string]struct{}
	days       map[string]struct{}
	assistants map[string]struct{}
	models     map[string]struct{}
	features   map[string]struct{}
}

func add(set *map[string]struct{}, v string) {
	if v == "" {
		return
	}
	if *set == nil {
		*set = map[string]struct{}{}
	}
	(*set)[v] = struct{}{}
}

func joined(set map[string]struct{}) string {
	return strings.Join(slices.Sorted(maps.Keys(set)), "; ")
}

// Aggregate groups activity events into the export's entities. Days and
// written times are in loc; privacy is applied to each event first, so
// pseudonyms are what is counted and written. Rows come sorted by messages
// (runs), most first, then by id.
func (u *UsageExport) Aggregate(ctx context.Context, events iter.Seq2[*usage.Event, error], loc *time.Location, privacy usage.Privacy) ([]*Entity, error) {
	byID := map[string]*entityState{}
	n := 0
	for e, err := range events {
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", u.Name, err)
		}
		if n++; n%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		privacy.Apply(e)
		id, name := u.key(e)
		if id == "" {
			continue
		}
		st := byID[id]
		if st == nil {
			st = &entityState{Entity: Entity{ID: id}}
			byID[id] = st
		}
		if name != "" {
			st.Name = name
		}
		if e.UserEmail != "" && u == UsersExport {
			st.Email = e.UserEmail
		}
		if u.runs {
			st.Messages++
		} else {
			st.Messages += e.Messages
		}
		st.InputTokens += e.InputTokens
		st.OutputTokens += e.OutputTokens
		if st.First.IsZero() || e.Time.Before(st.First) {
			st.First = e.Time
		}
		if e.Time.After(st.Last) {
			st.Last = e.Time
		}
		add(&st.users, e.UserID)
		if u == UsersExport {
			add(&st.days, e.Time.In(loc).Format(time.DateOnly))
			add(&st.assistants, e.AssistantID)
			add(&st.models, e.Model)
			add(&st.features, e.Feature)
		}
	}
	out := make([]*Entity, 0, len(byID))
	for _, st := range byID {
		st.UniqueUsers = len(st.users)
		st.ActiveDays = len(st.days)
		st.Assistants = len(st.assistants)
		st.Models = joined(st.models)
		st.Features = joined(st.features)
		out = append(out, &st.Entity)
	}
	slices.SortFunc(out, func(a, b *Entity) int {
		if a.Messages != b.Messages {
			if a.Messages > b.Messages {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Rows yields aggregated entities for Write.
func Rows(rows []*Entity) iter.Seq2[*Entity, error] {
	return func(yield func(*Entity, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
}
