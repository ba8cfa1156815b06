package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// LogsFirstPage runs the first-page benchmark cases on a store holding a
// busy day: the page of 101 rows of day, unfiltered, errors only, and one
// MCP client's calls. Every store's benchmark reads the same pages.
func LogsFirstPage(b *testing.B, s usage.EventStore, day time.Time, mcpClient string) {
	to := day.AddDate(0, 0, 1)
	cases := []struct {
		name string
		f    usage.LogFilter
	}{
		{"Unfiltered", usage.LogFilter{From: day, To: to}},
		{"Errors", usage.LogFilter{From: day, To: to, StatusClasses: []int{4, 5}}},
		{"OneClientMCP", usage.LogFilter{From: day, To: to, Clients: []string{mcpClient}, UsageType: usage.UsageMCP}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				page, err := s.Logs(context.Background(), 1, usage.LogQuery{LogFilter: c.f, Limit: 101})
				if err != nil || len(page) != 101 {
					b.Fatalf("%d rows, %v; want a full page of 101", len(page), err)
				}
			}
		})
	}
}
