package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/usage"
)

// Appends that arrive while others are being stored wait, and are stored
// together: one duplicate check and one INSERT per kind for all of them.
// An insert is a part on disk and costs tens of milliseconds whatever its
// size, so that small batches from many senders (OTLP exporters send
// 512 to 1,000 spans at a time, from several at once) were stored at
// about 20,000 events/s one by one (BenchmarkOTLP).

// appendWorkers is how many groups are stored at once.
const appendWorkers = 1

// groupEvents bounds a group's events.
const groupEvents = 40_000

// appendTimeout bounds storing a group (its callers wait for it).
const appendTimeout = 2 * time.Minute

type appendWait struct {
	ws     int64
	events []usage.Event
	res    usage.AppendResult
	err    error
	done   chan struct{}
}

// appender hands Appends to the workers that store them in groups.
type appender struct {
	queue chan *appendWait
	stop  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
}

func (s *Store) startAppends() {
	s.appends = &appender{queue: make(chan *appendWait), stop: make(chan struct{})}
	for range appendWorkers {
		s.appends.wg.Go(s.appendLoop)
	}
}

func (a *appender) close() {
	a.once.Do(func() { close(a.stop) })
	a.wg.Wait()
}

var errClosed = errors.New("clickhouse: the store is closed")

// Append stores events that are not stored already (by id, in the
// workspace), with the Appends waiting beside it. Once its events are
// taken it waits for them to be stored, whatever ctx says: the caller
// may reuse them after.
func (s *Store) Append(ctx context.Context, workspaceID int64, events []usage.Event) (usage.AppendResult, error) {
	if len(events) == 0 {
		return usage.AppendResult{}, nil
	}
	w := &appendWait{ws: workspaceID, events: events, done: make(chan struct{})}
	select {
	case s.appends.queue <- w:
	case <-s.appends.stop:
		return usage.AppendResult{}, errClosed
	case <-ctx.Done():
		return usage.AppendResult{}, ctx.Err()
	}
	<-w.done
	return w.res, w.err
}

func (s *Store) appendLoop() {
	for {
		var group []*appendWait
		select {
		case w := <-s.appends.queue:
			group = append(group, w)
		case <-s.appends.stop:
			return
		}
		n := len(group[0].events)
	more:
		for n < groupEvents {
			select {
			case w := <-s.appends.queue:
				group = append(group, w)
				n += len(w.events)
			default:
				break more
			}
		}
		s.storeGroupSafely(group)
		for _, w := range group {
			close(w.done)
		}
	}
}

// storeGroupSafely is storeGroup, a panic in it an error of the group's
// Appends: the worker goes on, and no later Append waits for ever.
func (s *Store) storeGroupSafely(group []*appendWait) {
	defer func() {
		if p := recover(); p != nil {
			for _, w := range group {
				w.res, w.err = usage.AppendResult{}, fmt.Errorf("clickhouse: append: %v", p)
			}
		}
	}()
	s.storeGroup(group)
}

// owned is an event of a group and the Append it came with.
type owned struct {
	e *usage.Event
	w *appendWait
}

// storeGroup stores a group's events, a workspace at a time, and counts
// each Append's inserted events and duplicates (of stored events, or of
// an event earlier in the group).
func (s *Store) storeGroup(group []*appendWait) {
	ctx, cancel := context.WithTimeout(context.Background(), appendTimeout)
	defer cancel()
	var order []int64
	byWS := map[int64][]*appendWait{}
	for _, w := range group {
		if _, ok := byWS[w.ws]; !ok {
			order = append(order, w.ws)
		}
		byWS[w.ws] = append(byWS[w.ws], w)
	}
	for _, ws := range order {
		if err := s.storeWorkspace(ctx, ws, byWS[ws]); err != nil {
			err = s.unavailable(err)
			for _, w := range byWS[ws] {
				w.res, w.err = usage.AppendResult{}, fmt.Errorf("clickhouse: append: %w", err)
			}
		}
	}
}

func (s *Store) storeWorkspace(ctx context.Context, workspaceID int64, group []*appendWait) error {
	byKind := map[usage.Kind][]owned{}
	seen := map[string]bool{}
	for _, w := range group {
		for i := range w.events {
			e := &w.events[i]
			if seen[e.ID] {
				w.res.Duplicates++
				continue
			}
			seen[e.ID] = true
			byKind[e.Kind] = append(byKind[e.Kind], owned{e, w})
		}
	}
	for _, k := range usage.Kinds {
		evs := byKind[k]
		if len(evs) == 0 {
			continue
		}
		ptrs := make([]*usage.Event, len(evs))
		for i, o := range evs {
			ptrs[i] = o.e
		}
		existing, err := s.existing(ctx, workspaceID, k, ptrs)
		if err != nil {
			return err
		}
		fresh := ptrs[:0]
		var inserted []*appendWait
		for _, o := range evs {
			if existing[o.e.ID] {
				o.w.res.Duplicates++
				continue
			}
			fresh = append(fresh, o.e)
			inserted = append(inserted, o.w)
		}
		if len(fresh) == 0 {
			continue
		}
		cols := eventsql.KindColumns(k)
		stmt := "INSERT INTO " + s.insertTable(k) + " (workspace_id, kind, " + eventsql.Names(cols) + ")"
		// The rollup views run side by side rather than one after another
		// (BenchmarkIngestHTTPClickHouse).
		ictx := ch.Context(ctx, ch.WithSettings(ch.Settings{"parallel_view_processing": 1}))
		if err := s.insert(ictx, stmt, columnsOf(workspaceID, k, cols, fresh)); err != nil {
			return err
		}
		for _, w := range inserted {
			w.res.Inserted++
		}
	}
	return nil
}
