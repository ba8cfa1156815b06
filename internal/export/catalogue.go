package export

import (
	"fmt"
	"slices"
	"strings"

	"github.com/usagelog/usagelog/internal/usage"
)

// Report is an entry of the report catalogue: what every way of running a
// report (the API, export jobs and schedules, the CLI, the console) and
// the report reference (docs/reports.md, written from it) say about it.
type Report struct {
	Name  string
	Title string // as the console and the docs name it
	// Scope is the key scope that runs the report.
	Scope   usage.Scope
	Formats []Format
	// Params are the query parameters it takes besides format: the API
	// documents them, and the reference lists them.
	Params []usage.Param
	// Fields are the columns of its rows; nil for usage-reports, a zip of
	// workbooks whose sheets are UsageReportSheets.
	Fields []Field
	// Kinds are the kinds of events its rows are made of: an erasure
	// lists the files of the reports over the kinds it removed.
	Kinds []usage.Kind
	About string
	// Plan validates a job's filters, format and timezone for the report
	// and plans its run.
	Plan func(Job) (*Run, error)
}

// usageExportParams are what each activity export takes.
var usageExportParams = []usage.Param{
	{Name: "from", Required: true, Description: "A date like 2026-03-01, or an ISO 8601 time, in tz."},
	{Name: "to", Required: true, Description: "A date (the whole day) or an ISO 8601 time, in tz."},
	{Name: "tz", Description: "An IANA timezone; the workspace's setting unless given."},
}

// Catalogue is every report, in the order users meet them.
var Catalogue = []Report{
	logReport(LogReport{Definition: APILogs}, "API logs",
		"One row per API call, newest first: what the API log in the console shows, with the status details."),
	logReport(LogReport{Definition: APIUsage, Params: []usage.Param{typeParam}, Refine: refineAPIUsage}, "API usage export",
		"One row per API call with the caller's community, member, address and kind of client."),
	usageExport(UsersExport, "Users", "One row per user active in the range."),
	usageExport(AssistantsExport, "Assistants", "One row per assistant used in the range; `agents` is the same report."),
	usageExport(WorkflowsExport, "Workflows", "One row per workflow run in the range."),
	usageExport(ProjectsExport, "Projects", "One row per project active in the range."),
	usageExport(ModelsExport, "Models", "One row per model used in the range, with its tokens."),
	usageExport(APIKeysExport, "API keys", "One row per API key used in the range."),
	{Name: "usage-reports", Title: "Usage reports", Scope: usage.ScopeServerMgmtRead, Formats: []Format{"zip"}, Plan: planUsageReports,
		Kinds:  []usage.Kind{usage.KindSync, usage.KindUserSeen},
		Params: []usage.Param{{Name: "tz", Description: "An IANA timezone for the workbooks' times (it covers the last 6 months and the last year); the workspace's setting unless given."}},
		About:  "\"" + UsageReportsName + "\": two workbooks, the last 6 months and the last year, of the integrations' synced data and the users they saw, for licensing. A job of it counts the users of the last year's workbook as its records."},
}

// logReport is the catalogue's entry of a report over api_request events:
// it takes the log filters and its own parameters.
func logReport(r LogReport, title, about string) Report {
	return Report{Name: r.Name, Title: title, Scope: usage.ScopeLogsRead, Formats: Formats, Fields: r.Fields(), Kinds: []usage.Kind{usage.KindAPIRequest},
		Params: append(slices.Clone(usage.FilterParams), r.Params...), About: about, Plan: planLogs(r)}
}

func usageExport(u *UsageExport, title, about string) Report {
	return Report{Name: u.Name, Title: title, Scope: usage.ScopeUsageExportAPI, Formats: Formats, Fields: u.Fields(), Kinds: []usage.Kind{usage.KindActivity},
		Params: usageExportParams, About: about, Plan: planActivity(u)}
}

