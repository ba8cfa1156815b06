package gateway

import (
	"context"
	"fmt"
	"runtime"

	"github.com/usagelog/usagelog/capture"
	"github.com/usagelog/usagelog/internal/ingest"
	"github.com/usagelog/usagelog/internal/usage"
)

// Appender stores events (usage.EventStore's Append).
type Appender interface {
	Append(ctx context.Context, workspaceID int64, events []usage.Event) (usage.AppendResult, error)
}

// StoreSink delivers the recorder's batches into an event store, for a
// gateway that runs beside one (--data): each event is validated and
// normalised by ingest.Check, which gives what POST /api/v1/events and
// `usagelog ingest` give for the same event as NDJSON, and appended like
// any other. A batch holding an invalid event is refused for good
// (capture.ErrRejected) once its valid events are stored. policies, when
// set, classify and redact the events by the workspace's rules.
func StoreSink(events Appender, workspaceID int64, policies *ingest.Policies) capture.Sink {
	return &storeSink{events: events, ws: workspaceID, policies: policies}
}

type storeSink struct {
	events   Appender
	ws       int64
	policies *ingest.Policies
}

// yieldEvery is how many events the sink stores before it lets the
// service's own goroutines run: a batch of 1,000 handled in one go holds a
// processor for over 10 ms, which shows in the service's tail latency
// (BenchmarkGatewayLoad).
const yieldEvery = 100

func (s *storeSink) Send(ctx context.Context, events []capture.Event) error {
	batch := make([]usage.Event, 0, min(len(events), yieldEvery))
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.policies.Apply(ctx, s.ws, batch)
		if err == nil {
			_, err = s.events.Append(ctx, s.ws, batch)
		}
		batch = batch[:0]
		runtime.Gosched()
		return err
	}
	rejected := 0
	var first error
	var u usage.Event // one for the batch: Check keeps its argument on the heap
	for i := range events {
		u = stored(&events[i])
		e, err := ingest.Check(&u)
		if err != nil {
			if rejected++; first == nil {
				first = err
			}
			continue
		}
		if batch = append(batch, e); len(batch) == yieldEvery {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if rejected > 0 {
		return fmt.Errorf("%w: %d of %d events, first: %v", capture.ErrRejected, rejected, len(events), first)
	}
	return nil
}

// stored is a recorded call as usagelog stores it.
func stored(e *capture.Event) usage.Event {
	return usage.Event{
		Kind: usage.KindAPIRequest, ID: e.ID, Time: e.Time, Method: e.Method, URL: e.URL, Endpoint: e.Endpoint,
		Status: e.Status, GatewayCode: e.GatewayCode, StatusDetails: e.StatusDetails, Community: e.Community,
		Collection: e.Collection, CollectionType: e.CollectionType, Client: e.Client, IP: e.IP,
		UserAgent: e.UserAgent, TimingMS: e.TimingMS, DelayMS: e.DelayMS,
		MemberID: e.MemberID, MemberName: e.MemberName, JobURL: e.JobURL,
	}
}
