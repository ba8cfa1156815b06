package demo

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

func generate(t *testing.T, seed uint64, end time.Time, scale float64) (sum [32]byte, events []usage.Event) {
	t.Helper()
	h := sha256.New()
	_, err := Generate(context.Background(), Config{Seed: seed, End: end, Scale: scale}, func(_ context.Context, batch []usage.Event) error {
		for i := range batch {
			fmt.Fprintf(h, "%+v\n", batch[i])
		}
		events = append(events, batch...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	copy(sum[:], h.Sum(nil))
	return sum, events
}

func TestDeterministicAndRealistic(t *testing.T) {
	end := time.Date(2026, 11, 20, 15, 30, 0, 0, time.UTC)
	_, events := generate(t, 42, end, 1)
	a, _ := generate(t, 42, end, 0.1)
	b, _ := generate(t, 42, end, 0.1)
	c, _ := generate(t, 43, end, 0.1)
	if a != b {
		t.Error("the same seed and end gave different data")
	}
	if a == c {
		t.Error("different seeds gave the same data")
	}
	if len(events) < 200_000 {
		t.Errorf("%d events, want at least 200,000", len(events))
	}
	kinds := map[usage.Kind]int{}
	gateways := map[int]bool{}
	clients := map[usage.ClientClass]bool{}
	ctypes := map[string]bool{}
	recent, failed, inactive := 0, 0, 0
	ids := map[string]bool{}
	for _, e := range events {
		if ids[e.ID] {
			t.Fatalf("id %s twice", e.ID)
		}
		ids[e.ID] = true
		kinds[e.Kind]++
		if e.Time.After(end) || e.Time.Before(end.AddDate(-1, 0, -1)) {
			t.Fatalf("%s at %s is outside the year", e.ID, e.Time)
		}
		if e.Kind == usage.KindAPIRequest {
			gateways[e.GatewayCode] = true
			clients[e.ClientClass] = true
			ctypes[e.CollectionType] = true
			if e.Time.After(end.AddDate(0, 0, -30)) {
				recent++
			}
		}
		if e.Outcome == "failed" {
			failed++
		}
		if e.IntegrationStatus == "inactive" {
			inactive++
		}
	}
	for _, k := range usage.Kinds {
		if kinds[k] == 0 {
			t.Errorf("no %s events", k)
		}
	}
	for _, gw := range []int{4011, 4012, 4013, 4031, 4041, 4042, 4131, 4291} {
		if !gateways[gw] {
			t.Errorf("gateway code %d never appears", gw)
		}
	}
	for _, c := range []usage.ClientClass{"Slack", "AI backend", "MCP server", "REST client"} {
		if !clients[c] {
			t.Errorf("client class %s never appears", c)
		}
	}
	if !ctypes["recipe"] || !ctypes["proxy"] {
		t.Error("both collection types should appear")
	}
	if share := float64(recent) / float64(kinds[usage.KindAPIRequest]); share < 0.5 {
		t.Errorf("only %.0f%% of API calls in the last 30 days", share*100)
	}
	if failed == 0 || inactive == 0 {
		t.Errorf("failed syncs %d, inactive integration events %d; want some of each", failed, inactive)
	}
}

// TestAPIShapeIsWhatGenerateDraws holds APIShape to the calls Generate
// makes: every client, collection, community, member and failure of a
// generated year is in the shape, and the shares of the clients and of
// the failures are the shape's weights, within a few points.
func TestAPIShapeIsWhatGenerateDraws(t *testing.T) {
	shape := APIShape()
	_, events := generate(t, 7, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), 0.3)
	weights, total := map[string]int{}, 0
	for _, c := range shape.Clients {
		weights[c.Name] = c.Weight
		total += c.Weight
	}
	collections := map[string]string{}
	for _, c := range shape.Collections {
		collections[c.Name] = c.Type
	}
	counts, calls, failed := map[string]int{}, 0, 0
	for _, e := range events {
		if e.Kind != usage.KindAPIRequest {
			continue
		}
		calls++
		counts[e.Client]++
		if _, ok := weights[e.Client]; !ok {
			t.Fatalf("client %q is not in the shape", e.Client)
		}
		if collections[e.Collection] != e.CollectionType || !slices.Contains(shape.Communities, e.Community) || !slices.Contains(shape.Members, e.MemberName) {
			t.Fatalf("call %+v: collection, community or member not in the shape", e)
		}
		if e.Status >= 400 {
			failed++
		}
	}
	for name, w := range weights {
		want, got := float64(w)/float64(total), float64(counts[name])/float64(calls)
		if got < want-0.02 || got > want+0.02 {
			t.Errorf("client %s: %.3f of the calls, the shape says %.3f", name, got, want)
		}
	}
	if got := float64(failed) / float64(calls); got < shape.FailureRate-0.01 || got > shape.FailureRate+0.01 {
		t.Errorf("%.3f of the calls failed, the shape says %.3f", got, shape.FailureRate)
	}
}