// LookupReport returns the catalogue's report name; "agents" is
// "assistants".
func LookupReport(name string) (Report, error) {
	if name == "agents" {
		name = AssistantsExport.Name
	}
	for _, r := range Catalogue {
		if r.Name == name {
			return r, nil
		}
	}
	return Report{}, usage.Errorf(usage.EInvalid, "unknown report %q (want %s)", name, ReportNames())
}

// ReportScope is the key scope that runs report name: its catalogue
// entry's, LOGS_READ for a name the catalogue lacks (which then fails as
// unknown with that scope's callers only).
func ReportScope(name string) usage.Scope {
	if r, err := LookupReport(name); err == nil {
		return r.Scope
	}
	return usage.ScopeLogsRead
}

// ReportNames lists the reports, for messages.
func ReportNames() string {
	names := make([]string, len(Catalogue))
	for i, r := range Catalogue {
		names[i] = r.Name
	}
	return strings.Join(names, ", ")
}

// Reference writes the report reference, docs/reports.md, from the
// catalogue.
func Reference() string {
	var b strings.Builder
	b.WriteString("# Reports\n\n")
	b.WriteString("Every report usagelog writes, as its catalogue (`internal/export/catalogue.go`) declares it.\n")
	b.WriteString("This file is written from the catalogue: `UPDATE_REPORTS_DOC=1 go test ./internal/export -run TestReportsReference`.\n")
	b.WriteString("Any report runs as an export job (`POST /api/v1/exports` with its name, filters, format and\n")
	b.WriteString("timezone), on a schedule, and from the CLI (`usagelog export NAME`); the README's API reference\n")
	b.WriteString("gives each one's own endpoint.\n\n")
	b.WriteString("| Report | Name | Scope | Formats |\n|---|---|---|---|\n")
	for _, r := range Catalogue {
		fmt.Fprintf(&b, "| [%s](#%s) | `%s` | `%s` | %s |\n", r.Title, r.Name, r.Name, r.Scope, formats(r.Formats))
	}
	for _, r := range Catalogue {
		fmt.Fprintf(&b, "\n## %s\n\n<a id=\"%s\"></a>`%s` needs `%s`. %s\n\n", r.Title, r.Name, r.Name, r.Scope, r.About)
		b.WriteString("| Parameter | |\n|---|---|\n")
		for _, p := range append(slices.Clone(r.Params), usage.Param{Name: "format", Enum: formatNames(r.Formats), Description: "The file's format; " + string(r.Formats[0]) + " unless given."}) {
			fmt.Fprintf(&b, "| `%s`%s | %s |\n", p.Name, paramNote(p), paramText(p))
		}
		b.WriteString("\n")
		if r.Fields == nil {
			fmt.Fprintf(&b, "Sheets of each workbook: %s.\n", strings.Join(UsageReportSheets, ", "))
			continue
		}
		b.WriteString("| Column | Kind |\n|---|---|\n")
		for _, f := range r.Fields {
			fmt.Fprintf(&b, "| %s | %s |\n", f.Header, kindName(f.Kind))
		}
	}
	return b.String()
}

func formats(fs []Format) string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f)
	}
	return strings.Join(out, ", ")
}

func kindName(k CellKind) string {
	switch k {
	case Number:
		return "number"
	case Time:
		return "time"
	}
	return "text"
}

// paramNote marks a required or repeatable parameter in the reference.
func paramNote(p usage.Param) string {
	switch {
	case p.Required:
		return " (required)"
	case p.Repeat:
		return " (repeatable)"
	}
	return ""
}

// paramText is a parameter's description and choices in the reference.
func paramText(p usage.Param) string {
	t := p.Description
	if len(p.Enum) > 0 {
		if t != "" {
			t += " "
		}
		t += "One of " + "`" + strings.Join(p.Enum, "`, `") + "`."
	}
	return strings.ReplaceAll(t, "|", "\\|")
}

func formatNames(fs []Format) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f)
	}
	return out
}
